import type { Migration } from '../migrations.js';

/**
 * Where a key's versions live (docs/keys.md, "Protection"): `software`
 * (material wrapped in the store, every key before this migration) or `hsm`
 * (non-extractable objects in the PKCS#11 token; `key_versions.material`
 * then holds the object's CKA_ID). Fixed at creation.
 */
export const v12KeyProtection: Migration = {
  version: 12,
  description: 'protection of keys: software or hsm',
  async up(db) {
    await db.schema
      .alterTable('keys')
      .addColumn('protection', 'text', (c) => c.notNull().defaultTo('software'))
      .execute();
  },
};
