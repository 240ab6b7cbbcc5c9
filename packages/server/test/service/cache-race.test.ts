import { afterEach, describe, expect, it } from 'vitest';
import { Authenticator, hashToken, newToken } from '../../src/service/authenticator.js';
import { ManualClock } from '../../src/service/clock.js';
import { KeyDirectory } from '../../src/service/key-directory.js';
import type { Store } from '../../src/store/store.js';
import { keyRecord, principalRecord, tokenRecord, versionRecord } from '../store/store-fixtures.js';
import { freshStore, type TestStore } from '../support/stores.js';

/**
 * A read-through that read the old state while a change committed and its
 * eviction ran must not put the old state back in the cache: the next
 * request would be served the revoked token or the retired key forever.
 * The store below holds a read's answer until the test lets it go, so the
 * interleaving is forced, not hoped for.
 */
function holdingReads(store: Store, method: 'getKey' | 'getTokenByHash'): { store: Store; hold: () => () => void } {
  let gate: Promise<void> | null = null;
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== method || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        const answer = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (gate !== null) await gate;
        return answer;
      };
    },
  });
  return {
    store: wrapped,
    hold() {
      let release: () => void = () => {};
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        gate = null;
        release();
      };
    },
  };
}

describe('caches and concurrent changes', () => {
  let db: TestStore;
  let store: Store;
  afterEach(async () => {
    await store.close();
    await db.destroy();
  });

  it('a key read that raced a change is answered but not cached', async () => {
    db = await freshStore('sqlite');
    store = db.open();
    await store.migrate();
    const key = keyRecord({ name: 'racy' });
    await store.insertKey(key);
    await store.insertVersion(versionRecord(key.id, 1));
    const { store: slow, hold } = holdingReads(store, 'getKey');
    const directory = new KeyDirectory(slow);

    const release = hold();
    const inFlight = directory.load(key.namespace, key.name);
    await new Promise((r) => setImmediate(r));
    // The change commits and evicts while the read is in flight.
    await store.updateKey({ ...key, state: 'disabled' });
    directory.forget(key.namespace, key.name);
    release();
    expect((await inFlight).record.state).toBe('enabled'); // read before the change: fine for that request
    expect((await directory.load(key.namespace, key.name)).record.state).toBe('disabled');
  });

  it('a token lookup that raced its revocation is answered but not cached', async () => {
    db = await freshStore('sqlite');
    store = db.open();
    await store.migrate();
    const clock = new ManualClock('2026-06-01T00:00:00.000Z');
    const secret = newToken();
    const principal = principalRecord('svc-race');
    await store.insertPrincipal(principal);
    const token = tokenRecord(principal.id, { tokenHash: hashToken(secret) });
    await store.insertToken(token);
    const { store: slow, hold } = holdingReads(store, 'getTokenByHash');
    const authenticator = new Authenticator(slow, clock);

    const release = hold();
    const inFlight = authenticator.authenticate(secret);
    await new Promise((r) => setImmediate(r));
    await store.revokeToken(token.id, clock.now().toISOString());
    authenticator.forgetToken(token.id);
    release();
    expect((await inFlight).id).toBe('svc-race');
    await expect(authenticator.authenticate(secret)).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});
