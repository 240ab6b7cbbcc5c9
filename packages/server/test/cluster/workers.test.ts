import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStore, STORE_KINDS, type TestStore } from '../support/stores.js';
import { ADMIN, b64, type ClusterRun, type Reply, schedulerRuns, startCluster, until } from './cluster-process.js';

/**
 * `keyward server --workers 2`: real processes (bin/keyward), each worker
 * with its own caches. A change made through one worker must be in force on
 * every worker for the very next request — every reply after the change is
 * checked, on both workers, with no waiting in between.
 */
describe.each(STORE_KINDS)('two workers on %s', (kind) => {
  let store: TestStore;
  let run: ClusterRun;

  beforeAll(async () => {
    store = await freshStore(kind);
    run = await startCluster(store, ['--node-id', 'kwc', '--scheduler-interval', '1s', '--log-level', 'debug']);
    await run.serving();
  });
  afterAll(async () => {
    run?.kill();
    await store?.destroy();
  });

  const ok = (replies: Reply[], status = 200) => {
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(new Set(replies.map((r) => r.worker))).toEqual(new Set([1, 2]));
  };

  async function createKey(name: string, extra: Record<string, unknown> = {}): Promise<void> {
    const r = await run.call('POST', '/v1/keys', { name, algorithm: 'aes-256-gcm', owner: 'team-c', environment: 'prod', ...extra });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }

  /** A key-user principal with a grant on `key`; returns its token and the token's id. */
  async function user(id: string, key: string, operations: string[]): Promise<{ token: string; tokenId: string; grantId: string }> {
    expect((await run.call('POST', '/v1/principals', { id, kind: 'service', roles: ['key-user'], environments: ['prod'] })).status).toBe(
      201,
    );
    const token = await run.call('POST', `/v1/principals/${id}/tokens`, { ttl: '1d' });
    expect(token.status).toBe(201);
    const grant = await run.call('POST', `/v1/keys/${key}/grants`, { principal: id, operations });
    expect(grant.status).toBe(201);
    return { token: token.body.token, tokenId: token.body.id, grantId: grant.body.id };
  }

  it('both workers serve, each keeps its own audit chain, and the chains verify', async () => {
    ok(await run.onEveryWorker(() => run.call('GET', '/v1/keys')));
    const verify = await run.call('GET', '/v1/audit/verify');
    expect(verify.body.valid).toBe(true);
    expect(verify.body.chains.map((c: { chain: string }) => c.chain)).toEqual(['kwc-w1', 'kwc-w2']);
  });

  it('a scrape of /metrics on any worker shows every worker, each family once', async () => {
    for (const scrape of await run.onEveryWorker(() => run.call('GET', '/metrics', undefined, null))) {
      const lines = (scrape.body as string).split('\n');
      const types = lines.filter((l) => l.startsWith('# TYPE '));
      expect(new Set(types).size).toBe(types.length);
      const listed = lines.filter((l) => l.startsWith('keyward_http_requests_total{'));
      for (const w of [1, 2]) expect(listed.some((l) => l.includes(`worker="${w}"`))).toBe(true);
    }
  });

  it('a token revoked through one worker is refused by every worker on the next request', async () => {
    await createKey('revocation');
    const { token, tokenId } = await user('svc-revoked', 'revocation', ['encrypt']);
    // Both workers have the token (and the key) cached.
    ok(await run.onEveryWorker(() => run.call('POST', '/v1/keys/revocation/encrypt', { plaintext: b64('warm') }, token)));
    expect((await run.call('DELETE', `/v1/tokens/${tokenId}`)).status).toBe(204);
    const after = await run.onEveryWorker(() => run.call('POST', '/v1/keys/revocation/encrypt', { plaintext: b64('late') }, token));
    ok(after, 401);
    for (const r of after) expect(r.body.error.code).toBe('unauthenticated');
  });

  it('a grant deleted through one worker is refused by every worker on the next request', async () => {
    await createKey('granted');
    const { token, grantId } = await user('svc-granted', 'granted', ['encrypt']);
    ok(await run.onEveryWorker(() => run.call('POST', '/v1/keys/granted/encrypt', { plaintext: b64('warm') }, token)));
    expect((await run.call('DELETE', `/v1/keys/granted/grants/${grantId}`)).status).toBe(204);
    const after = await run.onEveryWorker(() => run.call('POST', '/v1/keys/granted/encrypt', { plaintext: b64('late') }, token));
    ok(after, 403);
    for (const r of after) expect(r.body.error.code).toBe('forbidden');
  });

  it('a version compromised through one worker: no worker encrypts with it or decrypts with it (but for recovery)', async () => {
    await createKey('exposed');
    const { token } = await user('svc-exposed', 'exposed', ['encrypt', 'decrypt']);
    const warm = await run.onEveryWorker(() => run.call('POST', '/v1/keys/exposed/encrypt', { plaintext: b64('v1 data') }, token));
    ok(warm);
    const ciphertext = warm[0]?.body.ciphertext as string;
    ok(await run.onEveryWorker(() => run.call('POST', '/v1/keys/exposed/decrypt', { ciphertext }, token)));
    const compromised = await run.call('POST', '/v1/keys/exposed/versions/1/compromise', { reason: 'workers test' });
    expect(compromised.status).toBe(200);
    const encrypts = await run.onEveryWorker(() => run.call('POST', '/v1/keys/exposed/encrypt', { plaintext: b64('new') }, token));
    ok(encrypts);
    for (const r of encrypts) expect(r.body.keyVersion).toBe(2);
    const decrypts = await run.onEveryWorker(() => run.call('POST', '/v1/keys/exposed/decrypt', { ciphertext }, token));
    ok(decrypts, 409);
    for (const r of decrypts) expect(r.body.error.code).toBe('invalid_state');
    // The admin may still recover the data, on every worker.
    ok(await run.onEveryWorker(() => run.call('POST', '/v1/keys/exposed/decrypt', { ciphertext })));
  });

  it('a version destroyed through one worker decrypts on no worker', async () => {
    await createKey('shredded');
    const { token } = await user('svc-shredded', 'shredded', ['encrypt', 'decrypt']);
    const ciphertext = (await run.call('POST', '/v1/keys/shredded/encrypt', { plaintext: b64('v1 data') }, token)).body.ciphertext;
    expect((await run.call('POST', '/v1/keys/shredded/rotate')).status).toBe(200);
    expect((await run.call('POST', '/v1/keys/shredded/versions/1/deactivate')).status).toBe(200);
    // Both workers hold version 1's unwrapped material.
    ok(await run.onEveryWorker(() => run.call('POST', '/v1/keys/shredded/decrypt', { ciphertext }, token)));
    expect((await run.call('POST', '/v1/keys/shredded/versions/1/destroy')).status).toBe(200);
    const after = await run.onEveryWorker(() => run.call('POST', '/v1/keys/shredded/decrypt', { ciphertext }, token));
    for (const r of after) expect([r.status, r.body.error?.code]).toEqual([409, 'invalid_state']);
  });

  it('maxUsesPerVersion holds with both workers encrypting at once: never passed, and reached exactly', async () => {
    await createKey('limited', { maxUsesPerVersion: 50 });
    const { token } = await user('svc-limited', 'limited', ['encrypt']);
    const streams = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const replies: Reply[] = [];
        for (let i = 0; i < 15; i++) replies.push(await run.call('POST', '/v1/keys/limited/encrypt', { plaintext: b64(`n${i}`) }, token));
        return replies;
      }),
    );
    const replies = streams.flat();
    ok(replies);
    const perVersion = new Map<number, number>();
    for (const r of replies) perVersion.set(r.body.keyVersion, (perVersion.get(r.body.keyVersion) ?? 0) + 1);
    const key = await run.call('GET', '/v1/keys/limited');
    const uses = key.body.versions.map((v: { version: number; uses: number }) => [v.version, v.uses]);
    // What the store counted is what was served, and no version passed its limit.
    expect(uses).toEqual([...perVersion.entries()].sort(([a], [b]) => a - b));
    for (const [, n] of uses) expect(n).toBeLessThanOrEqual(50);
    // Use-rotations lock the key row, so two workers rotating at once take turns: every version is used exactly up to its limit.
    expect(Object.fromEntries(perVersion)).toEqual({ 1: 50, 2: 50, 3: 20 });
  });

  it('one worker runs the scheduler: a due rotation happens once, recorded on its chain', async () => {
    await createKey('due', { rotationPeriod: '30d' });
    await store.raw(
      "UPDATE keys SET next_rotation_at = '2000-01-01T00:00:00.000Z', next_check_at = '2000-01-01T00:00:00.000Z' WHERE name = 'due'",
    );
    await until(async () => (await run.call('GET', '/v1/keys/due')).body.versions.length === 2, 'the scheduled rotation');
    // Every worker runs its scheduler twice more after the rotation. One scrape, on any worker, shows every worker's series.
    const runs = async () => {
      const scrape = await run.call('GET', '/metrics', undefined, null);
      const byWorker = new Map<number, { leader: number; standby: number }>();
      for (const w of [1, 2])
        byWorker.set(w, { leader: schedulerRuns(scrape.body, 'leader', w), standby: schedulerRuns(scrape.body, 'standby', w) });
      return byWorker;
    };
    const before = await runs();
    const total = (m: Map<number, { leader: number; standby: number }>, w: number) => (m.get(w)?.leader ?? 0) + (m.get(w)?.standby ?? 0);
    await until(async () => {
      const now = await runs();
      return [1, 2].every((w) => total(now, w) >= total(before, w) + 2);
    }, 'two more scheduler runs on each worker');
    const after = await runs();
    expect((await run.call('GET', '/v1/keys/due')).body.versions).toHaveLength(2);
    const leaders = [1, 2].filter((w) => (after.get(w)?.leader ?? 0) > 0);
    expect(leaders).toHaveLength(1);
    const leader = leaders[0] as number;
    const follower = leader === 1 ? 2 : 1;
    expect(after.get(follower)?.leader).toBe(0);
    if (kind === 'sqlite') expect(leader).toBe(1);
    const rotations = await run.call('GET', '/v1/audit/events?key=due&action=key.rotate');
    expect(rotations.body.events.map((e: { chain: string; actor: string }) => [e.chain, e.actor])).toEqual([[`kwc-w${leader}`, 'keyward']]);
  });

  it('a killed worker is replaced in its slot, continues its audit chain, and every worker still agrees', async () => {
    await createKey('survives');
    const { token, tokenId } = await user('svc-survives', 'survives', ['encrypt']);
    ok(await run.onEveryWorker(() => run.call('POST', '/v1/keys/survives/encrypt', { plaintext: b64('before') }, token)));
    const killed = run.workerPids().get(2) as number;
    process.kill(killed, 'SIGKILL');
    await until(() => (run.workerPids().get(2) ?? killed) !== killed, 'a replacement worker 2');
    ok(await run.onEveryWorker(() => run.call('POST', '/v1/keys/survives/encrypt', { plaintext: b64('after') }, token)));
    expect((await run.call('DELETE', `/v1/tokens/${tokenId}`)).status).toBe(204);
    ok(await run.onEveryWorker(() => run.call('POST', '/v1/keys/survives/encrypt', { plaintext: b64('late') }, token)), 401);
    const verify = await run.call('GET', '/v1/audit/verify');
    expect(verify.body.valid).toBe(true);
    expect(verify.body.chains.map((c: { chain: string }) => c.chain)).toEqual(['kwc-w1', 'kwc-w2']);
    expect(run.stdout()).toContain('"msg":"worker exited; starting a replacement"');
  });

  it('SIGTERM: every worker finishes, the server exits 0, and every log line is whole JSON', async () => {
    const pids = [...run.workerPids().values()];
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(run.lines().filter((l) => l.msg === 'request').length).toBeGreaterThan(100);
    expect(run.stdout()).not.toContain(ADMIN);
  });
});
