import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertView } from '@keyward/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyFile } from '../../src/policy/policy-file.js';
import { ManualClock } from '../../src/service/clock.js';
import { b64, Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * Anomaly alerts end to end: real traffic through the REST API, the alert
 * engine run by hand after moving the clock, alerts read, acknowledged and
 * resolved through the API, and delivered to a signed webhook. Each detector
 * fires on a scenario built for it (and nothing else fires); steady traffic
 * by known principals within hours raises nothing.
 */
const POLICY = `
alerts:
  volume: { bucket: 1m, alpha: 0.5, factor: 5, minCount: 20, warmupBuckets: 3 }
  invalidCiphertext: { window: 1m, threshold: 5 }
  authFailures: { window: 1m, threshold: 5 }
  offHours: { enabled: true, timezone: UTC, days: [mon, tue, wed, thu, fri], hours: "08:00-18:00" }
`;
const SECRET = 'whsec-alerts-0123456789abcdef';
const MINUTE = 60_000;
const ALL_ENVIRONMENTS = { environments: ['prod', 'staging', 'dev', 'test'] };

describe.each(STORE_KINDS)('anomaly alerts (%s)', (store) => {
  let h: Harness;
  let dir: string;
  let policy: PolicyFile;
  let receiver: WebhookReceiver;
  let svcA: string;
  let svcB: string;
  let auditor: string;
  const ciphertexts: Record<string, string> = {};
  const raisedByHook: AlertView[] = [];

  const run = () => h.keyward.alertEngine.runOnce();
  const all = async (query = ''): Promise<AlertView[]> => {
    const out: AlertView[] = [];
    let cursor: string | null = null;
    do {
      const r = await h.call('GET', `/v1/alerts?limit=1000${query}${cursor === null ? '' : `&cursor=${cursor}`}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      out.push(...r.body.alerts);
      cursor = r.body.nextCursor;
    } while (cursor !== null);
    return out;
  };
  /** Runs the engine and returns the alerts it raised (new ids only). */
  const newAlerts = async (): Promise<AlertView[]> => {
    const before = new Set((await all()).map((a) => a.id));
    await run();
    return (await all()).filter((a) => !before.has(a.id));
  };
  const encrypt = async (key: string, token: string, text = 'hello') => {
    const r = await h.call('POST', `/v1/keys/${key}/encrypt`, { plaintext: b64(text), context: { app: 't' } }, token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.ciphertext as string;
  };
  const decrypt = (key: string, token: string, ciphertext: string, context = { app: 't' }) =>
    h.call('POST', `/v1/keys/${key}/decrypt`, { ciphertext, context }, token);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-alerts-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    policy = await PolicyFile.open(join(dir, 'policy.yaml'), { clock: new ManualClock('2026-06-01T00:00:00.000Z') });
    h = await Harness.start({ store, policy, webhooks: { timeoutMs: 2_000, maxAttempts: 2, baseDelayMs: 10_000 } });
    h.keyward.alerts.onRaised((alert) => raisedByHook.push(alert));
    receiver = await WebhookReceiver.start(SECRET);
    // Monday 2026-06-01, 09:00 UTC: working hours.
    h.clock.advance(9 * 60 * MINUTE);
    // The first run learns the history that exists (here: the bootstrap) and raises nothing about it.
    expect(await run()).toMatchObject({ leader: true, raised: 0 });
    const hook = await h.call('POST', '/v1/webhooks', { url: receiver.url, events: ['alert.raised', 'alert.resolved'], secret: SECRET });
    expect(hook.status).toBe(201);

    svcA = await h.principal('svc-a', ['key-user'], ALL_ENVIRONMENTS);
    svcB = await h.principal('svc-b', ['key-user'], ALL_ENVIRONMENTS);
    auditor = await h.principal('alert-auditor', ['auditor']);
    for (const key of ['k-normal', 'k-tamper', 'k-retired', 'k-old', 'k-new', 'k-volume', 'k-reload']) {
      await h.createKey(key);
      await h.grant(key, key === 'k-volume' ? 'svc-b' : 'svc-a', ['encrypt', 'decrypt']);
    }
  });

  afterAll(async () => {
    await receiver?.close();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('first use: one alert per new (principal, key) pair, and only once', async () => {
    for (const key of ['k-normal', 'k-tamper', 'k-retired', 'k-old', 'k-reload']) ciphertexts[key] = await encrypt(key, svcA);
    await encrypt('k-volume', svcB);
    await encrypt('k-retired', h.adminToken);
    const raised = await newAlerts();
    expect(raised.map((a) => [a.type, a.subject.principal, a.subject.key]).sort()).toEqual(
      [
        ['first_use', 'admin', 'k-retired'],
        ['first_use', 'svc-a', 'k-normal'],
        ['first_use', 'svc-a', 'k-old'],
        ['first_use', 'svc-a', 'k-reload'],
        ['first_use', 'svc-a', 'k-retired'],
        ['first_use', 'svc-a', 'k-tamper'],
        ['first_use', 'svc-b', 'k-volume'],
      ].sort(),
    );
    const one = raised.find((a) => a.subject.principal === 'svc-a' && a.subject.key === 'k-normal') as AlertView;
    expect(one).toMatchObject({
      severity: 'low',
      state: 'open',
      count: 1,
      subject: { namespace: 'default', key: 'k-normal', version: null, principal: 'svc-a', source: null },
      evidence: { facts: { operation: 'encrypt' } },
    });
    expect(one.evidence.records[0]).toMatchObject({ action: 'crypto.encrypt', actor: 'svc-a', outcome: 'success' });
    expect(one.evidence.records[0]?.chain).toEqual(expect.any(String));
    expect(one.nextSteps.join(' ')).toContain("'svc-a'");
    // Known pairs now: using them again raises nothing.
    await encrypt('k-normal', svcA);
    expect(await newAlerts()).toEqual([]);
    // A new pair later: exactly that one.
    await encrypt('k-new', svcA);
    expect((await newAlerts()).map((a) => [a.type, a.subject.key])).toEqual([['first_use', 'k-new']]);
    // The hook saw every raised alert, in its wire form.
    expect(raisedByHook.map((a) => a.type)).toEqual(Array(8).fill('first_use'));
    // …and /metrics counts them, raised and still open.
    const scrape = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(scrape).toContain('keyward_alerts_raised_total{type="first_use"} 8');
    expect(scrape).toContain('keyward_alerts_open{type="first_use"} 8');
    // Acknowledge them in bulk: they stay listed as acknowledged.
    for (const a of await all('&state=open')) {
      expect((await h.call('POST', `/v1/alerts/${a.id}/acknowledge`, { note: 'setup of the test' })).status).toBe(200);
    }
  });

  it('normal traffic: steady use by known principals within hours raises nothing', async () => {
    for (let minute = 0; minute < 8; minute++) {
      h.clock.advance(MINUTE);
      const items = Array.from({ length: 5 }, (_, i) => ({ plaintext: b64(`m${minute}-${i}`), context: { app: 't' } }));
      const batch = await h.call('POST', '/v1/keys/k-normal/encrypt', { items }, svcA);
      expect(batch.status).toBe(200);
      for (const item of batch.body.items.slice(0, 3)) expect((await decrypt('k-normal', svcA, item.ciphertext)).status).toBe(200);
      await encrypt('k-volume', svcB);
      expect((await h.call('GET', '/v1/keys')).status).toBe(200);
      if (minute === 4) expect((await h.call('POST', '/v1/keys/k-normal/rotate', { reason: 'routine' })).status).toBe(200);
      if (minute === 6) expect((await h.call('GET', '/v1/keys', undefined, 'kw_mistyped-token')).status).toBe(401);
      expect(await newAlerts()).toEqual([]);
    }
  });

  it('volume spike: a principal far above its own baseline', async () => {
    // svc-b has used k-volume about once a minute; now 40 uses in one minute.
    h.clock.advance(MINUTE);
    const items = Array.from({ length: 40 }, (_, i) => ({ plaintext: b64(`bulk-${i}`) }));
    expect((await h.call('POST', '/v1/keys/k-volume/encrypt', { items }, svcB)).status).toBe(200);
    const raised = await newAlerts();
    expect(raised.map((a) => a.type)).toEqual(['volume_spike']);
    expect(raised[0]).toMatchObject({
      severity: 'medium',
      subject: { key: 'k-volume', principal: 'svc-b' },
      evidence: { facts: { count: 20, factor: 5, minCount: 20, bucket: '1m' } },
    });
  });

  it('invalid ciphertext burst: tampering with one key', async () => {
    h.clock.advance(MINUTE);
    for (let i = 0; i < 6; i++) {
      const r = await decrypt('k-tamper', svcA, ciphertexts['k-tamper'] as string, { app: `forged-${i}` });
      expect(r.body.error.code).toBe('invalid_ciphertext');
    }
    const raised = await newAlerts();
    expect(raised.map((a) => a.type)).toEqual(['invalid_ciphertext_burst']);
    expect(raised[0]).toMatchObject({
      severity: 'high',
      count: 6,
      subject: { namespace: 'default', key: 'k-tamper', principal: null },
      evidence: { facts: { threshold: 5, window: '1m', principals: 'svc-a', sources: '127.0.0.1' } },
    });
    expect(raised[0]?.evidence.records).toHaveLength(6);
    expect(raised[0]?.evidence.records.every((r) => r.errorCode === 'invalid_ciphertext')).toBe(true);
  });

  it('compromised version: recovery decryptions and refused attempts', async () => {
    h.clock.advance(MINUTE);
    expect((await h.call('POST', '/v1/keys/k-retired/versions/1/compromise', { reason: 'laptop stolen' })).status).toBe(200);
    expect(await newAlerts()).toEqual([]); // declaring it is not using it
    const refused = await decrypt('k-retired', svcA, ciphertexts['k-retired'] as string);
    expect(refused.body.error.code).toBe('invalid_state');
    const recovered = await decrypt('k-retired', h.adminToken, ciphertexts['k-retired'] as string);
    expect(recovered.status, JSON.stringify(recovered.body)).toBe(200);
    const raised = await newAlerts();
    expect(raised.map((a) => [a.type, a.subject.principal, a.subject.version, a.evidence.facts.recovery]).sort()).toEqual([
      ['compromised_version_use', 'admin', 1, true],
      ['compromised_version_use', 'svc-a', 1, false],
    ]);
    expect(raised.every((a) => a.severity === 'high')).toBe(true);
  });

  it('deactivated version: old data still read', async () => {
    h.clock.advance(MINUTE);
    expect((await h.call('POST', '/v1/keys/k-old/rotate')).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/k-old/versions/1/deactivate')).status).toBe(200);
    expect((await decrypt('k-old', svcA, ciphertexts['k-old'] as string)).status).toBe(200);
    await encrypt('k-old', svcA); // the new primary: fine
    const raised = await newAlerts();
    expect(raised.map((a) => [a.type, a.subject.principal, a.subject.version])).toEqual([['deactivated_version_use', 'svc-a', 1]]);
    expect(raised[0]?.nextSteps.join(' ')).toContain('rewrap');
  });

  it('failed-authentication burst from one source; repeats are counted into it, not duplicated', async () => {
    h.clock.advance(MINUTE);
    for (let i = 0; i < 5; i++) expect((await h.call('GET', '/v1/keys', undefined, `kw_guess-${i}`)).status).toBe(401);
    const raised = await newAlerts();
    expect(raised.map((a) => [a.type, a.subject.source])).toEqual([['auth_failure_burst', '127.0.0.1']]);
    const alert = raised[0] as AlertView;
    expect(alert).toMatchObject({ count: 5, severity: 'medium', subject: { namespace: null, key: null, principal: null } });

    // Acknowledged, then more failures: the same alert counts them.
    expect((await h.call('POST', `/v1/alerts/${alert.id}/acknowledge`)).status).toBe(200);
    h.clock.advance(10_000);
    for (let i = 0; i < 3; i++) await h.call('GET', '/v1/keys', undefined, `kw_guess-more-${i}`);
    expect(await newAlerts()).toEqual([]);
    const same = (await h.call('GET', `/v1/alerts/${alert.id}`)).body;
    expect(same).toMatchObject({ state: 'acknowledged', count: 8, firstSeen: alert.firstSeen });
    expect(same.lastSeen > alert.lastSeen).toBe(true);

    // Resolved: the next burst is a new alert.
    expect((await h.call('POST', `/v1/alerts/${alert.id}/resolve`, { note: 'scanner blocked at the firewall' })).status).toBe(200);
    h.clock.advance(2 * MINUTE);
    for (let i = 0; i < 5; i++) await h.call('GET', '/v1/keys', undefined, `kw_guess-again-${i}`);
    const again = await newAlerts();
    expect(again.map((a) => a.type)).toEqual(['auth_failure_burst']);
    expect(again[0]?.id).not.toBe(alert.id);
  });

  it('administrative action outside working hours', async () => {
    const now = h.clock.now();
    h.clock.advance(Date.parse('2026-06-01T23:10:00.000Z') - now.getTime()); // Monday 23:10 UTC
    expect((await h.call('POST', '/v1/principals', { id: 'night-owl', kind: 'user', roles: ['auditor'] })).status).toBe(201);
    expect((await h.call('GET', '/v1/keys')).status).toBe(200); // reading is not administering
    const raised = await newAlerts();
    expect(raised.map((a) => [a.type, a.subject.principal])).toEqual([['off_hours_admin', 'admin']]);
    expect(raised[0]?.evidence.facts).toMatchObject({ action: 'principal.create', localTime: 'Mon 23:10', timezone: 'UTC' });
    // Back to working hours (Tuesday 09:00) for what follows.
    h.clock.advance(Date.parse('2026-06-02T09:00:00.000Z') - h.clock.now().getTime());
  });

  it('a reloaded policy changes thresholds; an invalid one is refused whole and shows in GET /v1/sys/policy', async () => {
    const status = (await h.call('GET', '/v1/sys/policy')).body;
    expect(status).toMatchObject({ path: join(dir, 'policy.yaml'), source: 'file', lastError: null });
    writeFileSync(join(dir, 'policy.yaml'), `${POLICY}  firstUse: { enabled: nope }\n`);
    const error = await policy.reload();
    expect(error?.message).toBe('alerts.firstUse.enabled: must be a boolean (true or false) (line 7)');
    const refused = (await h.call('GET', '/v1/sys/policy', undefined, auditor)).body;
    expect(refused).toMatchObject({ digest: status.digest, loadedAt: status.loadedAt, lastError: error?.message });
    expect(policy.current().alerts.invalidCiphertext.threshold).toBe(5);

    // Two forged decrypts on k-reload: below the threshold of 5.
    for (let i = 0; i < 2; i++) await decrypt('k-reload', svcA, ciphertexts['k-reload'] as string, { app: 'x' });
    expect(await newAlerts()).toEqual([]);
    writeFileSync(join(dir, 'policy.yaml'), POLICY.replace('threshold: 5 }\n  authFailures', 'threshold: 3 }\n  authFailures'));
    expect(await policy.reload()).toBeNull();
    expect(policy.current().alerts.invalidCiphertext.threshold).toBe(3);
    const reloaded = (await h.call('GET', '/v1/sys/policy')).body;
    expect(reloaded.digest).not.toBe(status.digest);
    expect(reloaded.lastError).toBeNull();
    await decrypt('k-reload', svcA, ciphertexts['k-reload'] as string, { app: 'x' });
    expect((await newAlerts()).map((a) => [a.type, a.subject.key])).toEqual([['invalid_ciphertext_burst', 'k-reload']]);
    expect((await h.call('GET', '/v1/sys/policy', undefined, svcA)).status).toBe(403);
  });

  it('lists with filters and paging; reads, acknowledges and resolves with the right roles; refuses bad input', async () => {
    const everything = await all();
    expect(everything.length).toBeGreaterThanOrEqual(15);
    const seqOrder = everything.map((a) => a.raisedAt);
    expect([...seqOrder].sort().reverse()).toEqual(seqOrder); // newest first
    const page = await h.call('GET', '/v1/alerts?limit=2');
    expect(page.body.alerts).toHaveLength(2);
    const next = await h.call('GET', `/v1/alerts?limit=2&cursor=${page.body.nextCursor}`);
    expect(next.body.alerts.map((a: AlertView) => a.id)).toEqual(everything.slice(2, 4).map((a) => a.id));
    expect((await all('&type=first_use')).every((a) => a.type === 'first_use')).toBe(true);
    expect((await all('&key=k-tamper')).map((a) => a.type).sort()).toEqual(['first_use', 'invalid_ciphertext_burst']);
    expect((await all('&state=resolved')).map((a) => a.type)).toEqual(['auth_failure_burst']);
    expect((await all('&key=k-tamper')).length).toBe(2);
    expect(
      (await h.call('GET', '/v1/alerts?key=k-tamper', undefined, h.adminToken, { 'x-keyward-namespace': 'other' })).body.alerts,
    ).toEqual([]);

    const bad: Array<[string, string]> = [
      ['/v1/alerts?state=closed', 'querystring.state: must be one of open, acknowledged, resolved'],
      ['/v1/alerts?type=meteor', 'querystring.type: must be one of first_use'],
      ['/v1/alerts?limit=0', 'querystring.limit'],
      ['/v1/alerts?cursor=abc', 'querystring.cursor'],
      ['/v1/alerts?colour=red', 'querystring.colour: is not a known field'],
      ['/v1/alerts/not-a-uuid', 'params.id'],
    ];
    for (const [path, message] of bad) {
      const r = await h.call('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.message, path).toContain(message);
    }
    expect((await h.call('GET', '/v1/alerts/00000000-0000-4000-8000-000000000000')).body.error.code).toBe('not_found');

    const target = (await all('&type=volume_spike'))[0] as AlertView;
    // Auditors read, but do not acknowledge or resolve; key users do neither.
    expect((await h.call('GET', '/v1/alerts', undefined, auditor)).status).toBe(200);
    expect((await h.call('GET', `/v1/alerts/${target.id}`, undefined, auditor)).body.id).toBe(target.id);
    expect((await h.call('POST', `/v1/alerts/${target.id}/acknowledge`, {}, auditor)).body.error.code).toBe('forbidden');
    expect((await h.call('POST', `/v1/alerts/${target.id}/resolve`, { note: 'x' }, auditor)).body.error.code).toBe('forbidden');
    expect((await h.call('GET', '/v1/alerts', undefined, svcA)).body.error.code).toBe('forbidden');

    const ackBad = await h.call('POST', `/v1/alerts/${target.id}/acknowledge`, { note: 'x', extra: 1 });
    expect(ackBad.body.error.message).toBe('extra: is not a known field');
    const ack = await h.call('POST', `/v1/alerts/${target.id}/acknowledge`, { note: 'looking into it' });
    expect(ack.body).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'admin', acknowledgeNote: 'looking into it' });
    const twice = await h.call('POST', `/v1/alerts/${target.id}/acknowledge`);
    expect([twice.status, twice.body.error.code]).toEqual([409, 'invalid_state']);

    for (const [body, message] of [
      [undefined, 'body'],
      [{}, 'note: is required'],
      [{ note: '' }, 'note: must NOT have fewer than 1 characters'],
      [{ note: '   ' }, 'note: say why the alert is resolved'],
      [{ note: 'x'.repeat(2049) }, 'note: must NOT have more than 2048 characters'],
    ] as Array<[object | undefined, string]>) {
      const r = await h.call('POST', `/v1/alerts/${target.id}/resolve`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toContain(message);
    }
    expect((await h.call('GET', `/v1/alerts/${target.id}`)).body.state).toBe('acknowledged'); // nothing changed
    const resolved = await h.call('POST', `/v1/alerts/${target.id}/resolve`, { note: 'backfill job, announced' });
    expect(resolved.body).toMatchObject({ state: 'resolved', resolvedBy: 'admin', resolveNote: 'backfill job, announced' });
    expect((await h.call('POST', `/v1/alerts/${target.id}/resolve`, { note: 'again' })).body.error.code).toBe('invalid_state');
    expect((await h.call('POST', `/v1/alerts/${target.id}/acknowledge`)).body.error.code).toBe('invalid_state');

    // Open alerts per type, for the metrics.
    const counts = await h.keyward.alerts.openCounts();
    const open: Record<string, number> = {};
    for (const a of await all('&state=open')) open[a.type] = (open[a.type] ?? 0) + 1;
    expect(Object.fromEntries(counts.map((c) => [c.type, c.count]))).toEqual(open);

    // Every call went through the gate: audited, the notes not copied.
    const records = (await h.store.listAudit(0, 1_000_000)).filter((r) => r.action.startsWith('alert.'));
    expect(records.some((r) => r.action === 'alert.resolve' && r.outcome === 'success' && r.details.alertId === target.id)).toBe(true);
    expect(records.some((r) => r.action === 'alert.acknowledge' && r.outcome === 'denied' && r.actor === 'alert-auditor')).toBe(true);
    expect(JSON.stringify(records)).not.toContain('backfill job');
  });

  it('alerts reach a webhook, signed: alert.raised and alert.resolved', async () => {
    const result = await h.keyward.dispatcher.runOnce();
    expect(result.failed).toBe(0);
    const events = receiver.received.map((d) => ({ ...d, event: JSON.parse(d.body) }));
    expect(events.every((d) => d.signatureValid)).toBe(true);
    const raised = events.filter((d) => d.event.type === 'alert.raised');
    const alerts = await all();
    expect(raised.map((d) => d.event.data.alertId).sort()).toEqual(alerts.map((a) => a.id).sort());
    const burst = raised.find((d) => d.event.data.alertType === 'auth_failure_burst');
    expect(burst?.headers['x-keyward-event']).toBe('alert.raised');
    expect(Object.keys(burst?.event)).toEqual(['id', 'type', 'time', 'namespace', 'key', 'keyId', 'version', 'data']);
    expect(burst?.event).toMatchObject({ namespace: null, key: null, keyId: null, version: null });
    expect(burst?.event.data).toMatchObject({ severity: 'medium', source: '127.0.0.1', principal: null });
    const tamper = raised.find((d) => d.event.data.alertType === 'invalid_ciphertext_burst' && d.event.key === 'k-tamper');
    expect(tamper?.event).toMatchObject({ namespace: 'default', key: 'k-tamper', keyId: expect.any(String) });
    const resolved = events.filter((d) => d.event.type === 'alert.resolved').map((d) => d.event.data.alertType);
    expect(resolved.sort()).toEqual(['auth_failure_burst', 'volume_spike']);
    // Key events are not delivered to a webhook subscribed to alerts only.
    expect(events.every((d) => d.event.type.startsWith('alert.'))).toBe(true);
  });

  it('detector state survives a restart: known pairs stay known, windows keep counting', async () => {
    for (const a of await all('&type=auth_failure_burst&state=open')) {
      expect((await h.call('POST', `/v1/alerts/${a.id}/resolve`, { note: 'done' })).status).toBe(200);
    }
    h.clock.advance(MINUTE);
    for (let i = 0; i < 3; i++) await h.call('GET', '/v1/keys', undefined, `kw_before-restart-${i}`);
    expect(await newAlerts()).toEqual([]);
    await h.restart();
    await encrypt('k-normal', svcA); // known before the restart: no first_use
    for (let i = 0; i < 2; i++) await h.call('GET', '/v1/keys', undefined, `kw_after-restart-${i}`);
    expect((await newAlerts()).map((a) => a.type)).toEqual(['auth_failure_burst']);
  });
});
