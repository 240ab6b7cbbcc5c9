import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeywardClient } from '../src/index.js';
import { useServer } from './support/server.js';

/**
 * Every route of the REST front end has an SDK method. The routes come from
 * the real server's OpenAPI document (`GET /v1/openapi.json`, which lists
 * every route but itself); each maps to a call of the SDK, which is made
 * against a recording HTTP server to check that it sends that method and
 * path. A new route without a mapping fails the first test.
 */

const bytes = new Uint8Array([1, 2, 3]);
type Call = (c: KeywardClient) => Promise<unknown>;

/** `METHOD /path/{param}` → the SDK call that reaches it. */
const ROUTES: Record<string, Call> = {
  'GET /metrics': (c) => c.metrics(),
  'GET /v1/sys/health': (c) => c.health(),
  'POST /v1/sys/init': (c) => c.init({ shares: 3, threshold: 2 }),
  'POST /v1/sys/unseal': (c) => c.unseal('share'),
  'POST /v1/sys/seal': (c) => c.seal(),
  'POST /v1/sys/backup': (c) => c.backup(['age1x']),
  'GET /v1/sys/policy': (c) => c.policyStatus(),
  'GET /v1/auth/self': (c) => c.self(),
  'POST /v1/auth/totp': (c) => c.enrolTotp(),
  'POST /v1/auth/totp/confirm': (c) => c.confirmTotp('123456'),
  'DELETE /v1/principals/{id}/totp': (c) => c.removeTotp('p1'),
  'GET /v1/keys': (c) => c.listKeys(),
  'POST /v1/keys': (c) => c.createKey({ name: 'k', algorithm: 'aes-256-gcm', owner: 'team-a' }),
  'GET /v1/keys/{name}': (c) => c.getKey('k'),
  'PATCH /v1/keys/{name}': (c) => c.patchKey('k', { description: 'd' }),
  'POST /v1/keys/{name}/rotate': (c) => c.rotateKey('k'),
  'POST /v1/keys/{name}/enable': (c) => c.enableKey('k'),
  'POST /v1/keys/{name}/disable': (c) => c.disableKey('k'),
  'POST /v1/keys/{name}/review': (c) => c.reviewKey('k'),
  'POST /v1/keys/{name}/schedule-deletion': (c) => c.scheduleDeletion('k'),
  'POST /v1/keys/{name}/cancel-deletion': (c) => c.cancelDeletion('k'),
  'POST /v1/keys/{name}/versions/{version}/deactivate': (c) => c.deactivateVersion('k', 1),
  'POST /v1/keys/{name}/versions/{version}/compromise': (c) => c.compromiseVersion('k', 1),
  'POST /v1/keys/{name}/versions/{version}/destroy': (c) => c.destroyVersion('k', 1),
  'POST /v1/keys/{name}/versions/{version}/export': (c) =>
    c.exportVersion('k', 1, { publicKey: 'pem', algorithm: 'RSA_AES_KEY_WRAP_SHA_256' }),
  'GET /v1/keys/{name}/import-parameters': (c) => c.getImportParameters('k', 'RSA_AES_KEY_WRAP_SHA_256'),
  'POST /v1/keys/{name}/import': (c) => c.importKey('k', { importToken: 't', wrappedKey: 'w', algorithm: 'RSA_AES_KEY_WRAP_SHA_256' }),
  'POST /v1/keys/{name}/encrypt': (c) => c.encrypt('k', bytes),
  'POST /v1/keys/{name}/decrypt': (c) => c.decrypt('k', 'ct'),
  'POST /v1/keys/{name}/rewrap': (c) => c.rewrap('k', 'ct'),
  'POST /v1/keys/{name}/data-key': (c) => c.dataKey('k'),
  'POST /v1/keys/{name}/sign': (c) => c.sign('k', { message: bytes }),
  'POST /v1/keys/{name}/verify': (c) => c.verify('k', { message: bytes, signature: bytes }),
  'POST /v1/keys/{name}/mac': (c) => c.mac('k', bytes),
  'POST /v1/keys/{name}/verify-mac': (c) => c.verifyMac('k', bytes, bytes),
  'GET /v1/keys/{name}/public-key': (c) => c.publicKey('k'),
  'GET /v1/keys/{name}/jwks': (c) => c.jwks('k'),
  'GET /v1/keys/{name}/usage': (c) => c.usage('k'),
  'GET /v1/keys/{name}/grants': (c) => c.listGrants('k'),
  'POST /v1/keys/{name}/grants': (c) => c.addGrant('k', { principal: 'p1', operations: ['encrypt'] }),
  'DELETE /v1/keys/{name}/grants/{grantId}': (c) => c.removeGrant('k', 'g1'),
  'GET /v1/principals': (c) => c.listPrincipals(),
  'POST /v1/principals': (c) => c.createPrincipal({ id: 'p1', kind: 'service' }),
  'GET /v1/principals/{id}': (c) => c.getPrincipal('p1'),
  'PATCH /v1/principals/{id}': (c) => c.patchPrincipal('p1', { tlsIdentities: [] }),
  'POST /v1/principals/{id}/tokens': (c) => c.createToken('p1'),
  'POST /v1/principals/{id}/offboard': (c) => c.offboardPrincipal('p1', { reassignTo: 'team-a' }),
  'DELETE /v1/tokens/{tokenId}': (c) => c.revokeToken('t1'),
  'GET /v1/reports/inventory': (c) => c.inventoryReport(),
  'GET /v1/reports/compliance': (c) => c.complianceReport(),
  'GET /v1/audit/events': (c) => c.auditEvents(),
  'GET /v1/audit/verify': (c) => c.verifyAudit(),
  'GET /v1/audit/export': (c) => c.exportAudit(),
  'GET /v1/audit/public-key': (c) => c.auditPublicKey(),
  'POST /v1/audit/hash': (c) => c.auditHash({ value: 'v' }),
  'POST /v1/audit/checkpoints': (c) => c.auditCheckpoint(),
  'GET /v1/attestations/current': (c) => c.attestation(),
  'GET /v1/attestations/public-key': (c) => c.attestationPublicKey(),
  'GET /v1/events': (c) => c.events().next(),
  'GET /v1/webhooks': (c) => c.listWebhooks(),
  'POST /v1/webhooks': (c) => c.createWebhook({ url: 'https://h.example/x', events: ['key.rotated'], secret: 's'.repeat(16) }),
  'GET /v1/webhooks/{id}': (c) => c.getWebhook('w1'),
  'DELETE /v1/webhooks/{id}': (c) => c.removeWebhook('w1'),
  'GET /v1/webhooks/{id}/deliveries': (c) => c.webhookDeliveries('w1'),
  'GET /v1/alerts': (c) => c.listAlerts(),
  'GET /v1/alerts/{id}': (c) => c.getAlert('a1'),
  'POST /v1/alerts/{id}/acknowledge': (c) => c.acknowledgeAlert('a1'),
  'POST /v1/alerts/{id}/resolve': (c) => c.resolveAlert('a1', 'fixed'),
  'GET /v1/incidents': (c) => c.listIncidents(),
  'POST /v1/incidents': (c) => c.declareIncident({ type: 'key_compromise', key: 'k', reason: 'r' }),
  'GET /v1/incidents/{id}': (c) => c.getIncident('i1'),
  'PATCH /v1/incidents/{id}': (c) => c.updateIncident('i1', { rootCause: 'x' }),
  'GET /v1/incidents/{id}/blast-radius': (c) => c.incidentBlastRadius('i1'),
  'POST /v1/incidents/{id}/rewrap': (c) => c.rewrapForIncident('i1', [{ ciphertext: 'ct' }]),
  'GET /v1/approvals': (c) => c.listApprovals(),
  'GET /v1/approvals/{id}': (c) => c.getApproval('x1'),
  'POST /v1/approvals/{id}/approve': (c) => c.approve('x1'),
  'POST /v1/approvals/{id}/deny': (c) => c.deny('x1'),
};

function matches(route: string, method: string, path: string): boolean {
  const [routeMethod, template] = route.split(' ') as [string, string];
  const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
  return routeMethod === method && pattern.test(path);
}

describe('the SDK covers every route of the REST front end', () => {
  const ctx = useServer();
  let recorder: Server;
  let recorderUrl: string;
  const seen: Array<{ method: string; path: string }> = [];

  beforeAll(async () => {
    // Answers every request with an empty 200 (a JSON `{}`): only the request matters here.
    recorder = createServer((req, res) => {
      seen.push({ method: req.method ?? '', path: new URL(req.url ?? '/', 'http://x').pathname });
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    recorder.closeAllConnections();
    await new Promise<void>((resolve) => recorder.close(() => resolve()));
  });

  it('maps every route the server publishes, and no route it does not', async () => {
    const response = await fetch(`${ctx.server.url}/v1/openapi.json`);
    const document = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes.length).toBeGreaterThan(50);
    const unmapped = routes.filter((route) => ROUTES[route] === undefined);
    expect(unmapped, 'routes without an SDK method: add one and map it here').toEqual([]);
    const stale = Object.keys(ROUTES).filter((route) => !routes.includes(route));
    expect(stale, 'mapped routes the server does not have').toEqual([]);
  });

  it.each(Object.entries(ROUTES))('%s is what its SDK call sends', async (route, call) => {
    seen.length = 0;
    const client = new KeywardClient({ address: recorderUrl, token: 'kw_route_coverage', retries: 0 });
    // The recorder's `{}` is no valid answer for most calls: the request is what is checked.
    await call(client).catch(() => {});
    expect(seen).toHaveLength(1);
    const [request] = seen as [{ method: string; path: string }];
    expect(matches(route, request.method, request.path), `${request.method} ${request.path}`).toBe(true);
  });
});
