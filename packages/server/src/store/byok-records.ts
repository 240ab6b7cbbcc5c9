import type { ImportWrappingAlgorithm } from '@keyward/wire';

/** An RSA-4096 key pair that wraps imported material for one namespace (docs/transit.md, "BYOK import"). */
export interface WrappingKeyRecord {
  id: string;
  namespace: string;
  /** PEM SubjectPublicKeyInfo. */
  publicKey: string;
  /** PKCS#8 DER wrapped under the namespace KEK `kekVersion` (keys/material-aad.ts, wrappingKeyAad). */
  privateKey: Uint8Array;
  kekVersion: number;
  createdAt: string;
  /** From then on, new tokens get a new pair. */
  rotateAt: string;
  /** From then on, the pair unwraps nothing: its tokens are refused and it may be deleted. */
  expiresAt: string;
}

/** An import token, as stored: only its SHA-256 hash. */
export interface ImportTokenRecord {
  tokenHash: string;
  namespace: string;
  keyId: string;
  algorithm: ImportWrappingAlgorithm;
  wrappingKeyId: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

/** The store's BYOK tables (SQL in byok-ops.ts). */
export interface ByokStoreOps {
  /** The namespace's newest wrapping key pair that is not due to rotate at `now`, or null. */
  currentWrappingKey(namespace: string, now: string): Promise<WrappingKeyRecord | null>;
  getWrappingKey(id: string): Promise<WrappingKeyRecord | null>;
  insertWrappingKey(record: WrappingKeyRecord): Promise<void>;
  insertImportToken(record: ImportTokenRecord): Promise<void>;
  getImportToken(tokenHash: string): Promise<ImportTokenRecord | null>;
  /** Marks a token used unless it already was; false when another request used it first. */
  useImportToken(tokenHash: string, at: string): Promise<boolean>;
  /** Deletes wrapping key pairs and tokens expired before `now`; returns how many rows went. */
  pruneImportMaterial(now: string): Promise<number>;
}
