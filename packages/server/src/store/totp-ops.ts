import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { StoreConflictError } from './store.js';
import type { TotpRecord } from './totp-records.js';

/** The TOTP table's SQL (identical for both dialects); KyselyStore delegates to these. */

const toBytes = (value: Uint8Array): Buffer => Buffer.from(value.buffer, value.byteOffset, value.byteLength);

export async function getTotp(db: Kysely<Database>, principalId: string): Promise<TotpRecord | null> {
  const r = await db.selectFrom('principal_totp').selectAll().where('principal_id', '=', principalId).executeTakeFirst();
  if (r === undefined) return null;
  return {
    principalId: r.principal_id,
    secret: new Uint8Array(r.secret),
    createdAt: r.created_at,
    confirmedAt: r.confirmed_at,
    lastStep: r.last_step === null ? null : Number(r.last_step),
  };
}

export async function insertTotp(db: Kysely<Database>, t: TotpRecord, isUniqueViolation: (e: unknown) => boolean): Promise<void> {
  try {
    await db
      .insertInto('principal_totp')
      .values({
        principal_id: t.principalId,
        secret: toBytes(t.secret),
        created_at: t.createdAt,
        confirmed_at: t.confirmedAt,
        last_step: t.lastStep,
      })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new StoreConflictError(`principal '${t.principalId}' already has a TOTP authenticator`);
    throw error;
  }
}

export async function deleteTotp(db: Kysely<Database>, principalId: string): Promise<boolean> {
  const result = await db.deleteFrom('principal_totp').where('principal_id', '=', principalId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function confirmTotp(db: Kysely<Database>, principalId: string, at: string, step: number): Promise<boolean> {
  const result = await db
    .updateTable('principal_totp')
    .set({ confirmed_at: at, last_step: step })
    .where('principal_id', '=', principalId)
    .where('confirmed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function useTotpStep(db: Kysely<Database>, principalId: string, step: number): Promise<boolean> {
  // One conditional UPDATE: two nodes accepting the same code race on the row, and only one moves it.
  const result = await db
    .updateTable('principal_totp')
    .set({ last_step: step })
    .where('principal_id', '=', principalId)
    .where('confirmed_at', 'is not', null)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
