import { describe, expect, it } from 'vitest';
import { KeywardClient } from '../src/index.js';
import { fakeFetch } from './support/fake-fetch.js';

const report = { key: 'payments-db', since: null, versions: [] };

function client(body: unknown) {
  const fake = fakeFetch(() => ({ body }));
  return { fake, client: new KeywardClient({ address: 'http://127.0.0.1:8200', token: 'kw_secret_token_value', fetch: fake.fetch }) };
}

describe('KeywardClient reports', () => {
  it('jwks GETs the key’s JWK Set', async () => {
    const set = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AA', kid: 'id:1', alg: 'EdDSA', use: 'sig' }] };
    const { fake, client: c } = client(set);
    expect(await c.jwks('release-signing')).toEqual(set);
    expect(fake.requests[0]?.method).toBe('GET');
    expect(fake.requests[0]?.url.href).toBe('http://127.0.0.1:8200/v1/keys/release-signing/jwks');
  });

  it('usage sends since only when given, as RFC 3339 for a Date', async () => {
    const { fake, client: c } = client(report);
    expect(await c.usage('payments-db')).toEqual(report);
    await c.usage('payments-db', { since: '2026-06-01T00:00:00+02:00' });
    await c.usage('payments-db', { since: new Date('2026-06-01T00:00:00Z') });
    expect(fake.requests.map((r) => r.url.href)).toEqual([
      'http://127.0.0.1:8200/v1/keys/payments-db/usage',
      'http://127.0.0.1:8200/v1/keys/payments-db/usage?since=2026-06-01T00%3A00%3A00%2B02%3A00',
      'http://127.0.0.1:8200/v1/keys/payments-db/usage?since=2026-06-01T00%3A00%3A00.000Z',
    ]);
  });

  it('refuses an invalid Date and a name that is no path segment before sending anything', async () => {
    const { fake, client: c } = client(report);
    expect(() => c.usage('payments-db', { since: new Date('nope') })).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => c.jwks('..')).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(fake.requests).toHaveLength(0);
  });
});
