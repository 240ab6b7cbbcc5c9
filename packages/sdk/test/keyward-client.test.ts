import { inspect } from 'node:util';
import { KeywardError } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { isBatchItemError, KeywardApiError, KeywardClient, KeywardConnectionError } from '../src/index.js';
import { errorAnswer, fakeFetch } from './support/fake-fetch.js';
import { keyView } from './support/fixtures.js';

const TOKEN = 'kw_secret_token_value';
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const b64 = (text: string): string => Buffer.from(text).toString('base64');

function client(respond: Parameters<typeof fakeFetch>[0], options: { namespace?: string; timeoutMs?: number } = {}) {
  const fake = fakeFetch(respond);
  // One answer per request: retrying is tested in retries.test.ts against a real HTTP server.
  return { fake, client: new KeywardClient({ address: 'http://127.0.0.1:8200', token: TOKEN, fetch: fake.fetch, retries: 0, ...options }) };
}

describe('KeywardClient requests', () => {
  it('sends the token as a bearer header and the namespace header, never in the URL', async () => {
    const { fake, client: c } = client([{ body: keyView() }], { namespace: 'team-a' });
    await c.getKey('payments-db');
    const [request] = fake.requests;
    expect(request?.method).toBe('GET');
    expect(request?.url.href).toBe('http://127.0.0.1:8200/v1/keys/payments-db');
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.headers['x-keyward-namespace']).toBe('team-a');
  });

  it('sends no authorization header without a token', async () => {
    const fake = fakeFetch([{ body: { initialized: true, sealed: false, version: '0.1.0' } }]);
    await new KeywardClient({ address: 'http://h:1', fetch: fake.fetch }).health();
    expect(fake.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('keeps a path prefix of the address', async () => {
    const fake = fakeFetch([{ body: { keys: [], nextCursor: null } }]);
    await new KeywardClient({ address: 'https://proxy.example/kms/', fetch: fake.fetch }).listKeys();
    expect(fake.requests[0]?.url.href).toBe('https://proxy.example/kms/v1/keys');
  });

  it('puts filters and paging in the query string, leaving unset ones out', async () => {
    const { fake, client: c } = client([{ body: { keys: [], nextCursor: null } }]);
    await c.listKeys({ owner: 'team-payments', environment: 'prod', tag: 'app:payments', limit: 10, cursor: 'c1' });
    expect(Object.fromEntries(fake.requests[0]?.url.searchParams ?? [])).toEqual({
      owner: 'team-payments',
      environment: 'prod',
      tag: 'app:payments',
      limit: '10',
      cursor: 'c1',
    });
  });

  it('asks for import parameters with the wrapping algorithm in the query string', async () => {
    const { fake, client: c } = client([{ body: {} }]);
    await c.getImportParameters('k', 'RSA_AES_KEY_WRAP_SHA_256');
    expect(fake.requests[0]?.url.searchParams.get('algorithm')).toBe('RSA_AES_KEY_WRAP_SHA_256');
  });

  it('iterates over every page', async () => {
    const { fake, client: c } = client([
      { body: { keys: [keyView({ name: 'a' }), keyView({ name: 'b' })], nextCursor: 'p2' } },
      { body: { keys: [keyView({ name: 'c' })], nextCursor: null } },
    ]);
    const names: string[] = [];
    for await (const key of c.iterateKeys({ owner: 'o', limit: 2 })) names.push(key.name);
    expect(names).toEqual(['a', 'b', 'c']);
    expect(fake.requests[1]?.url.searchParams.get('cursor')).toBe('p2');
    expect(fake.requests[1]?.url.searchParams.get('owner')).toBe('o');
  });

  it.each([
    ['createKey', (c: KeywardClient) => c.createKey({ name: 'k', algorithm: 'ed25519', owner: 'o' }), 'POST', '/v1/keys'],
    ['patchKey', (c: KeywardClient) => c.patchKey('k', { owner: 'p' }), 'PATCH', '/v1/keys/k'],
    ['rotateKey', (c: KeywardClient) => c.rotateKey('k', { reason: 'r' }), 'POST', '/v1/keys/k/rotate'],
    ['enableKey', (c: KeywardClient) => c.enableKey('k'), 'POST', '/v1/keys/k/enable'],
    ['disableKey', (c: KeywardClient) => c.disableKey('k'), 'POST', '/v1/keys/k/disable'],
    ['deactivateVersion', (c: KeywardClient) => c.deactivateVersion('k', 1), 'POST', '/v1/keys/k/versions/1/deactivate'],
    ['compromiseVersion', (c: KeywardClient) => c.compromiseVersion('k', 2, { reason: 'x' }), 'POST', '/v1/keys/k/versions/2/compromise'],
    ['scheduleDeletion', (c: KeywardClient) => c.scheduleDeletion('k', { days: 7 }), 'POST', '/v1/keys/k/schedule-deletion'],
    ['cancelDeletion', (c: KeywardClient) => c.cancelDeletion('k'), 'POST', '/v1/keys/k/cancel-deletion'],
    ['getImportParameters', (c: KeywardClient) => c.getImportParameters('k', 'RSAES_OAEP_SHA_256'), 'GET', '/v1/keys/k/import-parameters'],
    [
      'importKey',
      (c: KeywardClient) => c.importKey('k', { importToken: 't', wrappedKey: 'AA==', algorithm: 'RSAES_OAEP_SHA_256' }),
      'POST',
      '/v1/keys/k/import',
    ],
    [
      'exportVersion',
      (c: KeywardClient) => c.exportVersion('k', 2, { publicKey: 'pem', algorithm: 'ML_KEM_768_AES_KWP' }),
      'POST',
      '/v1/keys/k/versions/2/export',
    ],
    ['init', (c: KeywardClient) => c.init({ shares: 3, threshold: 2 }), 'POST', '/v1/sys/init'],
    ['unseal', (c: KeywardClient) => c.unseal('share'), 'POST', '/v1/sys/unseal'],
    ['self', (c: KeywardClient) => c.self(), 'GET', '/v1/auth/self'],
    ['createPrincipal', (c: KeywardClient) => c.createPrincipal({ id: 'svc', kind: 'service' }), 'POST', '/v1/principals'],
    ['listPrincipals', (c: KeywardClient) => c.listPrincipals(), 'GET', '/v1/principals'],
    ['getPrincipal', (c: KeywardClient) => c.getPrincipal('svc'), 'GET', '/v1/principals/svc'],
    ['createToken', (c: KeywardClient) => c.createToken('svc', { ttl: '1d' }), 'POST', '/v1/principals/svc/tokens'],
    ['addGrant', (c: KeywardClient) => c.addGrant('k', { principal: 'svc', operations: ['sign'] }), 'POST', '/v1/keys/k/grants'],
    ['listGrants', (c: KeywardClient) => c.listGrants('k'), 'GET', '/v1/keys/k/grants'],
    ['publicKey', (c: KeywardClient) => c.publicKey('k', { version: 2 }), 'GET', '/v1/keys/k/public-key'],
  ] as const)('%s sends %s %s', async (_name, call, method, path) => {
    const { fake, client: c } = client([{ body: {} }]);
    await call(c);
    expect(fake.requests[0]?.method).toBe(method);
    expect(fake.requests[0]?.url.pathname).toBe(path);
  });

  it.each([
    ['seal', (c: KeywardClient) => c.seal(), 'POST', '/v1/sys/seal'],
    ['revokeToken', (c: KeywardClient) => c.revokeToken('tok_1'), 'DELETE', '/v1/tokens/tok_1'],
    ['removeGrant', (c: KeywardClient) => c.removeGrant('k', 'g1'), 'DELETE', '/v1/keys/k/grants/g1'],
  ] as const)('%s sends %s %s and resolves on 204', async (_name, call, method, path) => {
    const { fake, client: c } = client([{ status: 204 }]);
    await expect(call(c)).resolves.toBeUndefined();
    expect(fake.requests[0]?.method).toBe(method);
    expect(fake.requests[0]?.url.pathname).toBe(path);
  });

  it('throws for a 503 health answer that is an error body, not health', async () => {
    const { client: c } = client([errorAnswer(503, 'sealed', 'sealed')]);
    await expect(c.health()).rejects.toMatchObject({ code: 'sealed', status: 503 });
  });

  it('answers health when the server is sealed (503)', async () => {
    const { client: c } = client([{ status: 503, body: { initialized: true, sealed: true, version: '0.1.0' } }]);
    await expect(c.health()).resolves.toEqual({ initialized: true, sealed: true, version: '0.1.0' });
  });
});

describe('KeywardClient TOTP', () => {
  it('enrols, confirms and removes; the otp option is sent as X-Keyward-OTP, never in the URL', async () => {
    const fake = fakeFetch([
      { status: 201, body: { secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', uri: 'otpauth://totp/Keyward:alice?secret=x' } },
      { body: { principal: 'alice', confirmedAt: '2026-06-01T00:00:00.000Z' } },
      { status: 204 },
    ]);
    const plain = new KeywardClient({ address: 'http://h:1', token: TOKEN, fetch: fake.fetch });
    expect((await plain.enrolTotp()).secret).toBe('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    expect(await plain.confirmTotp('123456')).toEqual({ principal: 'alice', confirmedAt: '2026-06-01T00:00:00.000Z' });
    const withCode = new KeywardClient({ address: 'http://h:1', token: TOKEN, otp: '654321', fetch: fake.fetch });
    await withCode.removeTotp('alice');
    expect(fake.requests.map((r) => [r.method, r.url.pathname, r.headers['x-keyward-otp']])).toEqual([
      ['POST', '/v1/auth/totp', undefined],
      ['POST', '/v1/auth/totp/confirm', undefined],
      ['DELETE', '/v1/principals/alice/totp', '654321'],
    ]);
    expect(fake.requests[1]?.body).toEqual({ code: '123456' });
    expect(fake.requests[2]?.url.href).not.toContain('654321');
  });

  it('refuses an otp that is not 6 digits before sending anything', () => {
    const fake = fakeFetch([]);
    expect(() => new KeywardClient({ address: 'http://h:1', otp: '12 34', fetch: fake.fetch })).toThrow(KeywardError);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('KeywardClient binary values', () => {
  it('encrypt sends base64 plaintext and the context', async () => {
    const { fake, client: c } = client([{ body: { ciphertext: 'kw1:abc', keyVersion: 2 } }]);
    await expect(c.encrypt('k', bytes('hello'), { context: { tenant: '42' } })).resolves.toEqual({ ciphertext: 'kw1:abc', keyVersion: 2 });
    expect(fake.requests[0]?.body).toEqual({ plaintext: b64('hello'), context: { tenant: '42' } });
  });

  it('decrypt answers bytes', async () => {
    const { fake, client: c } = client([{ body: { plaintext: b64('hello'), keyVersion: 1 } }]);
    const answer = await c.decrypt('k', 'kw1:abc');
    expect(new TextDecoder().decode(answer.plaintext)).toBe('hello');
    expect(fake.requests[0]?.body).toEqual({ ciphertext: 'kw1:abc' });
  });

  it('dataKey decodes the plaintext only when present', async () => {
    const { client: c } = client([
      { body: { plaintext: b64('0123'), ciphertext: 'w', keyVersion: 1 } },
      { body: { ciphertext: 'w', keyVersion: 1 } },
    ]);
    expect((await c.dataKey('k', { bytes: 4 })).plaintext).toEqual(bytes('0123'));
    expect(await c.dataKey('k', { includePlaintext: false })).toEqual({ ciphertext: 'w', keyVersion: 1 });
  });

  it('sign and verify carry message or digest, signature and version in base64', async () => {
    const { fake, client: c } = client([{ body: { signature: b64('sig'), keyVersion: 1 } }, { body: { valid: true, keyVersion: 1 } }]);
    expect((await c.sign('k', { digest: bytes('d') })).signature).toEqual(bytes('sig'));
    await c.verify('k', { message: bytes('m'), signature: bytes('sig'), keyVersion: 1 });
    expect(fake.requests[0]?.body).toEqual({ digest: b64('d') });
    expect(fake.requests[1]?.body).toEqual({ message: b64('m'), signature: b64('sig'), keyVersion: 1 });
  });

  it('mac and verifyMac', async () => {
    const { fake, client: c } = client([{ body: { mac: b64('tag'), keyVersion: 3 } }, { body: { valid: false } }]);
    expect(await c.mac('k', bytes('m'))).toEqual({ mac: bytes('tag'), keyVersion: 3 });
    expect(await c.verifyMac('k', bytes('m'), bytes('tag'))).toEqual({ valid: false });
    expect(fake.requests[1]?.body).toEqual({ message: b64('m'), mac: b64('tag') });
  });

  it('batches answer per item, errors in place', async () => {
    const { fake, client: c } = client([
      { body: { items: [{ ciphertext: 'c1', keyVersion: 1 }, { error: { code: 'payload_too_large', message: 'too big' } }] } },
      { body: { items: [{ plaintext: b64('a'), keyVersion: 1 }, { error: { code: 'invalid_ciphertext', message: 'bad' } }] } },
      { body: { items: [{ ciphertext: 'c2', keyVersion: 2 }] } },
    ]);
    const encrypted = await c.encryptBatch('k', [{ plaintext: bytes('a'), context: { t: '1' } }, { plaintext: bytes('b') }]);
    expect(fake.requests[0]?.body).toEqual({ items: [{ plaintext: b64('a'), context: { t: '1' } }, { plaintext: b64('b') }] });
    expect(encrypted.map((item) => isBatchItemError(item))).toEqual([false, true]);
    const decrypted = await c.decryptBatch('k', [{ ciphertext: 'c1' }, { ciphertext: 'x' }]);
    expect(decrypted[0]).toEqual({ plaintext: bytes('a'), keyVersion: 1 });
    expect(decrypted[1]).toEqual({ error: { code: 'invalid_ciphertext', message: 'bad' } });
    expect(await c.rewrapBatch('k', [{ ciphertext: 'c1' }])).toEqual([{ ciphertext: 'c2', keyVersion: 2 }]);
    expect(fake.requests[2]?.url.pathname).toBe('/v1/keys/k/rewrap');
  });

  it('treats a malformed base64 answer as a server fault', async () => {
    const { client: c } = client([{ body: { plaintext: 'not base64!', keyVersion: 1 } }]);
    await expect(c.decrypt('k', 'x')).rejects.toMatchObject({ code: 'internal' });
  });
});

describe('KeywardClient errors', () => {
  it('turns an error body into a KeywardApiError with code, status and request id', async () => {
    const { client: c } = client([errorAnswer(404, 'not_found', "key 'nope' does not exist", 'req-42')]);
    const error = await c.getKey('nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeywardApiError);
    expect(error).toBeInstanceOf(KeywardError);
    expect(error).toMatchObject({ code: 'not_found', status: 404, requestId: 'req-42', message: "key 'nope' does not exist" });
  });

  it('derives the code from the status when the body is not the contract’s', async () => {
    const { client: c } = client([
      { status: 503, body: 'sealed', requestId: 'r1' },
      { status: 502, body: '<html>' },
    ]);
    await expect(c.getKey('k')).rejects.toMatchObject({ code: 'sealed', status: 503, requestId: 'r1' });
    await expect(c.getKey('k')).rejects.toMatchObject({ code: 'internal', status: 502 });
  });

  it('reports an unreachable server as a KeywardConnectionError without the token', async () => {
    const c = new KeywardClient({
      address: 'http://127.0.0.1:9',
      token: TOKEN,
      fetch: async () => {
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
      },
    });
    const error = await c.encrypt('k', bytes('top secret plaintext')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeywardConnectionError);
    expect(error).toMatchObject({ code: 'unreachable', timedOut: false });
    expect((error as Error).message).toBe('cannot reach Keyward at http://127.0.0.1:9: fetch failed: ECONNREFUSED');
    expect(JSON.stringify(error)).not.toContain(TOKEN);
  });

  it('gives up after timeoutMs', async () => {
    const hang: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const c = new KeywardClient({ address: 'http://127.0.0.1:8200', timeoutMs: 20, fetch: hang });
    await expect(c.health()).rejects.toMatchObject({ code: 'unreachable', timedOut: true, message: expect.stringContaining('20 ms') });
  });

  it('reaches a real closed port as unreachable', async () => {
    const c = new KeywardClient({ address: 'http://127.0.0.1:47', timeoutMs: 5000 });
    await expect(c.health()).rejects.toBeInstanceOf(KeywardConnectionError);
  });

  it.each([
    ['http://user:pass@h:1', 'credentials'],
    ['ftp://h', 'http or https'],
    ['not a url', 'not a URL'],
    ['http://h:1/?x=1', 'query'],
  ])('refuses the address %s', (address, message) => {
    expect(() => new KeywardClient({ address })).toThrow(message);
  });

  it('never puts the token or plaintext into messages of refused requests', async () => {
    const { client: c } = client([errorAnswer(403, 'forbidden', 'not allowed')]);
    const error: unknown = await c.encrypt('k', bytes('plaintext-marker')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeywardApiError);
    const text = `${(error as Error).message} ${(error as Error).stack} ${JSON.stringify(error)}`;
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('plaintext-marker');
    expect(text).not.toContain(b64('plaintext-marker'));
  });

  it('keeps the token out of the client’s enumerable state', () => {
    const c = new KeywardClient({ address: 'http://h:1', token: TOKEN });
    expect(JSON.stringify(c)).not.toContain(TOKEN);
    expect(inspect(c, { depth: 5, showHidden: true })).not.toContain(TOKEN);
  });
});
