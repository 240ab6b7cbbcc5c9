import { randomBytes } from 'node:crypto';
import { KeywardError } from '@keyward/wire';
import type { AuditLog } from '../../audit/audit-log.js';
import { rootWrapped } from '../../backup/root-wrapped.js';
import type { Store, StoreOps } from '../../store/store.js';
import { COPIED_TABLES, type TableRow } from '../../store/table-copy.js';
import type { Seal, SealKind } from '../seal.js';
import { zero } from '../zero.js';

/** The meta row of a committed, not yet finished rekey (JSON {@link RekeyMarker}); the server refuses to start while it exists. */
export const REKEY_META = 'seal.rekey';
/** The meta row naming the PKCS#11 root key's label in use, so a start with another label is refused. */
export const PKCS11_LABEL_META = 'seal.pkcs11.key-label';
/** The Shamir seal's state row (bootstrap.ts keeps it there). */
const SHAMIR_META = 'seal.shamir';

/** Which root a rekey left or went to: the seal kind and, for PKCS#11, the key object's label. */
export interface RootName {
  kind: SealKind;
  label?: string;
}

/**
 * Written in the rewrap transaction: the rewrap is committed, and what is
 * left to do (put the new root in place, destroy the old one) is named here.
 * `check` is a blob wrapped under the new root, so a resumed rekey can tell
 * which key file holds the new root without trusting file names.
 */
export interface RekeyMarker {
  from: RootName;
  to: RootName;
  check: string;
  at: string;
}

/** The plaintext and AAD of {@link RekeyMarker.check}; the AAD keeps it from standing in for any other blob. */
export const CHECK_PLAINTEXT = new TextEncoder().encode('keyward rekey check v1');
export const CHECK_AAD = new TextEncoder().encode('keyward/seal/rekey-check/v1');

/** The new root: initialized and unsealed, not yet in place. */
export interface NewRoot {
  readonly seal: Seal;
  readonly name: RootName;
  /** Unseal shares (Shamir), shown once before the commit; null for other kinds. */
  readonly shares: string[] | null;
  /** Meta rows the new seal keeps in the database, written in the rewrap transaction. */
  metaRows(): Array<[string, string]>;
  /** Discards the new root when the rewrap did not commit. */
  abort(): Promise<void>;
}

/** The tables holding values wrapped directly under the root key (backup/root-wrapped.ts names the columns). */
const ROOT_WRAPPED_TABLES = COPIED_TABLES.filter((t) => ['keks', 'meta', 'webhooks', 'principal_totp'].includes(t.name));
const PAGE = 500;

export interface RewrapOptions {
  store: Store;
  from: { seal: Seal; name: RootName };
  to: NewRoot;
  audit: AuditLog;
  actor: string;
  now: Date;
  /** Test seam: runs inside the transaction after every write, before the commit. */
  beforeCommit?: () => Promise<void>;
}

/**
 * In ONE transaction: unwraps every KEK and every root-wrapped secret under
 * the old seal and wraps it under the new one, writes the new seal's meta
 * rows, the {@link REKEY_META} marker and the `seal.rekey` audit record.
 * Either all of it lands or none (then the new root is aborted). Returns
 * the number of values rewrapped.
 */
export async function rewrapUnderNewRoot(options: RewrapOptions): Promise<number> {
  const { store, from, to } = options;
  if ((await store.getMeta(REKEY_META)) !== null) throw new KeywardError('invalid_state', 'a rekey is already committed; finish it first');
  const check = Buffer.from(await to.seal.wrap(CHECK_PLAINTEXT, CHECK_AAD)).toString('base64');
  const marker: RekeyMarker = { from: from.name, to: to.name, check, at: options.now.toISOString() };
  let count = 0;
  try {
    await store.transaction(async (tx) => {
      count = await rewrapAll(tx, from.seal, to.seal);
      for (const [name, value] of to.metaRows()) await tx.setMeta(name, value);
      if (to.name.kind !== 'shamir') await tx.deleteMeta(SHAMIR_META);
      if (to.name.kind === 'pkcs11' && to.name.label !== undefined) await tx.setMeta(PKCS11_LABEL_META, to.name.label);
      else await tx.deleteMeta(PKCS11_LABEL_META);
      await tx.setMeta(REKEY_META, JSON.stringify(marker));
      await options.audit.recordIn(tx, {
        time: options.now.toISOString(),
        actor: options.actor,
        action: 'seal.rekey',
        namespace: null,
        key: null,
        keyVersion: null,
        outcome: 'success',
        errorCode: null,
        requestId: `rekey-${randomBytes(8).toString('hex')}`,
        source: 'keyward operator (offline)',
        details: {
          from: from.name.kind,
          to: to.name.kind,
          fromLabel: from.name.label ?? null,
          toLabel: to.name.label ?? null,
          rewrapped: count,
        },
      });
      await options.beforeCommit?.();
    });
  } catch (error) {
    await to.abort();
    throw error;
  }
  return count;
}

async function rewrapAll(tx: StoreOps, from: Seal, to: Seal): Promise<number> {
  const editor = tx.tableEditor();
  let count = 0;
  for (const table of ROOT_WRAPPED_TABLES) {
    let after: TableRow | null = null;
    for (;;) {
      const rows = await editor.page(table, after, PAGE);
      for (const row of rows) {
        const spec = rootWrapped(table.name, row);
        const stored = spec === null ? null : row[spec.column];
        if (spec === null || stored === null || stored === undefined) continue;
        const blob = spec.encoding === 'base64' ? Buffer.from(String(stored), 'base64') : (stored as Uint8Array);
        const plain = await from.unwrap(blob, spec.aad);
        let rewrapped: Uint8Array;
        try {
          rewrapped = await to.wrap(plain, spec.aad);
        } finally {
          zero(plain);
        }
        const value = spec.encoding === 'base64' ? Buffer.from(rewrapped).toString('base64') : Buffer.from(rewrapped);
        await editor.update(table, row, { [spec.column]: value });
        count += 1;
      }
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1] as TableRow;
    }
  }
  return count;
}

/** The committed, unfinished rekey, or null. Throws `internal` on an unreadable marker. */
export async function pendingRekey(store: Pick<Store, 'getMeta'>): Promise<RekeyMarker | null> {
  const raw = await store.getMeta(REKEY_META);
  if (raw === null) return null;
  try {
    const marker = JSON.parse(raw) as RekeyMarker;
    if (typeof marker.check !== 'string' || typeof marker.from?.kind !== 'string' || typeof marker.to?.kind !== 'string') throw new Error();
    return marker;
  } catch {
    throw new KeywardError('internal', `the meta row ${REKEY_META} is unreadable`);
  }
}
