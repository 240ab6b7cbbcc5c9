import type { ImportWrappingAlgorithm } from '@keyward/wire';
import type { Kysely, Selectable } from 'kysely';
import type { ImportTokenRecord, WrappingKeyRecord } from './byok-records.js';
import type { Database, ImportTokenTable, ImportWrappingKeyTable } from './schema.js';

/** The BYOK tables' SQL (identical for both dialects); KyselyStore delegates to these. */

type Db = Kysely<Database>;

const toBytes = (value: Uint8Array): Buffer => Buffer.from(value.buffer, value.byteOffset, value.byteLength);

function wrappingKeyFromRow(row: Selectable<ImportWrappingKeyTable>): WrappingKeyRecord {
  return {
    id: row.id,
    namespace: row.namespace,
    publicKey: row.public_key,
    privateKey: new Uint8Array(row.private_key),
    kekVersion: row.kek_version,
    createdAt: row.created_at,
    rotateAt: row.rotate_at,
    expiresAt: row.expires_at,
  };
}

function tokenFromRow(row: Selectable<ImportTokenTable>): ImportTokenRecord {
  return {
    tokenHash: row.token_hash,
    namespace: row.namespace,
    keyId: row.key_id,
    algorithm: row.algorithm as ImportWrappingAlgorithm,
    wrappingKeyId: row.wrapping_key_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };
}

export async function currentWrappingKey(db: Db, namespace: string, now: string): Promise<WrappingKeyRecord | null> {
  const row = await db
    .selectFrom('import_wrapping_keys')
    .selectAll()
    .where('namespace', '=', namespace)
    .where('rotate_at', '>', now)
    .orderBy('rotate_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? null : wrappingKeyFromRow(row);
}

export async function getWrappingKey(db: Db, id: string): Promise<WrappingKeyRecord | null> {
  const row = await db.selectFrom('import_wrapping_keys').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : wrappingKeyFromRow(row);
}

export async function insertWrappingKey(db: Db, r: WrappingKeyRecord): Promise<void> {
  await db
    .insertInto('import_wrapping_keys')
    .values({
      id: r.id,
      namespace: r.namespace,
      public_key: r.publicKey,
      private_key: toBytes(r.privateKey),
      kek_version: r.kekVersion,
      created_at: r.createdAt,
      rotate_at: r.rotateAt,
      expires_at: r.expiresAt,
    })
    .execute();
}

export async function insertImportToken(db: Db, r: ImportTokenRecord): Promise<void> {
  await db
    .insertInto('import_tokens')
    .values({
      token_hash: r.tokenHash,
      namespace: r.namespace,
      key_id: r.keyId,
      algorithm: r.algorithm,
      wrapping_key_id: r.wrappingKeyId,
      created_at: r.createdAt,
      expires_at: r.expiresAt,
      used_at: r.usedAt,
    })
    .execute();
}

export async function getImportToken(db: Db, tokenHash: string): Promise<ImportTokenRecord | null> {
  const row = await db.selectFrom('import_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  return row === undefined ? null : tokenFromRow(row);
}

export async function useImportToken(db: Db, tokenHash: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('import_tokens')
    .set({ used_at: at })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function pruneImportMaterial(db: Db, now: string): Promise<number> {
  const tokens = await db.deleteFrom('import_tokens').where('expires_at', '<=', now).executeTakeFirst();
  const keys = await db.deleteFrom('import_wrapping_keys').where('expires_at', '<=', now).executeTakeFirst();
  return Number(tokens.numDeletedRows) + Number(keys.numDeletedRows);
}
