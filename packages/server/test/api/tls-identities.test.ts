import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

describe.each(STORE_KINDS)('tlsIdentities of principals (%s)', (store) => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ store });
  });
  afterAll(async () => h.close());

  it('POST registers identities (sorted, without duplicates); GET, the list and self show them; none is []', async () => {
    const created = await h.call('POST', '/v1/principals', {
      id: 'svc-billing',
      kind: 'service',
      roles: ['key-user'],
      tlsIdentities: ['uri:spiffe://example/svc-billing', 'dns:billing.internal', 'dns:billing.internal'],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.tlsIdentities).toEqual(['dns:billing.internal', 'uri:spiffe://example/svc-billing']);
    expect((await h.call('GET', '/v1/principals/svc-billing')).body.tlsIdentities).toEqual([
      'dns:billing.internal',
      'uri:spiffe://example/svc-billing',
    ]);
    const list = await h.call('GET', '/v1/principals');
    const byId = new Map((list.body.principals as { id: string; tlsIdentities: string[] }[]).map((p) => [p.id, p.tlsIdentities]));
    expect(byId.get('svc-billing')).toEqual(['dns:billing.internal', 'uri:spiffe://example/svc-billing']);
    expect(byId.get('admin')).toEqual([]);
    expect((await h.call('GET', '/v1/auth/self')).body.principal.tlsIdentities).toEqual([]);
  });

  it('PATCH replaces them whole (admin only), audited as principal.update naming the principal and identities', async () => {
    const patched = await h.call('PATCH', '/v1/principals/svc-billing', { tlsIdentities: ['uri:spiffe://example/billing-v2'] });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ id: 'svc-billing', kind: 'service', tlsIdentities: ['uri:spiffe://example/billing-v2'] });
    const cleared = await h.call('PATCH', '/v1/principals/svc-billing', { tlsIdentities: [] });
    expect(cleared.body.tlsIdentities).toEqual([]);
    const back = await h.call('PATCH', '/v1/principals/svc-billing', { tlsIdentities: ['dns:billing.internal'] });
    expect(back.body.tlsIdentities).toEqual(['dns:billing.internal']);
    // An empty patch changes nothing and answers the principal.
    expect((await h.call('PATCH', '/v1/principals/svc-billing', {})).body.tlsIdentities).toEqual(['dns:billing.internal']);

    const keyAdmin = await h.principal('ka', ['key-admin']);
    const refused = await h.call('PATCH', '/v1/principals/svc-billing', { tlsIdentities: ['dns:evil.internal'] }, keyAdmin);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    expect((await h.call('GET', '/v1/principals/svc-billing')).body.tlsIdentities).toEqual(['dns:billing.internal']);

    const missing = await h.call('PATCH', '/v1/principals/nobody', { tlsIdentities: [] });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');

    const records = await h.store.listAudit(0, 100_000);
    const updates = records.filter((r) => r.action === 'principal.update');
    expect(updates.filter((r) => r.outcome === 'success').map((r) => r.details.tlsIdentities)).toEqual([
      'uri:spiffe://example/billing-v2',
      '',
      'dns:billing.internal',
      undefined, // the empty patch changed nothing
    ]);
    expect(updates.every((r) => r.details.principal === 'svc-billing' || r.details.principal === 'nobody')).toBe(true);
    expect(updates.find((r) => r.actor === 'ka')).toMatchObject({ outcome: 'denied', errorCode: 'forbidden' });
  });

  it('an identity belongs to one principal: 409 conflict naming it, on POST and PATCH, changing nothing', async () => {
    const post = await h.call('POST', '/v1/principals', { id: 'svc-other', kind: 'service', tlsIdentities: ['dns:billing.internal'] });
    expect(post.status).toBe(409);
    expect(post.body.error).toMatchObject({ code: 'conflict' });
    expect(post.body.error.message).toContain("'dns:billing.internal' belongs to principal 'svc-billing'");
    expect((await h.call('GET', '/v1/principals/svc-other')).status).toBe(404);

    expect((await h.call('POST', '/v1/principals', { id: 'svc-other', kind: 'service' })).status).toBe(201);
    const patch = await h.call('PATCH', '/v1/principals/svc-other', { tlsIdentities: ['dns:other.internal', 'dns:billing.internal'] });
    expect(patch.status).toBe(409);
    expect(patch.body.error.code).toBe('conflict');
    expect((await h.call('GET', '/v1/principals/svc-other')).body.tlsIdentities).toEqual([]);
  });

  it.each([
    ['no prefix', ['spiffe://example/x']],
    ['a relative URI', ['uri:not a uri']],
    ['upper-case DNS name', ['dns:Billing.internal']],
    ['a DNS name with a bad label', ['dns:-bad.internal']],
    ['an empty DNS name', ['dns:']],
    ['more than 16', Array.from({ length: 17 }, (_, i) => `dns:host${i}.internal`)],
    ['not a string', [42]],
  ])('refuses %s with 400 naming tlsIdentities, changing nothing', async (_label, identities) => {
    for (const [method, path, body] of [
      ['POST', '/v1/principals', { id: 'svc-bad', kind: 'service', tlsIdentities: identities }],
      ['PATCH', '/v1/principals/svc-billing', { tlsIdentities: identities }],
    ] as const) {
      const r = await h.call(method, path, body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toContain('tlsIdentities');
    }
    expect((await h.call('GET', '/v1/principals/svc-bad')).status).toBe(404);
    expect((await h.call('GET', '/v1/principals/svc-billing')).body.tlsIdentities).toEqual(['dns:billing.internal']);
  });
});
