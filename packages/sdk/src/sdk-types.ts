/**
 * Shapes the SDK adds on top of `@keyward/wire`: binary values as Uint8Array
 * instead of base64 strings, per-call options, and list pages the wire
 * package does not name yet.
 */
import type { BatchItemError, EncryptionContext, GrantView, KeyListQuery, PrincipalView } from '@keyward/wire';

/** Paging of every list (API.md, "Conventions"). */
export interface PageQuery {
  /** 1–1000; the server defaults to 100. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** Filters of `listKeys` without paging, for the iterator over all pages. */
export type KeyFilter = Omit<KeyListQuery, 'limit' | 'cursor'> & { limit?: number };

/** One page of principals. */
export interface PrincipalList {
  principals: PrincipalView[];
  nextCursor: string | null;
}

/** One page of grants of a key. */
export interface GrantList {
  grants: GrantView[];
  nextCursor: string | null;
}

/** Options of `encrypt`, `decrypt` and `rewrap`. */
export interface ContextOptions {
  /** Encryption context bound as associated data; decrypt must repeat it. */
  context?: EncryptionContext;
}

/** One item of `encryptBatch`. */
export interface EncryptItem extends ContextOptions {
  plaintext: Uint8Array;
}

/** One item of `decryptBatch` and `rewrapBatch`. */
export interface CiphertextItem extends ContextOptions {
  ciphertext: string;
}

/** Answer of `encrypt` and `rewrap`. */
export interface EncryptResult {
  ciphertext: string;
  keyVersion: number;
}

/** Answer of `decrypt`. */
export interface DecryptResult {
  plaintext: Uint8Array;
  keyVersion: number;
}

/** Options of `dataKey`. */
export interface DataKeyOptions extends ContextOptions {
  /** Length of the data key; the server's default is 32. */
  bytes?: number;
  /** False to receive only the wrapped key; true by default on the server. */
  includePlaintext?: boolean;
}

/** Answer of `dataKey`; `plaintext` is absent when it was not asked for. */
export interface DataKeyResult {
  plaintext?: Uint8Array;
  ciphertext: string;
  keyVersion: number;
}

/** What is signed: the message itself or its digest. */
export type SignInput = { message: Uint8Array; digest?: never } | { digest: Uint8Array; message?: never };

/** Answer of `sign`. */
export interface SignResult {
  signature: Uint8Array;
  keyVersion: number;
}

/** Input of `verify`: the signed message or digest, the signature, optionally the version. */
export type VerifyInput = SignInput & { signature: Uint8Array; keyVersion?: number };

/** Answer of `mac`. */
export interface MacResult {
  mac: Uint8Array;
  keyVersion: number;
}

/** One answer of a batch: the result, or the error of that item alone. */
export type BatchResult<T> = T | BatchItemError;

/** Options of `rotateKey` and `compromiseVersion`. */
export interface ReasonOptions {
  reason?: string;
}

/** Options of `scheduleDeletion`. */
export interface ScheduleDeletionOptions {
  /** 7–30 days, never below the class minimum; the key's window by default. */
  days?: number;
}

/** Options of `usage`. */
export interface UsageOptions {
  /** Count only operations at or after this time (RFC 3339, or a Date). */
  since?: string | Date;
}
