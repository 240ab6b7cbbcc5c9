import { randomUUID } from 'node:crypto';
import type { Handle } from 'pkcs11js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TokenKeys } from '../../src/seal/token-keys.js';
import type { Store, StoreOps } from '../../src/store/store.js';
import { b64, Harness, type Response } from '../support/harness.js';
import { inProcessSoftHsm, openTokenSession } from '../support/softhsm.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

const TOKEN = 'keyward-hsmtx';
const PIN = `pin-${randomUUID()}`;
// The token exists before the seal initializes the library in this process.
const hsm = inProcessSoftHsm([{ label: TOKEN, pin: PIN }]);

/**
 * The longest a generated pair is held back while the test's `during` runs.
 * Passing never depends on it: with the generation outside every
 * transaction, `during` finishes first and the pair is handed back then. It
 * only turns code that holds a transaction around the generation (which
 * deadlocks with a `during` that writes) into a failure instead of a hang.
 */
const HAND_BACK_ANYWAY_MS = 15_000;

/** Labels of the RSA pairs the seal was asked to generate, in order. */
const generations: string[] = [];
/** Generations handed back before their `during` had finished: something held the store meanwhile. */
const stalls: string[] = [];
/** What the test does while the token generates a pair; the pair is handed back only once it is done. */
let during: ((label: string) => Promise<unknown>) | null = null;
/**
 * While set, a generation rejects once the pair exists in the token, as the
 * seal's does when the public key it reads back is not of the size asked.
 */
let failAfterGenerating = false;
/** While set, appending events inside a transaction fails (a database failing mid-transaction). */
let failEvents = false;
/** While set, a transaction that committed rejects all the same (the connection lost right after COMMIT). */
let loseCommits = false;

/** The seal's token keys, with RSA generation watched and held back while `during` runs. */
function watched(keys: TokenKeys): TokenKeys {
  return {
    ...keys,
    generateRsaKeyPair: async (id, label, bits) => {
      generations.push(label);
      const generated = keys.generateRsaKeyPair(id, label, bits);
      generated.catch(() => {});
      if (during !== null && !(await settlesWithin(during(label), HAND_BACK_ANYWAY_MS))) stalls.push(label);
      if (failAfterGenerating) {
        await generated;
        throw new Error(`the token returned an RSA public key that is not ${bits} bits`);
      }
      return generated;
    },
  };
}

async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The store, failing as {@link failEvents} and {@link loseCommits} say. */
function failingStore(store: Store): Store {
  const bound = <T extends object>(target: T, prop: string | symbol) => {
    const value = Reflect.get(target, prop);
    return typeof value === 'function' ? value.bind(target) : value;
  };
  const failing = (tx: StoreOps): StoreOps =>
    new Proxy(tx, {
      get: (target, prop) =>
        prop === 'appendEvents' && failEvents ? async () => Promise.reject(new Error('disk I/O error')) : bound(target, prop),
    });
  return new Proxy(store, {
    get: (target, prop) =>
      prop === 'transaction'
        ? async <T>(fn: (tx: StoreOps) => Promise<T>) => {
            const result = await target.transaction((tx) => fn(failing(tx)));
            if (loseCommits) throw new Error('connection lost');
            return result;
          }
        : bound(target, prop),
  });
}

/** A session of the test's own on the token, to count and look at its objects (the seal's login is per process). */
function inspect() {
  const t = openTokenSession(hsm.library, TOKEN, PIN);
  const { ck, module, session, objects } = t;
  return {
    /** Every object in the token: root keys and key versions. */
    count: () => objects([]).length,
    find: (label: string) => objects([{ type: ck.CKA_LABEL, value: label }]),
    idOf: (handle: Handle) => module.C_GetAttributeValue(session, handle, [{ type: ck.CKA_ID }])[0]?.value,
    close: t.close,
  };
}

const label = (key: Json, version: number) => `keyward:${key.id}:v${version}`;

/**
 * Creating and rotating hsm RSA keys, whose pairs take the token seconds to
 * generate: the pair is generated before the store transaction that records
 * the version, so the database is not held meanwhile (on SQLite every other
 * write would wait), and a pair whose version is then not recorded — the
 * request refused, the transaction failed, the number taken by a concurrent
 * rotation — is destroyed.
 */
describe.each(STORE_KINDS)('hsm RSA generation outside the store transaction (pkcs11 seal, SoftHSM2, %s)', (store) => {
  let h: Harness;
  let token: ReturnType<typeof inspect>;

  beforeAll(async () => {
    h = await Harness.start({
      store,
      seal: 'pkcs11',
      pkcs11: { options: { library: hsm.library, token: TOKEN, keyLabel: `keyward-root-${store}`, pinFile: null }, pin: PIN },
      wrapTokenKeys: watched,
      wrapStore: failingStore,
    });
    token = inspect();
    await h.createKey('soft', 'aes-256-gcm');
  });

  afterEach(() => {
    during = null;
    failEvents = false;
    loseCommits = false;
    failAfterGenerating = false;
    generations.length = 0;
    stalls.length = 0;
  });

  afterAll(async () => {
    token.close();
    await h.close();
  });

  /**
   * Runs `operation`, which generates one RSA pair in the token, and while
   * the token generates it, an encrypt with the software key: a request that
   * writes (its audit record). Returns what finished, in order.
   */
  async function writeWhileGenerating(operation: () => Promise<void>): Promise<string[]> {
    const order: string[] = [];
    let wrote: Promise<unknown> = Promise.resolve();
    during = () => {
      during = null;
      wrote = h.call('POST', '/v1/keys/soft/encrypt', { plaintext: b64('meanwhile') }).then((r) => order.push(`encrypt ${r.status}`));
      return wrote;
    };
    await operation();
    order.push('operation');
    await wrote;
    return order;
  }

  /** Each stored version of the key has its two objects in the token, under its label, with the stored CKA_ID. */
  async function expectObjectsOf(key: Json, versions: number[]): Promise<void> {
    const stored = await h.store.getVersions(key.id);
    expect(stored.map((v) => v.version)).toEqual(versions);
    for (const version of stored) {
      const objects = token.find(label(key, version.version));
      expect(objects, `objects of version ${version.version}`).toHaveLength(2);
      for (const object of objects) expect(token.idOf(object)).toEqual(Buffer.from(version.material ?? []));
    }
  }

  it('creating a key: a request that writes completes while the token generates its pair', async () => {
    let created: Response | undefined;
    const order = await writeWhileGenerating(async () => {
      created = await h.call('POST', '/v1/keys', { name: 'rsa-new', algorithm: 'rsa-pss-3072', owner: 'team-test', protection: 'hsm' });
    });
    expect(stalls, 'the pair was handed back before the encrypt finished').toEqual([]);
    expect(order).toEqual(['encrypt 200', 'operation']);
    expect(created?.status, JSON.stringify(created?.body)).toBe(201);
    const key = created?.body ?? {};
    expect(generations).toEqual([label(key, 1)]);
    await expectObjectsOf(key, [1]);
  });

  const paths: Array<{
    path: string;
    trigger: string;
    options?: Json;
    before?: (name: string) => Promise<void>;
    run: (name: string) => Promise<void>;
  }> = [
    {
      path: 'POST /v1/keys/{name}/rotate',
      trigger: 'manual',
      run: async (name) => {
        const r = await h.call('POST', `/v1/keys/${name}/rotate`, { reason: 'test' });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      },
    },
    {
      path: 'compromising the primary version',
      trigger: 'event',
      run: async (name) => {
        const r = await h.call('POST', `/v1/keys/${name}/versions/1/compromise`, { reason: 'test' });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      },
    },
    {
      path: 'the incident playbook',
      trigger: 'event',
      run: async (name) => {
        const r = await h.call('POST', '/v1/incidents', { type: 'key_compromise', key: name, reason: 'test' });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        expect(r.body.rotatedTo).toBe(2);
      },
    },
    {
      path: 'the scheduler (rotation by time)',
      trigger: 'time',
      options: { rotationPeriod: '1h' },
      before: async () => h.clock.advance(2 * 3_600_000),
      run: async () => {
        expect(await h.keyward.scheduler.runOnce()).toMatchObject({ failures: 0, steps: { 'key.rotate': 1 } });
      },
    },
    {
      path: 'a version reaching its use limit',
      trigger: 'use',
      options: { maxUsesPerVersion: 1 },
      before: async (name) => {
        expect((await h.call('POST', `/v1/keys/${name}/sign`, { message: b64('first') })).body.keyVersion).toBe(1);
      },
      run: async (name) => {
        const r = await h.call('POST', `/v1/keys/${name}/sign`, { message: b64('second') });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.keyVersion).toBe(2);
      },
    },
  ];

  it.each(paths)('rotating by $path: a request that writes completes while the token generates the pair', async (p) => {
    const name = `rsa-${p.trigger}-${randomUUID().slice(0, 8)}`;
    const key = await h.createKey(name, 'rsa-pss-3072', { protection: 'hsm', ...p.options });
    await p.before?.(name);
    generations.length = 0;
    const order = await writeWhileGenerating(() => p.run(name));
    expect(stalls, 'the pair was handed back before the encrypt finished').toEqual([]);
    expect(order).toEqual(['encrypt 200', 'operation']);
    expect(generations).toEqual([label(key, 2)]);
    const versions = (await h.call('GET', `/v1/keys/${name}`)).body.versions as Json[];
    expect(versions.map((v) => [v.version, v.trigger])).toEqual([
      [1, 'created'],
      [2, p.trigger],
    ]);
    await expectObjectsOf(key, [1, 2]);
  });

  it('bad input is refused before anything is generated', async () => {
    const key = await h.createKey('rsa-checked', 'rsa-pss-3072', { protection: 'hsm' });
    generations.length = 0;
    const past = await h.call('POST', '/v1/keys/rsa-checked/rotate', { activationDate: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body.error).toMatchObject({ code: 'invalid_request', message: 'activationDate: must be in the future' });
    const taken = await h.call('POST', '/v1/keys', {
      name: 'rsa-checked',
      algorithm: 'rsa-pss-3072',
      owner: 'team-test',
      protection: 'hsm',
    });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('conflict');
    const badPeriod = await h.call('POST', '/v1/keys', {
      name: 'rsa-bad',
      algorithm: 'rsa-pss-4096',
      owner: 'team-test',
      protection: 'hsm',
      rotationPeriod: 'soon',
    });
    expect(badPeriod.status).toBe(400);
    expect((await h.call('POST', '/v1/keys/rsa-checked/schedule-deletion', {})).status).toBe(200);
    const doomed = await h.call('POST', '/v1/keys/rsa-checked/rotate', {});
    expect(doomed.status).toBe(409);
    expect(doomed.body.error.code).toBe('invalid_state');
    const compromised = await h.call('POST', '/v1/keys/rsa-checked/versions/1/compromise', { reason: 'test' });
    expect(compromised.status, JSON.stringify(compromised.body)).toBe(200);
    expect(generations).toEqual([]);
    await expectObjectsOf(key, [1]);
  });

  it('a rotation refused after its pair was generated (the key was scheduled for deletion meanwhile) leaves nothing in the token', async () => {
    const key = await h.createKey('rsa-doomed', 'rsa-pss-3072', { protection: 'hsm' });
    const before = token.count();
    generations.length = 0;
    let scheduled: Response | undefined;
    during = async () => {
      scheduled = await h.call('POST', '/v1/keys/rsa-doomed/schedule-deletion', {});
    };
    const r = await h.call('POST', '/v1/keys/rsa-doomed/rotate', {});
    expect(stalls).toEqual([]);
    expect(scheduled?.status).toBe(200);
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'invalid_state', message: "key 'rsa-doomed' is pending_deletion and cannot rotate" });
    expect(generations).toEqual([label(key, 2)]);
    expect(token.find(label(key, 2))).toEqual([]);
    expect(token.count()).toBe(before);
    await expectObjectsOf(key, [1]);
  });

  it('a create refused after its pair was generated (the name was taken meanwhile) leaves nothing in the token', async () => {
    const before = token.count();
    let other: Response | undefined;
    during = async () => {
      other = await h.call('POST', '/v1/keys', { name: 'rsa-taken', algorithm: 'aes-256-gcm', owner: 'team-test' });
    };
    const r = await h.call('POST', '/v1/keys', { name: 'rsa-taken', algorithm: 'rsa-pss-3072', owner: 'team-test', protection: 'hsm' });
    expect(stalls).toEqual([]);
    expect(other?.status).toBe(201);
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'conflict', message: "key 'rsa-taken' already exists in namespace 'default'" });
    expect(generations).toHaveLength(1);
    expect(token.find(generations[0] as string)).toEqual([]);
    expect(token.count()).toBe(before);
    expect((await h.call('GET', '/v1/keys/rsa-taken')).body.algorithm).toBe('aes-256-gcm');
  });

  it('a transaction that fails after recording the version leaves nothing in the token (create and rotate)', async () => {
    const key = await h.createKey('rsa-failing', 'rsa-pss-3072', { protection: 'hsm' });
    const before = token.count();
    generations.length = 0;
    failEvents = true;
    const created = await h.call('POST', '/v1/keys', {
      name: 'rsa-unborn',
      algorithm: 'rsa-pss-3072',
      owner: 'team-test',
      protection: 'hsm',
    });
    const rotated = await h.call('POST', '/v1/keys/rsa-failing/rotate', {});
    failEvents = false;
    expect(created.status).toBe(500);
    expect(rotated.status).toBe(500);
    expect(generations).toHaveLength(2);
    expect(generations[1]).toBe(label(key, 2));
    for (const generated of generations) expect(token.find(generated)).toEqual([]);
    expect(token.count()).toBe(before);
    expect((await h.call('GET', '/v1/keys/rsa-unborn')).status).toBe(404);
    await expectObjectsOf(key, [1]);
  });

  it('a pair generated by a call that then fails (public key unfit) is destroyed at once', async () => {
    const before = token.count();
    failAfterGenerating = true;
    const r = await h.call('POST', '/v1/keys', { name: 'rsa-garbled', algorithm: 'rsa-pss-3072', owner: 'team-test', protection: 'hsm' });
    failAfterGenerating = false;
    expect(r.status, JSON.stringify(r.body)).toBe(500);
    expect(generations).toHaveLength(1);
    expect(token.find(generations[0] as string)).toEqual([]);
    expect(token.count()).toBe(before);
    expect((await h.call('GET', '/v1/keys/rsa-garbled')).status).toBe(404);
  });

  it('a commit whose answer is lost keeps the objects: the version they belong to may be recorded (here it is)', async () => {
    const before = token.count();
    loseCommits = true;
    const r = await h.call('POST', '/v1/keys', { name: 'rsa-unsure', algorithm: 'rsa-pss-3072', owner: 'team-test', protection: 'hsm' });
    loseCommits = false;
    // The audit record was in the transaction whose answer was lost: the gate answers 503 unavailable.
    expect(r.status, JSON.stringify(r.body)).toBe(503);
    const key = (await h.call('GET', '/v1/keys/rsa-unsure')).body;
    expect(key.primaryVersion).toBe(1);
    await expectObjectsOf(key, [1]);
    expect(token.count()).toBe(before + 2);
  });

  it('two rotations at once: both generate version 2, one records it, the other generates again and records version 3; no object is left over', async () => {
    const key = await h.createKey('rsa-raced', 'rsa-pss-3072', { protection: 'hsm' });
    const before = token.count();
    generations.length = 0;
    let arrived = 0;
    let bothGenerating = () => {};
    const both = new Promise<void>((resolve) => {
      bothGenerating = resolve;
    });
    // Neither pair is handed back before both rotations are generating: both chose version 2.
    during = () => {
      if (++arrived === 2) bothGenerating();
      return both;
    };
    const [a, b] = await Promise.all([
      h.call('POST', '/v1/keys/rsa-raced/rotate', { reason: 'a' }),
      h.call('POST', '/v1/keys/rsa-raced/rotate', { reason: 'b' }),
    ]);
    expect(stalls).toEqual([]);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect([a.body.primaryVersion, b.body.primaryVersion].sort()).toEqual([2, 3]);
    expect(generations).toEqual([label(key, 2), label(key, 2), label(key, 3)]);
    await expectObjectsOf(key, [1, 2, 3]);
    expect(token.count()).toBe(before + 4);
    expect((await h.call('GET', '/v1/keys/rsa-raced')).body.primaryVersion).toBe(3);
  });

  it('a rotation that keeps losing its version number to others gives up with a conflict after three generations, leaving nothing behind', async () => {
    const key = await h.createKey('rsa-contended', 'rsa-pss-3072', { protection: 'hsm' });
    const before = token.count();
    const others: number[] = [];
    let nested = false;
    // While this rotation's pair is generated, another rotation takes the version number first.
    during = async () => {
      if (nested) return;
      nested = true;
      try {
        others.push((await h.call('POST', '/v1/keys/rsa-contended/rotate', { reason: 'other' })).status);
      } finally {
        nested = false;
      }
    };
    const r = await h.call('POST', '/v1/keys/rsa-contended/rotate', { reason: 'unlucky' });
    expect(stalls).toEqual([]);
    expect(others).toEqual([200, 200, 200]);
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error).toMatchObject({
      code: 'conflict',
      message:
        "key 'rsa-contended' gained a version from another change while this one generated its key pair in the token, 3 times; try again",
    });
    await expectObjectsOf(key, [1, 2, 3, 4]);
    expect(token.count()).toBe(before + 6);
  });
});
