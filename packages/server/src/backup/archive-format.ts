/**
 * The backup archive (docs/formats.md §9): JSON lines, age-encrypted as a
 * whole. Line 1 is the {@link ArchiveHeader}, then one {@link ArchiveRow}
 * per copied row, table by table (since version 2 each `key_versions` row
 * with material is followed by its {@link ArchiveKnownAnswer}), and last the
 * {@link ArchiveEnd} trailer with the SHA-256 of every byte before it.
 */
import { unwrapKey, wrapKey } from '@keyward/crypto';
import type { AuditChainHead } from '@keyward/wire';
import type { TableName, TableRow } from '../store/table-copy.js';

export const ARCHIVE_FORMAT = 'keyward-backup';
/** The version this Keyward writes. */
export const ARCHIVE_VERSION = 2;
/** The versions this Keyward reads: 1 has no known-answer lines and no recorded audit heads. */
export const READABLE_ARCHIVE_VERSIONS: readonly number[] = [1, 2];
/** The backup key: AES-256-GCM, fresh for every archive. */
export const BACKUP_KEY_BYTES = 32;

export interface ArchiveHeader {
  type: 'header';
  format: typeof ARCHIVE_FORMAT;
  version: number;
  /** The store's schema version (migrations.ts) when the archive was written. */
  schemaVersion: number;
  createdAt: string;
  source: { node: string; dialect: 'sqlite' | 'postgres'; keyward: string };
  /** Standard base64 of the backup key that every root-wrapped value in the archive is wrapped under. */
  backupKey: string;
  /** Rows that follow, per table, in the order they follow. */
  tables: Array<{ name: TableName; rows: number }>;
  /** Version 2: every audit chain's head in the snapshot; `keyward backup verify` checks the restored chains end exactly there. */
  auditHeads?: AuditChainHead[];
}

/**
 * Version 2: the known-answer value of one key version's material, computed
 * at backup time from the material unwrapped under its KEK, on the line right
 * after that version's `key_versions` row. The value is
 * `fingerprint(algorithm, material)` of @keyward/crypto: for symmetric keys
 * `hmac-sha256:` + the first 16 bytes of HMAC-SHA256 keyed by the material
 * over a fixed label, for asymmetric keys `sha256:` + the SHA-256 of the
 * public key's SPKI. Both are one-way: they prove the material without
 * revealing it.
 */
export interface ArchiveKnownAnswer {
  type: 'known-answer';
  /** The key's id (`key_versions.key_id`). */
  key: string;
  version: number;
  value: string;
}

export interface ArchiveRow {
  type: 'row';
  table: TableName;
  row: Record<string, ArchiveValue>;
}

export interface ArchiveEnd {
  type: 'end';
  /** Rows in the archive. */
  rows: number;
  /** Version 2: known-answer lines in the archive. */
  knownAnswers?: number;
  /** Lowercase hex SHA-256 of every byte of the archive before this line. */
  sha256: string;
}

/** A column value: JSON scalars as they are; bytes and backup-wrapped values as tagged base64. */
export type ArchiveValue = string | number | null | { bytes: string } | { wrapped: string };

/** The AAD of a value wrapped under the backup key: it binds the table and the value's own (root-wrap) AAD. */
export function backupAad(table: TableName, aad: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`keyward/backup/v1\0${table}\0`);
  const out = new Uint8Array(prefix.length + aad.length);
  out.set(prefix, 0);
  out.set(aad, prefix.length);
  return out;
}

/** Wraps a secret under the backup key (AES-256-GCM, `nonce ‖ ciphertext ‖ tag`). */
export function wrapForBackup(backupKey: Uint8Array, table: TableName, aad: Uint8Array, secret: Uint8Array): string {
  return Buffer.from(wrapKey(backupKey, secret, backupAad(table, aad))).toString('base64');
}

/** Inverse of {@link wrapForBackup}; throws `CryptoError('decrypt_failed')` on any mismatch. */
export function unwrapFromBackup(backupKey: Uint8Array, table: TableName, aad: Uint8Array, wrapped: string): Uint8Array {
  return unwrapKey(backupKey, Buffer.from(wrapped, 'base64'), backupAad(table, aad));
}

/** A driver value as an archive value. */
export function encodeValue(value: unknown): ArchiveValue {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  throw new Error(`a column value of type ${typeof value} cannot be archived`);
}

/** An archive value (other than `wrapped`) as a driver value. */
export function decodeValue(value: ArchiveValue): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  if ('bytes' in value && typeof value.bytes === 'string') return Buffer.from(value.bytes, 'base64');
  throw new Error('an archive value has an unknown form');
}

/** Encodes one row for the archive (root-wrapped values are the caller's concern). */
export function encodeRow(row: TableRow): Record<string, ArchiveValue> {
  const out: Record<string, ArchiveValue> = {};
  for (const [column, value] of Object.entries(row)) out[column] = encodeValue(value);
  return out;
}
