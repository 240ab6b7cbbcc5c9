import { sql } from 'kysely';
import type { Migration } from '../migrations.js';

/**
 * BYOK import (docs/transit.md, "BYOK import"): the RSA-4096 wrapping key
 * pairs of each namespace (the private half wrapped under the namespace KEK,
 * bound to its id) and the import tokens issued for them, stored only as
 * SHA-256 hashes and used once.
 */
export const v13Byok: Migration = {
  version: 13,
  description: 'BYOK import wrapping key pairs and import tokens',
  async up(db, dialect) {
    const binary = dialect === 'postgres' ? 'bytea' : 'blob';
    await db.schema
      .createTable('import_wrapping_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('private_key', sql.raw(binary), (c) => c.notNull())
      .addColumn('kek_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('rotate_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('import_wrapping_keys_namespace').on('import_wrapping_keys').columns(['namespace', 'rotate_at']).execute();
    await db.schema
      .createTable('import_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('wrapping_key_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .execute();
    await db.schema.createIndex('import_tokens_expiry').on('import_tokens').column('expires_at').execute();
  },
};
