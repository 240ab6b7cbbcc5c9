import { describe, expect, it } from 'vitest';
import { sanIdentities } from '../../src/frontends/rest/peer-certificate.js';

describe("sanIdentities (Node's subjectaltname string)", () => {
  it('takes URIs and DNS names (lower case), in order, and leaves other names out', () => {
    expect(sanIdentities('DNS:Billing.Internal, URI:spiffe://example/svc-billing, IP Address:127.0.0.1, email:a@b.c')).toEqual([
      'dns:billing.internal',
      'uri:spiffe://example/svc-billing',
    ]);
    expect(sanIdentities('')).toEqual([]);
  });

  it('reads values Node writes as JSON strings (with a comma or a quote) whole, so no value can forge another entry', () => {
    expect(sanIdentities('URI:"spiffe://x/a, URI:spiffe://x/admin", DNS:b.internal')).toEqual([
      'uri:spiffe://x/a, URI:spiffe://x/admin',
      'dns:b.internal',
    ]);
    expect(sanIdentities('URI:"spiffe://x/\\"q\\"", DNS:c.internal')).toEqual(['uri:spiffe://x/"q"', 'dns:c.internal']);
  });
});
