import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach } from 'vitest';
import type {
  AuditRecord,
  ChainedAuditRecord,
  GrantRecord,
  KeyRecord,
  PrincipalRecord,
  TokenRecord,
  VersionRecord,
} from '../../src/store/records.js';
import type { Store } from '../../src/store/store.js';
import { freshStore, type StoreKind, type TestStore } from '../support/stores.js';

/** A migrated store over a fresh database, plus the database handle for raw SQL and reopening. */
export interface OpenStore {
  store: Store;
  db: TestStore;
}

/** Opens a fresh store (migrated unless told otherwise); cleaned up after the test. */
export type OpenStores = (options?: { migrate?: boolean }) => Promise<OpenStore>;

/**
 * Returns a function opening fresh, migrated stores of `kind`; every store and
 * database it made is closed and dropped after each test.
 */
export function useStores(kind: StoreKind): OpenStores {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    const pending = cleanups.splice(0).reverse();
    for (const cleanup of pending) await cleanup();
  });
  return async ({ migrate = true } = {}) => {
    const db = await freshStore(kind);
    cleanups.push(() => db.destroy());
    const store = track(db.open());
    if (migrate) await store.migrate();
    return { store, db };
  };

  function track(store: Store): Store {
    let closed = false;
    const close = store.close.bind(store);
    // A test may close a store itself (persistence); closing twice would fail on the pool.
    store.close = async () => {
      if (closed) return;
      closed = true;
      await close();
    };
    cleanups.push(() => store.close());
    return store;
  }
}

/** Bytes as a plain array, so a mismatch shows which byte differs whatever the buffer class. */
export const bytes = (value: Uint8Array | null): number[] | null => (value === null ? null : Array.from(value));

/** Random bytes that always contain 0x00 and 0xff, the values a lossy text conversion would break. */
export function binary(length = 64): Uint8Array {
  const bytes = new Uint8Array(randomBytes(length));
  bytes[0] = 0x00;
  bytes[1] = 0xff;
  bytes[length - 1] = 0x00;
  return bytes;
}

export function keyRecord(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id: randomUUID(),
    namespace: 'payments',
    name: `key-${randomUUID()}`,
    algorithm: 'aes-256-gcm',
    usage: 'encrypt',
    state: 'enabled',
    owner: 'team-payments',
    class: 'standard',
    environment: 'prod',
    description: '',
    tags: {},
    rotationPeriod: null,
    maxUsesPerVersion: null,
    nextRotationAt: null,
    primaryVersion: 1,
    exportable: false,
    deletionWindowDays: 30,
    deletionDate: null,
    createdAt: '2026-06-01T00:00:00.000Z',
    updatedAt: '2026-06-01T00:00:00.000Z',
    minDecryptionVersion: 1,
    prepublishPeriod: null,
    originatorPeriod: null,
    nextCheckAt: null,
    lastReviewedAt: null,
    reviewDueAt: null,
    protection: 'software',
    ...overrides,
  };
}

export function versionRecord(keyId: string, version: number, overrides: Partial<VersionRecord> = {}): VersionRecord {
  return {
    keyId,
    version,
    state: 'active',
    createdAt: '2026-06-01T00:00:00.000Z',
    activatedAt: '2026-06-01T00:00:00.000Z',
    deactivatedAt: null,
    compromisedAt: null,
    destroyedAt: null,
    uses: 0,
    fingerprint: `sha256:${version}`,
    publicKey: null,
    material: binary(60),
    kekVersion: 1,
    reserved: 0,
    activateAt: null,
    trigger: version === 1 ? 'created' : 'manual',
    ...overrides,
  };
}

export function principalRecord(id: string, overrides: Partial<PrincipalRecord> = {}): PrincipalRecord {
  return {
    id,
    kind: 'user',
    roles: ['key-user'],
    environments: ['dev'],
    teams: [],
    createdAt: '2026-06-01T00:00:00.000Z',
    disabled: false,
    offboardedAt: null,
    ...overrides,
  };
}

export function tokenRecord(principalId: string, overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id: randomUUID(),
    principalId,
    tokenHash: randomBytes(32).toString('hex'),
    description: 'ci token',
    createdAt: '2026-06-01T00:00:00.000Z',
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

export function grantRecord(keyId: string, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    id: randomUUID(),
    keyId,
    principal: 'svc-billing',
    operations: ['encrypt', 'decrypt'],
    createdAt: '2026-06-01T00:00:00.000Z',
    createdBy: 'admin',
    ...overrides,
  };
}

let nextChainSeq = 0;

/**
 * A stored-form audit record. Each call takes the next position of the chain
 * `fixtures` (the store only stores chains; audit/ builds them), so records
 * stay unique however many a test writes.
 */
export function auditRecord(overrides: Partial<ChainedAuditRecord> = {}): ChainedAuditRecord {
  nextChainSeq += 1;
  return {
    chain: 'fixtures',
    chainSeq: nextChainSeq,
    prevHash: 'a'.repeat(64),
    hash: 'b'.repeat(64),
    time: '2026-06-01T00:00:00.000Z',
    actor: 'admin',
    action: 'key.create',
    namespace: 'payments',
    key: 'card-data',
    keyVersion: 1,
    outcome: 'success',
    errorCode: null,
    requestId: randomUUID(),
    source: '127.0.0.1',
    details: {},
    ...overrides,
  };
}

/** A record as a request hands it to the audit log (not yet chained), named by its action and request id. */
export function queuedAuditRecord(action: string): AuditRecord {
  return {
    time: new Date().toISOString(),
    actor: 'svc-test',
    action,
    namespace: null,
    key: null,
    keyVersion: null,
    outcome: 'success',
    errorCode: null,
    requestId: action,
    source: '127.0.0.1',
    details: {},
  };
}

/** The rejection of `promise`, failing the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the promise to reject');
    },
    (error: unknown) => error,
  );
}
