import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { StoreConflictError } from './store.js';
import type { TlsIdentityRow } from './tls-identity-records.js';

/** The TLS identity table's SQL (identical for both dialects); KyselyStore delegates to these. */

export async function listTlsIdentities(db: Kysely<Database>, principalIds: readonly string[]): Promise<Map<string, string[]>> {
  const identities = new Map<string, string[]>();
  if (principalIds.length === 0) return identities;
  const rows = await db
    .selectFrom('principal_tls_identities')
    .selectAll()
    .where('principal_id', 'in', [...principalIds])
    .orderBy('identity')
    .execute();
  for (const row of rows) {
    const list = identities.get(row.principal_id);
    if (list === undefined) identities.set(row.principal_id, [row.identity]);
    else list.push(row.identity);
  }
  return identities;
}

export async function setTlsIdentities(
  db: Kysely<Database>,
  principalId: string,
  identities: readonly string[],
  isUniqueViolation: (e: unknown) => boolean,
): Promise<void> {
  const wanted = [...new Set(identities)];
  if (wanted.length > 0) {
    // Named here for a precise message; the primary key still refuses a concurrent writer (below).
    const taken = await findTlsIdentities(db, wanted);
    const other = taken.find((row) => row.principalId !== principalId);
    if (other !== undefined) throw new StoreConflictError(`TLS identity '${other.identity}' belongs to principal '${other.principalId}'`);
  }
  await db.deleteFrom('principal_tls_identities').where('principal_id', '=', principalId).execute();
  if (wanted.length === 0) return;
  try {
    await db
      .insertInto('principal_tls_identities')
      .values(wanted.map((identity) => ({ identity, principal_id: principalId })))
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new StoreConflictError('a TLS identity was just registered to another principal');
    throw error;
  }
}

export async function findTlsIdentities(db: Kysely<Database>, identities: readonly string[]): Promise<TlsIdentityRow[]> {
  if (identities.length === 0) return [];
  const rows = await db
    .selectFrom('principal_tls_identities')
    .selectAll()
    .where('identity', 'in', [...identities])
    .orderBy('identity')
    .execute();
  return rows.map((row) => ({ identity: row.identity, principalId: row.principal_id }));
}
