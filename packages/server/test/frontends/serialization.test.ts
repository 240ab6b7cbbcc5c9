import { afterEach, describe, expect, it, vi } from 'vitest';
import { encryptResponse, keyListSchema, keyViewSchema, verifyResponse } from '../../src/frontends/rest/responses.js';
import { compileSerializer } from '../../src/frontends/rest/serialization.js';

const route = { method: 'GET', url: '/v1/keys', httpStatus: '200' };

const version = {
  version: 1,
  state: 'active',
  createdAt: '2026-11-29T10:00:00.000Z',
  activatedAt: '2026-11-29T10:00:00.000Z',
  deactivatedAt: null,
  compromisedAt: null,
  destroyedAt: null,
  uses: 2 ** 40,
  fingerprint: 'sha256:00ff',
  publicKey: null,
  trigger: 'created',
  activationDate: null,
  origin: 'generated',
};

const key = {
  id: '3ee4e5d9-81c9-4f60-a28d-30513e4a3500',
  name: 'billing "q\\u2028"\n',
  namespace: 'default',
  algorithm: 'aes-256-gcm',
  usage: 'encrypt',
  state: 'enabled',
  owner: 'team-billing',
  class: 'standard',
  environment: 'prod',
  description: 'émoji 🔑 and </script>',
  tags: { app: 'billing', 'cost-center': '42' },
  rotationPeriod: '90d',
  maxUsesPerVersion: null,
  nextRotationAt: '2027-02-27T10:00:00.000Z',
  primaryVersion: 1,
  exportable: false,
  protection: 'software',
  deletionWindowDays: 30,
  deletionDate: null,
  createdAt: '2026-11-29T10:00:00.000Z',
  updatedAt: '2026-11-29T10:00:00.000Z',
  minDecryptionVersion: 1,
  prepublishPeriod: null,
  originatorPeriod: '30d',
  lastReviewedAt: null,
  nextReviewAt: '2027-11-29T10:00:00.000Z',
};

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  vi.resetModules();
});

describe('response serialization from schemas', () => {
  it('writes a key page, a key with versions and batch answers exactly as JSON.stringify would (parsed)', () => {
    const page = { keys: [key, { ...key, name: 'b', maxUsesPerVersion: 1000, tags: {} }], nextCursor: null };
    expect(JSON.parse(compileSerializer({ ...route, schema: keyListSchema })(page))).toEqual(page);
    const one = { ...key, versions: [version, { ...version, version: 2, state: 'pre_active', activationDate: key.createdAt }] };
    expect(JSON.parse(compileSerializer({ ...route, schema: keyViewSchema })(one))).toEqual(one);
    const batch = {
      items: [
        { ciphertext: 'kw:v1:AAAA', keyVersion: 3 },
        { error: { code: 'invalid_request', message: 'items[1]: plaintext: is not valid base64' } },
      ],
    };
    expect(JSON.parse(compileSerializer({ ...route, schema: encryptResponse })(batch))).toEqual(batch);
    expect(JSON.parse(compileSerializer({ ...route, schema: verifyResponse })({ valid: false, keyVersion: null }))).toEqual({
      valid: false,
      keyVersion: null,
    });
  });

  it('under test, an answer the schema would change fails with the paths that differ and never their values', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const serialize = compileSerializer({ ...route, schema: keyViewSchema });
    const attempt = (value: object) => {
      try {
        serialize(value);
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    };
    // A property the schema does not list (it would be dropped).
    const extra = attempt({ ...key, material: 'c2VjcmV0LWtleS1tYXRlcmlhbA==' });
    expect(extra).toBe('response schema of GET /v1/keys (200) does not match the answer at $.material');
    expect(stderr).toHaveBeenCalledWith(`keyward: ${extra}\n`);
    // A fraction in an integer (it would be truncated), null in a string that may not be null (it would be "").
    expect(attempt({ ...key, primaryVersion: 1.5 })).toMatch(/at \$\.primaryVersion$/);
    expect(attempt({ ...key, description: null })).toMatch(/at \$\.description$/);
    expect(attempt({ ...key, tags: { app: 7 } })).toMatch(/at \$\.tags\.app$/);
    expect(attempt({ ...key, versions: [{ ...version, uses: '12' }] })).toMatch(/at \$\.versions\[0\]\.uses$/);
    expect(stderr.mock.calls.join('')).not.toContain('c2VjcmV0');
  });

  it('in production a property missing from the schema is not sent', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    vi.stubEnv('KEYWARD_SERIALIZER_CHECK', '');
    vi.resetModules();
    const production = await import('../../src/frontends/rest/serialization.js');
    const text = production.compileSerializer({ ...route, schema: keyViewSchema })({ ...key, material: 'c2VjcmV0' });
    expect(text).not.toContain('material');
    expect(text).not.toContain('c2VjcmV0');
    expect(JSON.parse(text)).toEqual(key);
  });
});
