import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JwksCache, type JwksChange, JwsVerificationError, KeywardClient } from '../src/index.js';
import { useServer } from './support/server.js';

/**
 * Trusted refresh against the real server: the cache follows `GET /v1/events`
 * and fetches JWK Sets again on rotation, compromise and destruction, and
 * reconnects after a dropped stream (through a TCP proxy the test can cut).
 */

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

/** A compact JWS signed by Keyward with the key's primary version (Ed25519: the signature is the raw 64 bytes). */
async function signJws(client: KeywardClient, key: string, payload: string): Promise<{ jws: string; version: number }> {
  const view = await client.getKey(key);
  const kid = `${view.id}:${view.primaryVersion}`;
  const signingInput = `${b64url(JSON.stringify({ alg: 'EdDSA', kid }))}.${b64url(payload)}`;
  const { signature, keyVersion } = await client.sign(key, { message: new TextEncoder().encode(signingInput) });
  expect(keyVersion).toBe(view.primaryVersion);
  return { jws: `${signingInput}.${b64url(signature)}`, version: keyVersion };
}

/** Collects the cache's changes; `next(check)` resolves on the first change (past or future) that passes. */
function changes() {
  const seen: JwksChange[] = [];
  const waiters: Array<{ check: (c: JwksChange) => boolean; resolve: (c: JwksChange) => void }> = [];
  return {
    onChange(change: JwksChange) {
      seen.push(change);
      for (const waiter of [...waiters]) {
        if (waiter.check(change)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(change);
        }
      }
    },
    next(what: string, check: (c: JwksChange) => boolean): Promise<JwksChange> {
      const found = seen.find(check);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        // A safety net so a broken cache fails the test instead of hanging it; nothing waits on this in a passing run.
        const timer = setTimeout(() => reject(new Error(`no change: ${what}`)), 20_000);
        waiters.push({
          check,
          resolve: (c) => {
            clearTimeout(timer);
            resolve(c);
          },
        });
      });
    },
  };
}

/** A TCP proxy to the server whose open connections the test can cut. */
async function proxyTo(target: string): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('JwksCache against the real server', () => {
  const ctx = useServer();
  const caches: JwksCache[] = [];
  afterEach(() => {
    for (const cache of caches.splice(0)) cache.close();
  });

  it('verifies, picks up a rotation without a restart, and drops a compromised and a destroyed version', async () => {
    await ctx.admin.createKey({ name: 'jc-sign', algorithm: 'ed25519', owner: 'team-jc' });
    const seen = changes();
    const cache = new JwksCache(ctx.admin, { keys: ['jc-sign'], onChange: seen.onChange });
    caches.push(cache);
    await cache.start();

    const v1 = await signJws(ctx.admin, 'jc-sign', 'one');
    const verified = await cache.verifyJws(v1.jws);
    expect(verified).toMatchObject({ key: 'jc-sign', version: 1 });
    expect(new TextDecoder().decode(verified.payload)).toBe('one');

    // A rotation reaches the cache through the event stream.
    const key = await ctx.admin.rotateKey('jc-sign');
    const kid2 = `${key.id}:2`;
    await seen.next('version 2 published', (c) => c.kids.includes(kid2));
    const v2 = await signJws(ctx.admin, 'jc-sign', 'two');
    expect(v2.version).toBe(2);
    await expect(cache.verifyJws(v2.jws)).resolves.toMatchObject({ version: 2 });
    await expect(cache.verifyJws(v1.jws)).resolves.toMatchObject({ version: 1 });

    // A tampered payload does not verify.
    const [h, , s] = v2.jws.split('.');
    await expect(cache.verifyJws(`${h}.${b64url('other')}.${s}`)).rejects.toMatchObject({ code: 'invalid_signature' });

    // Compromising version 1 drops it.
    await ctx.admin.compromiseVersion('jc-sign', 1, { reason: 'test' });
    await seen.next('version 1 dropped', (c) => !c.kids.includes(`${key.id}:1`) && c.kids.includes(kid2));
    const refused = await cache.verifyJws(v1.jws).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JwsVerificationError);
    expect(refused).toMatchObject({ code: 'unknown_key' });

    // Destroying a deactivated version drops it too.
    await ctx.admin.rotateKey('jc-sign');
    await seen.next('version 3 published', (c) => c.kids.includes(`${key.id}:3`));
    await ctx.admin.deactivateVersion('jc-sign', 2);
    await ctx.admin.destroyVersion('jc-sign', 2);
    await seen.next('version 2 dropped', (c) => !c.kids.includes(kid2) && c.kids.includes(`${key.id}:3`));
    await expect(cache.verifyJws(v2.jws)).rejects.toMatchObject({ code: 'unknown_key' });
    expect(cache.connections).toBe(1);
  });

  it('reconnects after the stream is cut and fetches the sets again', async () => {
    await ctx.admin.createKey({ name: 'jc-drop', algorithm: 'ed25519', owner: 'team-jc' });
    const proxy = await proxyTo(ctx.server.url);
    try {
      const client = new KeywardClient({ address: proxy.url, token: ctx.server.token });
      const seen = changes();
      const delays: number[] = [];
      const errors: unknown[] = [];
      const cache = new JwksCache(client, {
        keys: ['jc-drop'],
        onChange: seen.onChange,
        onError: (error) => errors.push(error),
        // No real wait before reconnecting: the test records the backoff instead.
        sleep: async (ms) => void delays.push(ms),
        random: () => 0.5,
        reconnect: { baseDelayMs: 100, maxDelayMs: 1_000 },
      });
      caches.push(cache);
      await cache.start();
      const key = await ctx.admin.getKey('jc-drop');

      proxy.cut();
      // Changed while the stream was cut (or just after): the reconnect's refresh or the resumed stream brings it.
      await ctx.admin.rotateKey('jc-drop');
      await seen.next('version 2 after the reconnect', (c) => c.kids.includes(`${key.id}:2`));
      expect(cache.connections).toBeGreaterThanOrEqual(2);
      expect(delays[0]).toBe(50);
      const v2 = await signJws(ctx.admin, 'jc-drop', 'after');
      await expect(cache.verifyJws(v2.jws)).resolves.toMatchObject({ version: 2 });
      // The failures it reported name neither the token nor anything secret.
      for (const error of errors) expect(String(error)).not.toContain(ctx.server.token);
    } finally {
      await proxy.close();
    }
  });

  it('refreshes on an unknown kid, at most once per interval', async () => {
    await ctx.admin.createKey({ name: 'jc-unknown', algorithm: 'ed25519', owner: 'team-jc' });
    let now = 1_000_000;
    const cache = new JwksCache(ctx.admin, { keys: ['jc-unknown'], now: () => now, minUnknownRefreshMs: 60_000 });
    caches.push(cache);
    await cache.start();
    // Closed, the cache hears no more events: only the unknown-kid refresh can teach it a new version.
    cache.close();
    await ctx.admin.rotateKey('jc-unknown');
    const v2 = await signJws(ctx.admin, 'jc-unknown', 'two');
    await expect(cache.verifyJws(v2.jws)).resolves.toMatchObject({ version: 2 });

    await ctx.admin.rotateKey('jc-unknown');
    const v3 = await signJws(ctx.admin, 'jc-unknown', 'three');
    now += 1_000;
    // Within the interval: refused without asking the server again.
    await expect(cache.verifyJws(v3.jws)).rejects.toMatchObject({ code: 'unknown_key' });
    now += 60_000;
    await expect(cache.verifyJws(v3.jws)).resolves.toMatchObject({ version: 3 });
  });

  it('refuses malformed tokens and an alg other than the key’s', async () => {
    await ctx.admin.createKey({ name: 'jc-alg', algorithm: 'ed25519', owner: 'team-jc' });
    const cache = new JwksCache(ctx.admin, { keys: ['jc-alg'] });
    caches.push(cache);
    await cache.start();
    await expect(cache.verifyJws('not a jws')).rejects.toMatchObject({ code: 'malformed' });
    const { jws } = await signJws(ctx.admin, 'jc-alg', 'p');
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const kid = (JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string }).kid;
    const forged = `${b64url(JSON.stringify({ alg: 'HS256', kid }))}.${payload}.${signature}`;
    await expect(cache.verifyJws(forged)).rejects.toMatchObject({ code: 'invalid_signature' });
  });

  it.each(['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-pss-3072', 'ml-dsa-65'] as const)(
    'verifySignature checks a %s signature of the server locally; a tampered one and a compromised version fail',
    async (algorithm) => {
      const name = `jc-local-${algorithm}`;
      await ctx.admin.createKey({ name, algorithm, owner: 'team-jc' });
      const cache = new JwksCache(ctx.admin, { keys: [name] });
      caches.push(cache);
      await cache.start();
      const message = new TextEncoder().encode(`release ${algorithm}`);
      const { signature } = await ctx.admin.sign(name, { message });
      await expect(cache.verifySignature(name, { message, signature })).resolves.toEqual({ valid: true, keyVersion: 1 });
      await expect(cache.verifySignature(name, { message, signature, version: 1 })).resolves.toEqual({ valid: true, keyVersion: 1 });
      // The server agrees (the same encodings).
      await expect(ctx.admin.verify(name, { message, signature })).resolves.toMatchObject({ valid: true });
      const tampered = Uint8Array.from(signature);
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
      await expect(cache.verifySignature(name, { message, signature: tampered })).resolves.toEqual({ valid: false, keyVersion: null });
      await expect(cache.verifySignature(name, { message: new Uint8Array([1]), signature })).resolves.toEqual({
        valid: false,
        keyVersion: null,
      });
      await expect(cache.verifySignature(name, { message, signature: new Uint8Array(3) })).resolves.toEqual({
        valid: false,
        keyVersion: null,
      });

      const seen = changes();
      const watched = new JwksCache(ctx.admin, { keys: [name], onChange: seen.onChange });
      caches.push(watched);
      await watched.start();
      const key = await ctx.admin.compromiseVersion(name, 1, { reason: 'test' });
      await seen.next('version 1 dropped', (c) => !c.kids.includes(`${key.id}:1`));
      await expect(watched.verifySignature(name, { message, signature })).resolves.toEqual({ valid: false, keyVersion: null });
    },
  );

  it('verifySignature refuses a key the cache does not hold and a bad version, naming the field', async () => {
    await ctx.admin.createKey({ name: 'jc-fields', algorithm: 'ed25519', owner: 'team-jc' });
    const cache = new JwksCache(ctx.admin, { keys: ['jc-fields'] });
    caches.push(cache);
    await cache.start();
    const input = { message: new Uint8Array([1]), signature: new Uint8Array(64) };
    await expect(cache.verifySignature('jc-other-key', input)).rejects.toThrow("key 'jc-other-key' is not one of the cache's keys");
    await expect(cache.verifySignature('jc-fields', { ...input, version: 0 })).rejects.toThrow('version must be a positive integer');
  });

  it('does not start on a key it cannot read, and names bad options', async () => {
    await expect(new JwksCache(ctx.admin, { keys: ['jc-missing'] }).start()).rejects.toMatchObject({ code: 'not_found' });
    expect(() => new JwksCache(ctx.admin, { keys: [] })).toThrow('keys');
    expect(() => new JwksCache(ctx.admin, { keys: ['k'], minUnknownRefreshMs: -1 })).toThrow('minUnknownRefreshMs');
    const viewer = await ctx.admin.createPrincipal({ id: 'jc-user', kind: 'service', roles: ['key-user'] });
    const { token } = await ctx.admin.createToken(viewer.id);
    ctx.server.remember(token);
    const user = new KeywardClient({ address: ctx.server.url, token });
    await expect(new JwksCache(user, { keys: ['jc-alg'] }).start()).rejects.toMatchObject({ code: 'forbidden' });
  });
});
