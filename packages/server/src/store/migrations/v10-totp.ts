import { sql } from 'kysely';
import type { Migration } from '../migrations.js';

/** TOTP authenticators of local users (docs/governance.md, "People: OIDC and second factors"); secrets wrapped under the root key. */
export const v10Totp: Migration = {
  version: 10,
  description: 'TOTP authenticators of principals',
  async up(db, dialect) {
    await db.schema
      .createTable('principal_totp')
      .addColumn('principal_id', 'text', (c) => c.primaryKey().references('principals.id'))
      .addColumn('secret', sql.raw(dialect === 'postgres' ? 'bytea' : 'blob'), (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('confirmed_at', 'text')
      .addColumn('last_step', 'bigint')
      .execute();
  },
};
