import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => h.close());

describe('GET /v1/openapi.json', () => {
  it('documents every route of API.md with the request schemas the server validates', async () => {
    const r = await h.call('GET', '/v1/openapi.json', undefined, null);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.0.3');
    const paths = Object.keys(r.body.paths);
    for (const path of [
      '/v1/sys/health',
      '/v1/sys/init',
      '/v1/sys/unseal',
      '/v1/sys/seal',
      '/v1/auth/self',
      '/v1/keys',
      '/v1/keys/{name}',
      '/v1/keys/{name}/rotate',
      '/v1/keys/{name}/enable',
      '/v1/keys/{name}/disable',
      '/v1/keys/{name}/versions/{version}/deactivate',
      '/v1/keys/{name}/versions/{version}/compromise',
      '/v1/keys/{name}/schedule-deletion',
      '/v1/keys/{name}/cancel-deletion',
      '/v1/keys/{name}/encrypt',
      '/v1/keys/{name}/decrypt',
      '/v1/keys/{name}/rewrap',
      '/v1/keys/{name}/data-key',
      '/v1/keys/{name}/sign',
      '/v1/keys/{name}/verify',
      '/v1/keys/{name}/mac',
      '/v1/keys/{name}/verify-mac',
      '/v1/keys/{name}/public-key',
      '/v1/principals',
      '/v1/principals/{id}',
      '/v1/principals/{id}/tokens',
      '/v1/tokens/{tokenId}',
      '/v1/auth/totp',
      '/v1/auth/totp/confirm',
      '/v1/principals/{id}/totp',
      '/v1/keys/{name}/grants',
      '/v1/keys/{name}/grants/{grantId}',
    ]) {
      expect(paths, path).toContain(path);
    }
    const create = r.body.paths['/v1/keys'].post.requestBody.content['application/json'].schema;
    expect(create.required).toEqual(['name', 'algorithm', 'owner']);
    expect(create.additionalProperties).toBe(false);
    expect(create.properties.algorithm.enum).toContain('ml-dsa-65');
    // Answers are documented where the route declares them (responses.ts).
    const answer = (path: string, method: string, status: string) =>
      r.body.paths[path][method].responses[status].content['application/json'].schema;
    expect(answer('/v1/keys', 'post', '201').required).toContain('primaryVersion');
    expect(Object.keys(answer('/v1/keys', 'get', '200').properties)).toEqual(['keys', 'nextCursor']);
    expect(Object.keys(answer('/v1/keys/{name}/encrypt', 'post', '200').properties)).toEqual(['ciphertext', 'keyVersion', 'items']);
    expect(answer('/v1/keys/{name}/verify', 'post', '200').properties.keyVersion.nullable).toBe(true);
  });
});
