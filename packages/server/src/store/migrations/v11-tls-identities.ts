import type { Migration } from '../migrations.js';

/**
 * Identities of mutual-TLS client certificates (docs/operations.md, "Mutual
 * TLS"): `uri:…` or `dns:…`, each naming at most one principal (the primary
 * key), so a certificate never maps to two.
 */
export const v11TlsIdentities: Migration = {
  version: 11,
  description: 'TLS client identities of principals',
  async up(db) {
    await db.schema
      .createTable('principal_tls_identities')
      .addColumn('identity', 'text', (c) => c.primaryKey())
      .addColumn('principal_id', 'text', (c) => c.notNull().references('principals.id'))
      .execute();
    await db.schema.createIndex('principal_tls_identities_principal').on('principal_tls_identities').column('principal_id').execute();
  },
};
