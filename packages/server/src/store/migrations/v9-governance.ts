import type { Migration } from '../migrations.js';

/**
 * Governance (docs/governance.md): when each key was last reviewed and any
 * review an event asked for, when a principal was offboarded, and quorum
 * approvals.
 */
export const v9Governance: Migration = {
  version: 9,
  description: 'key reviews, offboarded principals, quorum approvals',
  async up(db) {
    await db.schema.alterTable('keys').addColumn('last_reviewed_at', 'text').execute();
    await db.schema.alterTable('keys').addColumn('review_due_at', 'text').execute();
    await db.schema.alterTable('principals').addColumn('offboarded_at', 'text').execute();
    await db.schema
      .createTable('approvals')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('key_name', 'text', (c) => c.notNull())
      .addColumn('requester', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('approvals_state').on('approvals').columns(['state', 'created_at', 'id']).execute();
    await db.schema.createIndex('approvals_key').on('approvals').columns(['namespace', 'key_name', 'created_at']).execute();
  },
};
