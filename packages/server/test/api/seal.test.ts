import { afterEach, describe, expect, it } from 'vitest';
import { decodeShare, encodeShare, shareX } from '../../src/seal/shamir/share-encoding.js';
import { b64, Harness } from '../support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Shamir seal', () => {
  it('a sealed server answers 503 sealed to everything but health, init and unseal, until the threshold of shares', async () => {
    h = await Harness.start({ seal: 'shamir' });
    const health = await h.call('GET', '/v1/sys/health', undefined, null);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ initialized: false, sealed: true });
    const early = await h.call('POST', '/v1/sys/unseal', { share: 'kws1.AAAA' }, null);
    expect(early.body.error.code).toBe('invalid_state');

    const init = await h.call('POST', '/v1/sys/init', { shares: 5, threshold: 3 }, null);
    expect(init.status).toBe(200);
    expect(init.body.unsealShares).toHaveLength(5);
    const admin: string = init.body.adminToken;
    expect((await h.call('POST', '/v1/sys/init', { shares: 5, threshold: 3 }, null)).body.error.code).toBe('conflict');
    await h.call('POST', '/v1/keys', { name: 'sealed-key', algorithm: 'aes-256-gcm', owner: 'o' }, admin);
    const ct = (await h.call('POST', '/v1/keys/sealed-key/encrypt', { plaintext: b64('survives sealing') }, admin)).body.ciphertext;

    // Seal through the API: every operation now answers 503.
    expect((await h.call('POST', '/v1/sys/seal', undefined, admin)).status).toBe(204);
    for (const [method, path, body] of [
      ['GET', '/v1/keys', undefined],
      ['POST', '/v1/keys/sealed-key/decrypt', { ciphertext: ct }],
      ['GET', '/v1/auth/self', undefined],
      ['POST', '/v1/sys/seal', undefined],
    ] as const) {
      const r = await h.call(method, path, body, admin);
      expect(r.status, path).toBe(503);
      expect(r.body.error.code).toBe('sealed');
    }
    expect((await h.call('GET', '/v1/sys/health', undefined, null)).body).toMatchObject({ initialized: true, sealed: true });

    const shares: string[] = init.body.unsealShares;
    const first = await h.call('POST', '/v1/sys/unseal', { share: shares[4] }, null);
    expect(first.body).toEqual({ sealed: true, progress: 1, threshold: 3 });
    expect((await h.call('POST', '/v1/sys/unseal', { share: shares[4] }, null)).body.progress).toBe(1);
    expect((await h.call('POST', '/v1/sys/unseal', { share: shares[1] }, null)).body).toEqual({ sealed: true, progress: 2, threshold: 3 });
    expect((await h.call('GET', '/v1/keys', undefined, admin)).status).toBe(503);
    expect((await h.call('POST', '/v1/sys/unseal', { share: shares[2] }, null)).body).toEqual({ sealed: false, progress: 0, threshold: 3 });
    const d = await h.call('POST', '/v1/keys/sealed-key/decrypt', { ciphertext: ct }, admin);
    expect(d.body.plaintext).toBe(b64('survives sealing'));
    expect((await h.call('GET', '/v1/sys/health', undefined, null)).status).toBe(200);
    h.adminToken = admin;
  });

  it('a restart comes up sealed and unseals with any threshold of shares; shares are never stored', async () => {
    h = await Harness.start({ seal: 'shamir' });
    const init = await h.call('POST', '/v1/sys/init', { shares: 3, threshold: 2 }, null);
    const admin: string = init.body.adminToken;
    h.adminToken = admin;
    await h.call('POST', '/v1/keys', { name: 'restarted', algorithm: 'hmac-sha256', owner: 'o' }, admin);
    const mac = (await h.call('POST', '/v1/keys/restarted/mac', { message: b64('restart-message') }, admin)).body.mac;
    await h.restart();
    expect((await h.call('GET', '/v1/keys/restarted', undefined, admin)).status).toBe(503);
    const shares: string[] = init.body.unsealShares;
    await h.call('POST', '/v1/sys/unseal', { share: shares[2] }, null);
    expect((await h.call('POST', '/v1/sys/unseal', { share: shares[0] }, null)).body.sealed).toBe(false);
    expect((await h.call('POST', '/v1/keys/restarted/verify-mac', { message: b64('restart-message'), mac }, admin)).body.valid).toBe(true);
    const dump = JSON.stringify(await h.testStore.raw('SELECT * FROM meta'));
    for (const share of shares) expect(dump).not.toContain(share.slice(5));
  });

  it('a share from another initialization resets progress with a precise error', async () => {
    h = await Harness.start({ seal: 'shamir' });
    const other = await Harness.start({ seal: 'shamir' });
    const mine = (await h.call('POST', '/v1/sys/init', { shares: 2, threshold: 2 }, null)).body;
    const theirs = (await other.call('POST', '/v1/sys/init', { shares: 2, threshold: 2 }, null)).body;
    h.adminToken = mine.adminToken;
    other.adminToken = theirs.adminToken;
    await other.close();
    expect((await h.call('POST', '/v1/sys/seal', undefined, mine.adminToken)).status).toBe(204);
    await h.call('POST', '/v1/sys/unseal', { share: mine.unsealShares[0] }, null);
    // Shares get random x coordinates: take the foreign share whose x differs from ours (at most one of
    // theirs can share it), so that this is the threshold's check (the next test covers an equal x).
    const x = (share: string) => shareX(decodeShare(share));
    const foreign = (theirs.unsealShares as string[]).find((share) => x(share) !== x(mine.unsealShares[0]));
    const r = await h.call('POST', '/v1/sys/unseal', { share: foreign }, null);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^share: /);
    expect((await h.call('GET', '/v1/sys/health', undefined, null)).body.sealed).toBe(true);
  });
  it('a different share at an accepted x coordinate answers 400 naming share at once, and resets progress', async () => {
    h = await Harness.start({ seal: 'shamir' });
    const init = (await h.call('POST', '/v1/sys/init', { shares: 3, threshold: 3 }, null)).body;
    h.adminToken = init.adminToken;
    expect((await h.call('POST', '/v1/sys/seal', undefined, init.adminToken)).status).toBe(204);
    const [first, second, third] = init.unsealShares as string[];
    expect((await h.call('POST', '/v1/sys/unseal', { share: first }, null)).body.progress).toBe(1);
    expect((await h.call('POST', '/v1/sys/unseal', { share: second }, null)).body.progress).toBe(2);
    const bytes = decodeShare(second);
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    const r = await h.call('POST', '/v1/sys/unseal', { share: encodeShare(bytes) }, null);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
    expect(r.body.error.message).toMatch(/^share: differs from an accepted share with the same x coordinate/);
    const health = (await h.call('GET', '/v1/sys/health', undefined, null)).body;
    expect(health.sealed).toBe(true);
    // Progress starts over: the three right shares unseal.
    for (const share of [third, first]) expect((await h.call('POST', '/v1/sys/unseal', { share }, null)).body.sealed).toBe(true);
    expect((await h.call('POST', '/v1/sys/unseal', { share: second }, null)).body.sealed).toBe(false);
  });
});

describe('Shamir seal, two nodes on one database', () => {
  let b: Harness | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it('both nodes asked to initialize at once: one answers the shares, the other 409, and those shares unseal both', async () => {
    h = await Harness.start({ seal: 'shamir' });
    b = await Harness.joining(h);
    const nodes = [h, b];
    const answers = await Promise.all(nodes.map((n) => n.call('POST', '/v1/sys/init', { shares: 3, threshold: 2 }, null)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    const won = answers.findIndex((r) => r.status === 200);
    const [winner, loser] = [nodes[won] as Harness, nodes[1 - won] as Harness];
    expect(answers[1 - won]?.body.error.code).toBe('conflict');
    const unsealShares: string[] = answers[won]?.body.unsealShares;
    const adminToken: string = answers[won]?.body.adminToken;
    expect((await winner.call('POST', '/v1/keys', { name: 'shared', algorithm: 'aes-256-gcm', owner: 'o' }, adminToken)).status).toBe(201);
    const ct = (await winner.call('POST', '/v1/keys/shared/encrypt', { plaintext: b64('one root') }, adminToken)).body.ciphertext;

    // The other node holds the winning state, sealed; the winner's shares unseal it and it reads what the winner wrote.
    for (const share of unsealShares.slice(0, 2)) expect((await loser.call('POST', '/v1/sys/unseal', { share }, null)).status).toBe(200);
    expect((await loser.call('GET', '/v1/sys/health', undefined, null)).body).toMatchObject({ initialized: true, sealed: false });
    const d = await loser.call('POST', '/v1/keys/shared/decrypt', { ciphertext: ct }, adminToken);
    expect(d.body.plaintext).toBe(b64('one root'));
  });

  it("a node started before another node initialized the database unseals with that ceremony's shares", async () => {
    h = await Harness.start({ seal: 'shamir' });
    b = await Harness.joining(h);
    const init = await h.call('POST', '/v1/sys/init', { shares: 3, threshold: 2 }, null);
    expect(init.status).toBe(200);
    // Node b read no state when it started; it reads the state again at the first share.
    const first = await b.call('POST', '/v1/sys/unseal', { share: init.body.unsealShares[0] }, null);
    expect(first.body).toEqual({ sealed: true, progress: 1, threshold: 2 });
    expect((await b.call('POST', '/v1/sys/unseal', { share: init.body.unsealShares[2] }, null)).body.sealed).toBe(false);
    expect((await b.call('GET', '/v1/keys', undefined, init.body.adminToken)).status).toBe(200);
  });
});

describe('file seal', () => {
  it('a restart keeps every key, version, principal and grant', async () => {
    h = await Harness.start();
    await h.createKey('kept', 'aes-256-gcm');
    await h.call('POST', '/v1/keys/kept/rotate');
    const ct = (await h.call('POST', '/v1/keys/kept/encrypt', { plaintext: b64('persisted plaintext') })).body.ciphertext;
    const user = await h.principal('svc-kept', ['key-user']);
    await h.grant('kept', 'svc-kept', ['decrypt']);
    await h.restart();
    const key = await h.call('GET', '/v1/keys/kept');
    expect(key.body.primaryVersion).toBe(2);
    expect(key.body.versions[1].uses).toBe(1);
    expect((await h.call('POST', '/v1/keys/kept/decrypt', { ciphertext: ct }, user)).body.plaintext).toBe(b64('persisted plaintext'));
  });

  it('init and unseal do not apply to the file seal', async () => {
    h = await Harness.start();
    expect((await h.call('POST', '/v1/sys/init', { shares: 3, threshold: 2 }, null)).body.error.code).toBe('conflict');
    const r = await h.call('POST', '/v1/sys/unseal', { share: 'kws1.whatever' }, null);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^share: this server uses the file seal/);
  });

  it('sealing requires admin', async () => {
    h = await Harness.start();
    const token = await h.principal('kadmin', ['key-admin']);
    expect((await h.call('POST', '/v1/sys/seal', undefined, token)).status).toBe(403);
    expect((await h.call('GET', '/v1/sys/health', undefined, null)).status).toBe(200);
  });
});
