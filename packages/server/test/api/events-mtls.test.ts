import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientCertificate } from '../../src/service/client-certificate.js';
import type { CallContext } from '../../src/service/context.js';
import { Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * An event stream opened by a mutual-TLS caller (no token) stays open at
 * each heartbeat's re-check while its certificate is good, and ends once the
 * certificate expires or its identity is removed (docs/events.md; the
 * certificate-only mode of docs/operations.md depends on it).
 */
describe.each(STORE_KINDS)('event streams of mutual-TLS callers (%s)', (store) => {
  let h: Harness;
  const DAY = 86_400_000;

  beforeAll(async () => {
    h = await Harness.start({ store });
    const created = await h.call('POST', '/v1/principals', {
      id: 'svc-watch',
      kind: 'service',
      roles: ['auditor'],
      tlsIdentities: ['uri:spiffe://test/svc-watch'],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });
  afterAll(async () => h.close());

  function certificate(fingerprint: string): ClientCertificate {
    return {
      verified: true,
      error: null,
      identities: ['uri:spiffe://test/svc-watch'],
      notAfter: h.clock.now().getTime() + DAY,
      clientAuth: true,
      fingerprint,
    };
  }
  const context = (clientCertificate: ClientCertificate): CallContext => ({
    credential: null,
    clientCertificate,
    requestId: 'req-mtls-stream',
    source: '127.0.0.1',
    namespace: 'default',
  });

  it('the re-check passes with the certificate alone, and fails once it expired', async () => {
    const stream = await h.keyward.events.subscribe(context(certificate('a1'.repeat(32))), { after: null, types: null });
    try {
      expect(await stream.revalidate()).toBe(true);
      h.clock.advance(2 * DAY);
      expect(await stream.revalidate()).toBe(false);
    } finally {
      stream.close();
    }
  });

  it('fails once the identity is removed from the principal', async () => {
    const stream = await h.keyward.events.subscribe(context(certificate('b2'.repeat(32))), { after: null, types: null });
    try {
      expect(await stream.revalidate()).toBe(true);
      const patched = await h.call('PATCH', '/v1/principals/svc-watch', { tlsIdentities: [] });
      expect(patched.status).toBe(200);
      expect(await stream.revalidate()).toBe(false);
    } finally {
      stream.close();
    }
  });
});
