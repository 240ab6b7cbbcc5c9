import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import { freshStore, POSTGRES_URL } from '../support/stores.js';

// SQLite is one process by design (docs/operations.md); PostgreSQL is where nodes start together.
describe.runIf(POSTGRES_URL !== null)('migrations on PostgreSQL', () => {
  const kind = 'postgres' as const;
  it('several nodes starting at once on a new database all migrate it, once', async () => {
    const test = await freshStore(kind);
    const stores = [test.open(), test.open(), test.open()];
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      for (const s of stores) expect(await s.getMeta('schema_version')).toBe(String(SCHEMA_VERSION));
    } finally {
      for (const s of stores) await s.close();
      await test.destroy();
    }
  });
});
