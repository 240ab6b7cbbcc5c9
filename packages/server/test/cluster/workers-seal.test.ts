import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeShare, encodeShare } from '../../src/seal/shamir/share-encoding.js';
import { freshStore, STORE_KINDS, type TestStore } from '../support/stores.js';
import { type ClusterRun, type Reply, startCluster, until } from './cluster-process.js';

/**
 * The Shamir seal with two workers: each worker holds its own copy of the
 * root key, and init, every unseal share and a seal reach all of them
 * before the answer, so health agrees on every worker right after.
 */
describe.each(STORE_KINDS)('the Shamir seal with two workers on %s', (kind) => {
  let store: TestStore;
  let run: ClusterRun;
  let admin: string;
  let shares: string[];

  beforeAll(async () => {
    store = await freshStore(kind);
    run = await startCluster(store, ['--seal', 'shamir']);
    await run.serving();
  });
  afterAll(async () => {
    run?.kill();
    await store?.destroy();
  });

  const health = () => run.onEveryWorker(() => run.call('GET', '/v1/sys/health', undefined, null));
  const all = (replies: Reply[], status: number, body: Record<string, unknown>) => {
    for (const r of replies) {
      expect(r.status).toBe(status);
      expect(r.body).toMatchObject(body);
    }
  };

  it('init on one worker initializes and unseals every worker; a second init is refused on every worker', async () => {
    all(await health(), 503, { initialized: false, sealed: true });
    const init = await run.call('POST', '/v1/sys/init', { shares: 3, threshold: 2 }, null);
    expect(init.status).toBe(200);
    admin = init.body.adminToken;
    shares = init.body.unsealShares;
    all(await health(), 200, { initialized: true, sealed: false });
    all(await run.onEveryWorker(() => run.call('POST', '/v1/sys/init', { shares: 3, threshold: 2 }, null)), 409, {
      error: { code: 'conflict' },
    });
    expect((await run.call('POST', '/v1/keys', { name: 'sealed-key', algorithm: 'aes-256-gcm', owner: 'o' }, admin)).status).toBe(201);
  });

  it('a seal on one worker seals every worker', async () => {
    expect((await run.call('POST', '/v1/sys/seal', undefined, admin)).status).toBe(204);
    all(await health(), 503, { initialized: true, sealed: true });
    all(await run.onEveryWorker(() => run.call('GET', '/v1/keys', undefined, admin)), 503, { error: { code: 'sealed' } });
  });

  it('shares submitted to different workers add up, and unseal every worker', async () => {
    const first = await run.call('POST', '/v1/sys/unseal', { share: shares[0] }, null);
    expect(first.body).toEqual({ sealed: true, progress: 1, threshold: 2 });
    // The same share again changes nothing; on the other worker it shows that worker took the first share too.
    const again = await run.onEveryWorker(() => run.call('POST', '/v1/sys/unseal', { share: shares[0] }, null));
    all(again, 200, { sealed: true, progress: 1, threshold: 2 });
    const second = await run.call('POST', '/v1/sys/unseal', { share: shares[1] }, null);
    expect(second.body).toEqual({ sealed: false, progress: 0, threshold: 2 });
    all(await health(), 200, { sealed: false });
    all(await run.onEveryWorker(() => run.call('GET', '/v1/keys/sealed-key', undefined, admin)), 200, { name: 'sealed-key' });
  });

  it('a different share at an accepted x coordinate resets the progress of every worker', async () => {
    expect((await run.call('POST', '/v1/sys/seal', undefined, admin)).status).toBe(204);
    expect((await run.call('POST', '/v1/sys/unseal', { share: shares[0] }, null)).body).toMatchObject({ progress: 1 });
    const bytes = decodeShare(shares[0]);
    bytes[5] = (bytes[5] ?? 0) ^ 1;
    const conflicting = await run.call('POST', '/v1/sys/unseal', { share: encodeShare(bytes) }, null);
    expect(conflicting.status).toBe(400);
    expect(conflicting.body.error.message).toMatch(/^share: differs from an accepted share with the same x coordinate/);
    // A worker that still held the first share would unseal on the next one (threshold 2): none does.
    all(await run.onEveryWorker(() => run.call('POST', '/v1/sys/unseal', { share: shares[1] }, null)), 200, {
      sealed: true,
      progress: 1,
    });
    expect((await run.call('POST', '/v1/sys/unseal', { share: shares[2] }, null)).body).toMatchObject({ sealed: false });
    all(await health(), 200, { sealed: false });
  });

  it('a replacement worker starts unsealed like the others; after a seal, it starts sealed', async () => {
    const replace = async (slot: number) => {
      const old = run.workerPids().get(slot) as number;
      process.kill(old, 'SIGKILL');
      await until(() => (run.workerPids().get(slot) ?? old) !== old, `a replacement worker ${slot}`);
    };
    await replace(2);
    all(await health(), 200, { sealed: false });
    all(await run.onEveryWorker(() => run.call('GET', '/v1/keys/sealed-key', undefined, admin)), 200, { name: 'sealed-key' });
    expect((await run.call('POST', '/v1/sys/seal', undefined, admin)).status).toBe(204);
    await replace(1);
    all(await health(), 503, { sealed: true });
    expect(run.stdout()).not.toContain(shares[0]);
    expect(run.stdout()).not.toContain(shares[1]);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });
});
