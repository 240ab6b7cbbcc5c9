import type { Store } from '../store/store.js';
import type { CopiedTable, TableRow, TableWriter } from '../store/table-copy.js';
import { COPIED_TABLES } from '../store/table-copy.js';
import type { ArchiveHeader } from './archive-format.js';
import { ArchiveError, readArchive } from './archive-reader.js';
import type { RestoreSeal } from './restore-seal.js';

/** Rows inserted per statement. */
const BATCH_ROWS = 200;

export interface RestoreOptions {
  archive: string;
  identities: readonly string[];
  /** Opens the target (not yet migrated), only once the archive verified: a bad archive leaves no trace. */
  openTarget: () => Promise<{ store: Store; hasFiles: boolean }>;
  /** Creates the target's new seal; called only after the archive verified and the target was found empty (or `force`). */
  newSeal: () => Promise<RestoreSeal>;
  /** Replace whatever the target holds. */
  force: boolean;
}

export interface RestoreReport {
  header: ArchiveHeader;
  rows: number;
  shares: string[] | null;
}

/** The restore refused its target (not empty, newer schema). */
export class RestoreTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreTargetError';
  }
}

/**
 * Restores an archive (docs/operations.md "Restore"): verifies the whole
 * archive first (a first full pass, writing nothing), migrates the target
 * to the archive's schema, refuses a non-empty target unless `force`, makes
 * the new seal, then in one transaction reads the archive again (checking
 * it again) and writes every row, wrapping each KEK and root-wrapped secret
 * under the new seal. Only then is the target migrated to this Keyward's
 * schema and the new seal made permanent.
 */
export async function restoreArchive(options: RestoreOptions): Promise<RestoreReport> {
  const verified = await readArchive(
    options.archive,
    options.identities,
    async () => {},
    async () => {},
  );
  const { store, hasFiles } = await options.openTarget();
  try {
    return await restoreInto(store, hasFiles, verified, options);
  } finally {
    await store.close();
  }
}

async function restoreInto(
  store: Store,
  hasFiles: boolean,
  verified: Awaited<ReturnType<typeof readArchive>>,
  options: RestoreOptions,
): Promise<RestoreReport> {
  const { header } = verified;
  await store.migrate(header.schemaVersion);
  const targetSchema = await store.schemaVersion();
  if (targetSchema > header.schemaVersion) {
    throw new RestoreTargetError(
      `the target database is at schema version ${targetSchema}, newer than the archive's ${header.schemaVersion}; restore into an empty database`,
    );
  }
  const counts = await store.countRows();
  const held = [...counts].filter(([table, n]) => (table === 'meta' ? n > 1 : n > 0)).map(([table]) => table);
  if ((held.length > 0 || hasFiles) && !options.force) {
    const what = held.length > 0 ? `rows in ${held.join(', ')}` : 'a root key';
    throw new RestoreTargetError(`the target is not empty (${what}); restore into an empty target, or pass --force to replace it`);
  }
  const target = await options.newSeal();
  let rows = 0;
  try {
    await store.loadTables(options.force, async (writer) => {
      const batch = new Batch(writer);
      const again = await readArchive(
        options.archive,
        options.identities,
        async () => {},
        async ({ table, row, wrapped }) => {
          const out: TableRow = { ...row };
          if (wrapped !== null) {
            const blob = await target.seal.wrap(wrapped.secret, wrapped.spec.aad);
            out[wrapped.spec.column] = wrapped.spec.encoding === 'base64' ? Buffer.from(blob).toString('base64') : Buffer.from(blob);
          }
          await batch.add(table, out);
          rows += 1;
        },
      );
      if (again.end.sha256 !== verified.end.sha256) throw new ArchiveError('the archive changed between its verification and the restore');
      const meta = COPIED_TABLES.find((t) => t.name === 'meta') as CopiedTable;
      for (const row of target.metaRows()) await batch.add(meta, row);
      await batch.flush();
    });
  } catch (error) {
    await target.abort();
    throw error;
  }
  await store.migrate();
  await target.commit();
  return { header, rows, shares: target.shares };
}

/** Rows of one table at a time, inserted a batch per statement. */
class Batch {
  readonly #writer: TableWriter;
  #table: CopiedTable | null = null;
  #rows: TableRow[] = [];

  constructor(writer: TableWriter) {
    this.#writer = writer;
  }

  async add(table: CopiedTable, row: TableRow): Promise<void> {
    if (this.#table !== table || this.#rows.length >= BATCH_ROWS) await this.flush();
    this.#table = table;
    this.#rows.push(row);
  }

  async flush(): Promise<void> {
    if (this.#table !== null && this.#rows.length > 0) await this.#writer.insert(this.#table, this.#rows);
    this.#rows = [];
  }
}
