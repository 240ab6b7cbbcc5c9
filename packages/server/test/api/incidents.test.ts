import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from '../support/harness.js';
import { POSTGRES_URL, STORE_KINDS } from '../support/stores.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

type Json = Record<string, any>;

const T0 = '2026-06-01T00:00:00.000Z';
const T1 = '2026-06-01T01:00:00.000Z';
const T2 = '2026-06-01T02:00:00.000Z';
const T3 = '2026-06-01T03:00:00.000Z';
const HOUR = 3_600_000;
const SECRET = 'whsec-incidents-0123456789abcdef';
const A = '10.0.0.1';
const B = '10.0.0.2';

/**
 * The key-compromise playbook through the real REST app: a scripted traffic
 * set from two principals and two source addresses over two versions, then
 * the blast radius must be exactly that traffic; containment, rotation,
 * notification, recovery, closing; bad input and authorization.
 */
describe.each(STORE_KINDS)('incidents (%s)', (store) => {
  let h: Harness;
  let receiver: WebhookReceiver;
  let svcA: string;
  let svcB: string;
  const v1: string[] = [];
  const v2: string[] = [];
  let incidentA: Json;
  let incidentB: Json;

  /** A cryptographic operation from a given source address (the harness always calls from 127.0.0.1). */
  async function op(token: string, source: string, path: string, body: Json, status = 200): Promise<Json> {
    for (const p of [body.plaintext, ...(body.items ?? []).map((i: Json) => i.plaintext)]) if (typeof p === 'string') h.secrets.add(p);
    const r = await h.app.inject({
      method: 'POST',
      url: path,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
      remoteAddress: source,
    });
    expect(r.statusCode, r.body).toBe(status);
    const parsed = JSON.parse(r.body) as Json;
    if (typeof parsed.plaintext === 'string') h.secrets.add(parsed.plaintext);
    return parsed;
  }

  beforeAll(async () => {
    h = await Harness.start({ store, incidents: { ackTimeoutMs: 300, ackPollMs: 10 } });
    receiver = await WebhookReceiver.start(SECRET);
    svcA = await h.principal('svc-a', ['key-user']);
    svcB = await h.principal('svc-b', ['key-user']);
    await h.createKey('ledger');
    await h.grant('ledger', 'svc-a', ['encrypt', 'decrypt', 'data-key']);
    await h.grant('ledger', 'svc-b', ['decrypt', 'data-key', 'rewrap']);

    // T0, version 1: svc-a from A encrypts 2 + a batch of 3 and takes 2 data keys; svc-b from B decrypts 2 and takes
    // 1 data key; svc-a decrypts 1 from B.
    for (const p of ['one', 'two']) v1.push((await op(svcA, A, '/v1/keys/ledger/encrypt', { plaintext: b64(`ledger ${p}`) })).ciphertext);
    const batch = await op(svcA, A, '/v1/keys/ledger/encrypt', { items: ['3', '4', '5'].map((p) => ({ plaintext: b64(`ledger ${p}`) })) });
    v1.push(...batch.items.map((i: Json) => i.ciphertext));
    for (let i = 0; i < 2; i++) await op(svcA, A, '/v1/keys/ledger/data-key', { includePlaintext: false });
    for (const ciphertext of v1.slice(0, 2)) await op(svcB, B, '/v1/keys/ledger/decrypt', { ciphertext });
    await op(svcB, B, '/v1/keys/ledger/data-key', { includePlaintext: false });
    await op(svcA, B, '/v1/keys/ledger/decrypt', { ciphertext: v1[2] });
    // Refused before reaching a version: not part of any blast radius.
    await op(svcB, B, '/v1/keys/ledger/encrypt', { plaintext: b64('no grant') }, 403);

    // T1: rotate. Version 2: svc-a from A encrypts 2; svc-b from B rewraps 2 version-1 ciphertexts to version 2 and
    // decrypts one version-2 ciphertext; svc-a decrypts one more version-1 ciphertext from A.
    h.clock.advance(HOUR);
    expect((await h.call('POST', '/v1/keys/ledger/rotate', {})).status).toBe(200);
    for (const p of ['six', 'seven']) v2.push((await op(svcA, A, '/v1/keys/ledger/encrypt', { plaintext: b64(`ledger ${p}`) })).ciphertext);
    for (const ciphertext of v1.slice(3, 5)) v2.push((await op(svcB, B, '/v1/keys/ledger/rewrap', { ciphertext })).ciphertext);
    await op(svcB, B, '/v1/keys/ledger/decrypt', { ciphertext: v2[0] });
    await op(svcA, A, '/v1/keys/ledger/decrypt', { ciphertext: v1[4] });
    // Subscribed from now on: the receiver hears of the incident only.
    const hook = await h.call('POST', '/v1/webhooks', {
      url: receiver.url,
      events: ['version.compromised', 'key.rotated', 'incident.opened', 'incident.closed'],
      secret: SECRET,
    });
    expect(hook.status).toBe(201);
    h.clock.advance(HOUR);
  });
  afterAll(async () => {
    await receiver.close();
    await h.close();
  });

  it('declares a compromise of the primary version: contain, rotate, notify, blast radius, recovery', async () => {
    const r = await h.call('POST', '/v1/incidents', { type: 'key_compromise', key: 'ledger', reason: 'v2 material found in a crash dump' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    incidentA = r.body;
    expect(incidentA).toMatchObject({
      type: 'key_compromise',
      state: 'open',
      namespace: 'default',
      key: 'ledger',
      version: 2,
      reason: 'v2 material found in a crash dump',
      declaredBy: 'admin',
      declaredAt: T2,
      origin: 'manual',
      alertId: null,
      rotatedTo: 3,
      rekeyedAt: T2,
      timeToRekeyMs: 0,
      rootCause: null,
      followUps: [],
      closedAt: null,
    });
    expect(incidentA.containment).toEqual({
      containedAt: T2,
      timeToContainMs: 0,
      timeoutMs: 300,
      timedOut: false,
      nodes: [{ node: expect.any(String), expected: true, ackedAt: T2, delayMs: 0 }],
    });
    expect(incidentA.steps.map((s: Json) => [s.name, s.state])).toEqual([
      ['contain', 'done'],
      ['rotate', 'done'],
      ['notify', 'done'],
      ['blast_radius', 'done'],
      ['recovery', 'running'],
    ]);
    for (const step of incidentA.steps) expect(step.startedAt).toBe(T2);
    expect(incidentA.steps[0].outcome).toMatch(/^version 2 compromised: .* on 1 node, the last after 0 ms$/);
    expect(incidentA.steps[1].outcome).toMatch(/version 3 is the primary version/);
    expect(incidentA.steps[2].details).toEqual({ events: 'version.compromised,key.rotated,incident.opened', webhooks: 1 });
    expect(incidentA.steps[4]).toMatchObject({ finishedAt: null, durationMs: null, details: { remaining: 4, raiseAt: null } });

    const key = (await h.call('GET', '/v1/keys/ledger')).body;
    expect(key.primaryVersion).toBe(3);
    expect(key.versions.map((v: Json) => [v.version, v.state, v.trigger])).toEqual([
      [1, 'active', 'created'],
      [2, 'compromised', 'manual'],
      [3, 'active', 'event'],
    ]);
  });

  it('the blast radius is exactly the traffic that used the version', () => {
    expect(incidentA.blastRadius).toEqual({
      incident: incidentA.id,
      namespace: 'default',
      key: 'ledger',
      keyId: incidentA.keyId,
      version: 2,
      from: T0,
      declaredAt: T2,
      generatedAt: T2,
      principals: ['svc-a', 'svc-b'],
      sources: [A, B],
      firstUseAt: T1,
      lastUseAt: T1,
      byOperation: { decrypt: 1, encrypt: 2, rewrap: 2 },
      uses: [
        { principal: 'svc-a', source: A, operation: 'encrypt', count: 2, firstAt: T1, lastAt: T1 },
        { principal: 'svc-b', source: B, operation: 'decrypt', count: 1, firstAt: T1, lastAt: T1 },
        { principal: 'svc-b', source: B, operation: 'rewrap', count: 2, firstAt: T1, lastAt: T1 },
      ],
      issued: { ciphertexts: 4, dataKeys: 0, signatures: 0, macs: 0 },
      afterContainment: { uses: [], denied: [] },
    });
    expect(incidentA.recovery).toEqual({
      ciphertextsIssued: 4,
      dataKeysIssued: 0,
      rewrappedBeforeIncident: 0,
      rewrappedSinceIncident: 0,
      remaining: 4,
      complete: false,
      waived: null,
      raiseMinDecryptionVersionAfter: null,
      raiseMinDecryptionVersionAt: null,
      minDecryptionVersionRaisedAt: null,
    });
  });

  it('contains: encrypt never uses the old version, decrypt with it only for principals allowed to recover', async () => {
    expect((await op(svcA, A, '/v1/keys/ledger/encrypt', { plaintext: b64('after') })).keyVersion).toBe(3);
    const refused = await op(svcB, B, '/v1/keys/ledger/decrypt', { ciphertext: v2[0] }, 409);
    expect(refused.error).toMatchObject({ code: 'invalid_state', message: expect.stringContaining('compromised') });
    const recovered = await h.call('POST', '/v1/keys/ledger/decrypt', { ciphertext: v2[0] });
    expect(recovered.status).toBe(200);
    expect(Buffer.from(recovered.body.plaintext, 'base64').toString()).toBe('ledger six');

    const live = await h.call('GET', `/v1/incidents/${incidentA.id}/blast-radius`);
    expect(live.status).toBe(200);
    expect(live.body.uses).toEqual(incidentA.blastRadius.uses);
    expect(live.body.afterContainment).toEqual({
      uses: [{ principal: 'admin', source: '127.0.0.1', operation: 'decrypt', count: 1, firstAt: T2, lastAt: T2 }],
      denied: [{ principal: 'svc-b', source: B, operation: 'decrypt', errorCode: 'invalid_state', count: 1, firstAt: T2, lastAt: T2 }],
    });
  });

  it('notifies: signed webhook deliveries of the compromise, the rotation and the incident', async () => {
    await h.keyward.dispatcher.runOnce();
    const delivered = receiver.received.map((d): Json => ({ valid: d.signatureValid, ...(JSON.parse(d.body) as Json) }));
    expect(delivered.map((d) => [d.type, d.version, d.valid])).toEqual([
      ['version.compromised', 2, true],
      ['key.rotated', 3, true],
      ['incident.opened', 2, true],
    ]);
    expect(delivered[2]?.data).toMatchObject({ incident: incidentA.id, origin: 'manual', rotatedTo: 3 });
  });

  it('streams the steps as NDJSON; a non-primary version is contained without rotating', async () => {
    h.clock.advance(HOUR);
    const r = await h.app.inject({
      method: 'POST',
      url: '/v1/incidents',
      headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      payload: JSON.stringify({
        type: 'key_compromise',
        key: 'ledger',
        version: 1,
        reason: 'backup tape lost',
        raiseMinDecryptionVersionAfter: '7d',
      }),
    });
    expect(r.statusCode, r.body).toBe(201);
    expect(r.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(r.headers['x-request-id']).toEqual(expect.any(String));
    const lines = r.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Json);
    expect(lines.map((l) => (l.type === 'step' ? `${l.step.name}:${l.step.state}` : l.type))).toEqual([
      'contain:running',
      'contain:done',
      'rotate:skipped',
      'notify:done',
      'blast_radius:done',
      'recovery:running',
      'incident',
    ]);
    incidentB = lines.at(-1)?.incident as Json;
    expect(incidentB).toMatchObject({ version: 1, rotatedTo: null, declaredAt: T3 });
    expect(incidentB.steps[1].outcome).toBe('not needed: version 1 was not the primary version; version 3 stays primary');
    expect(incidentB.blastRadius).toMatchObject({
      principals: ['svc-a', 'svc-b'],
      sources: [A, B],
      firstUseAt: T0,
      lastUseAt: T1,
      byOperation: { 'data-key': 3, decrypt: 4, encrypt: 5, 'rewrap-from': 2 },
      uses: [
        { principal: 'svc-a', source: A, operation: 'data-key', count: 2, firstAt: T0, lastAt: T0 },
        { principal: 'svc-a', source: A, operation: 'decrypt', count: 1, firstAt: T1, lastAt: T1 },
        { principal: 'svc-a', source: A, operation: 'encrypt', count: 5, firstAt: T0, lastAt: T0 },
        { principal: 'svc-a', source: B, operation: 'decrypt', count: 1, firstAt: T0, lastAt: T0 },
        { principal: 'svc-b', source: B, operation: 'data-key', count: 1, firstAt: T0, lastAt: T0 },
        { principal: 'svc-b', source: B, operation: 'decrypt', count: 2, firstAt: T0, lastAt: T0 },
        { principal: 'svc-b', source: B, operation: 'rewrap-from', count: 2, firstAt: T1, lastAt: T1 },
      ],
      issued: { ciphertexts: 5, dataKeys: 3, signatures: 0, macs: 0 },
      afterContainment: { uses: [], denied: [] },
    });
    expect(incidentB.recovery).toMatchObject({
      ciphertextsIssued: 5,
      dataKeysIssued: 3,
      rewrappedBeforeIncident: 2,
      rewrappedSinceIncident: 0,
      remaining: 6,
      complete: false,
      raiseMinDecryptionVersionAfter: '7d',
      raiseMinDecryptionVersionAt: '2026-06-08T03:00:00.000Z',
    });
    expect((await h.call('GET', '/v1/keys/ledger')).body.primaryVersion).toBe(3);
    await op(svcA, A, '/v1/keys/ledger/decrypt', { ciphertext: v1[0] }, 409);
  });

  it('recovers: the batch rewrap re-encrypts under the primary version and reports progress', async () => {
    const items = v2.map((ciphertext) => ({ ciphertext }));
    const refused = await op(svcB, B, `/v1/incidents/${incidentA.id}/rewrap`, { items }, 200);
    expect(refused.items.map((i: Json) => i.error?.code)).toEqual(['invalid_state', 'invalid_state', 'invalid_state', 'invalid_state']);
    expect(refused.recovery).toMatchObject({ remaining: 4, complete: false });

    const r = await h.call('POST', `/v1/incidents/${incidentA.id}/rewrap`, { items: [...items, { ciphertext: 'garbage' }] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.items.slice(0, 4).map((i: Json) => i.keyVersion)).toEqual([3, 3, 3, 3]);
    expect(r.body.items[4].error).toMatchObject({ code: 'invalid_ciphertext', message: expect.stringMatching(/^items\[4\]: /) });
    expect(r.body.recovery).toMatchObject({ ciphertextsIssued: 4, rewrappedSinceIncident: 4, remaining: 0, complete: true });
    const decrypted = await op(svcA, A, '/v1/keys/ledger/decrypt', { ciphertext: r.body.items[0].ciphertext });
    expect(Buffer.from(decrypted.plaintext, 'base64').toString()).toBe('ledger six');
  });

  it('closes only with a root cause and recovery done or waived; follow-ups are recorded', async () => {
    const early = await h.call('PATCH', `/v1/incidents/${incidentB.id}`, { state: 'closed', rootCause: 'tape left in a taxi' });
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/6 ciphertexts and data keys issued under version 1 not re-encrypted yet/);
    expect((await h.call('GET', `/v1/incidents/${incidentB.id}`)).body.rootCause).toBeNull();

    const noCause = await h.call('PATCH', `/v1/incidents/${incidentA.id}`, { state: 'closed' });
    expect(noCause.status).toBe(409);
    expect(noCause.body.error).toMatchObject({ code: 'invalid_state', message: expect.stringContaining('root cause') });

    const followUps = [
      { action: 'scrub crash dumps of key material', owner: 'team-platform', due: '2026-07-01', done: false },
      { action: 'rotate the dump bucket credentials', owner: 'alice@example.com', due: '2026-06-15T12:00:00Z', done: true },
    ];
    const noted = await h.call('PATCH', `/v1/incidents/${incidentA.id}`, { rootCause: 'core dumps kept key material', followUps });
    expect(noted.status, JSON.stringify(noted.body)).toBe(200);
    expect(noted.body).toMatchObject({ state: 'open', rootCause: 'core dumps kept key material', followUps });

    const closed = await h.call('PATCH', `/v1/incidents/${incidentA.id}`, { state: 'closed' });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body).toMatchObject({ state: 'closed', closedBy: 'admin', closedAt: T3, recovery: { complete: true } });
    expect(closed.body.steps.map((s: Json) => [s.name, s.state])).toEqual([
      ['contain', 'done'],
      ['rotate', 'done'],
      ['notify', 'done'],
      ['blast_radius', 'done'],
      ['recovery', 'done'],
      ['close', 'done'],
    ]);
    expect(closed.body.steps[5].outcome).toBe('closed by admin; root cause recorded; 2 follow-ups (1 open)');
    // A closed incident still takes follow-up edits; closing again changes nothing.
    const edited = await h.call('PATCH', `/v1/incidents/${incidentA.id}`, { followUps: followUps.map((f) => ({ ...f, done: true })) });
    expect(edited.body.followUps.every((f: Json) => f.done)).toBe(true);
    expect((await h.call('PATCH', `/v1/incidents/${incidentA.id}`, { state: 'closed' })).body.closedAt).toBe(T3);
    const waive = await h.call('PATCH', `/v1/incidents/${incidentA.id}`, { waiveRecovery: 'too late' });
    expect(waive.body.error.code).toBe('invalid_state');

    await h.keyward.dispatcher.runOnce();
    expect(receiver.received.map((d) => JSON.parse(d.body).type)).toContain('incident.closed');
  });

  it('raises minDecryptionVersion when the grace period ends, which completes recovery', async () => {
    expect((await h.keyward.incidentJobs.runOnce()).raised).toBe(0);
    h.clock.advance(7 * 24 * HOUR);
    const run = await h.keyward.incidentJobs.runOnce();
    expect(run).toMatchObject({ leader: true, raised: 1, recovered: 1, failures: 0 });
    expect((await h.call('GET', '/v1/keys/ledger')).body.minDecryptionVersion).toBe(2);
    const r = (await h.call('GET', `/v1/incidents/${incidentB.id}`)).body;
    expect(r.recovery).toMatchObject({ remaining: 6, complete: true, minDecryptionVersionRaisedAt: '2026-06-08T03:00:00.000Z' });
    expect(r.steps.map((s: Json) => [s.name, s.state])).toEqual([
      ['contain', 'done'],
      ['rotate', 'skipped'],
      ['notify', 'done'],
      ['blast_radius', 'done'],
      ['recovery', 'done'],
      ['raise_min_decryption_version', 'done'],
    ]);
    expect(r.steps[5].outcome).toBe('minDecryptionVersion raised from 1 to 2: version 1 and older no longer decrypt or verify');
    const closed = await h.call('PATCH', `/v1/incidents/${incidentB.id}`, { state: 'closed', rootCause: 'tape left in a taxi' });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect((await h.keyward.incidentJobs.runOnce()).raised).toBe(0);
  });

  it('records every step in the audit trail', async () => {
    const records = (await h.store.listAudit(0, 1_000_000)).filter((a) => a.details.incident === incidentA.id);
    expect(records.filter((a) => a.action === 'incident.step').map((a) => a.details.step)).toEqual([
      'contain',
      'rotate',
      'notify',
      'blast_radius',
      'recovery',
      'close',
    ]);
    expect(records.find((a) => a.action === 'incident.declare')).toMatchObject({
      actor: 'admin',
      key: 'ledger',
      keyVersion: 2,
      outcome: 'success',
      details: { type: 'key_compromise', reason: 'v2 material found in a crash dump', incident: incidentA.id, rotatedTo: 3 },
    });
    const jobSteps = (await h.store.listAudit(0, 1_000_000)).filter(
      (a) => a.action === 'incident.step' && a.details.incident === incidentB.id && a.actor === 'keyward',
    );
    expect(jobSteps.map((a) => a.details.step)).toEqual(['raise_min_decryption_version', 'recovery']);
  });

  it('lists incidents newest first, filtered and paged', async () => {
    const all = await h.call('GET', '/v1/incidents');
    expect(all.status).toBe(200);
    expect(all.body.incidents.map((i: Json) => i.id)).toEqual([incidentB.id, incidentA.id]);
    expect(all.body.incidents[0].blastRadius).toBeUndefined();
    expect(all.body.incidents[1].recovery).toMatchObject({ remaining: 0, complete: true });
    const page = await h.call('GET', '/v1/incidents?limit=1');
    expect(page.body.incidents.map((i: Json) => i.id)).toEqual([incidentB.id]);
    const next = await h.call('GET', `/v1/incidents?limit=1&cursor=${page.body.nextCursor}`);
    expect(next.body).toMatchObject({ incidents: [{ id: incidentA.id }], nextCursor: null });
    expect((await h.call('GET', '/v1/incidents?state=open')).body.incidents).toEqual([]);
    expect((await h.call('GET', '/v1/incidents?key=other')).body.incidents).toEqual([]);
    const elsewhere = await h.call('GET', '/v1/incidents', undefined, h.adminToken, { 'x-keyward-namespace': 'elsewhere' });
    expect(elsewhere.body.incidents).toEqual([]);
    expect(
      (await h.call('GET', `/v1/incidents/${incidentA.id}`, undefined, h.adminToken, { 'x-keyward-namespace': 'elsewhere' })).status,
    ).toBe(404);
  });

  it('opens an incident from an alert (automatic containment), once per version', async () => {
    await h.createKey('auto');
    const trigger = {
      alertId: 'alert-123',
      type: 'compromised_version_use',
      namespace: 'default',
      key: 'auto',
      version: null,
      reason: 'use of a key from an unknown network',
    };
    const opened = await h.keyward.incidents.openFromAlert(trigger);
    expect(opened).toMatchObject({
      origin: 'alert',
      alertId: 'alert-123',
      alertType: 'compromised_version_use',
      declaredBy: 'keyward',
      version: 1,
      rotatedTo: 2,
      state: 'open',
    });
    expect((await h.keyward.incidents.openFromAlert({ ...trigger, alertId: 'alert-124' })).id).toBe(opened.id);
    expect((await h.keyward.incidents.openIncidents()).map((i) => i.id)).toEqual([opened.id]);
    const declared = (await h.store.listAudit(0, 1_000_000)).find(
      (a) => a.action === 'incident.declare' && a.details.incident === opened.id,
    );
    expect(declared).toMatchObject({ actor: 'keyward', source: 'alert', requestId: 'alert-alert-123' });
    await expect(h.keyward.incidents.openFromAlert({ ...trigger, key: 'Bad Name' })).rejects.toThrow(/^key: /);
  });

  it('reports a containment a node did not acknowledge in time, and its late acknowledgement', async () => {
    await h.createKey('ghosted');
    const now = h.clock.now().toISOString();
    await h.store.heartbeatNode({ id: 'ghost-node', startedAt: now, lastSeenAt: now });
    const r = await h.call('POST', '/v1/incidents', { type: 'key_compromise', key: 'ghosted', reason: 'test a dead node' });
    await h.store.removeNode('ghost-node');
    expect(r.status).toBe(201);
    expect(r.body.containment).toMatchObject({ containedAt: null, timeToContainMs: null, timedOut: true, timeoutMs: 300 });
    expect(r.body.containment.nodes).toContainEqual({ node: 'ghost-node', expected: true, ackedAt: null, delayMs: null });
    expect(r.body.steps[0]).toMatchObject({
      name: 'contain',
      state: 'timed_out',
      details: { missing: 'ghost-node', acknowledged: 1, nodes: 2 },
    });
    expect(r.body.steps[0].outcome).toContain('no acknowledgement from ghost-node');
    h.clock.advance(1500);
    await h.store.ackIncident({ incidentId: r.body.id, node: 'ghost-node', ackedAt: h.clock.now().toISOString() });
    const later = (await h.call('GET', `/v1/incidents/${r.body.id}`)).body;
    expect(later.containment).toMatchObject({ timedOut: true, containedAt: h.clock.now().toISOString(), timeToContainMs: 1500 });
  });

  it('refuses bad input naming the field, and changes nothing', async () => {
    const before = (await h.call('GET', '/v1/incidents')).body.incidents.length;
    const ok = { type: 'key_compromise', key: 'ledger', reason: 'r' };
    const cases: Array<[Json, number, string]> = [
      [{ key: 'ledger', reason: 'r' }, 400, 'type: is required'],
      [{ ...ok, type: 'key_loss' }, 400, 'type: must be one of key_compromise'],
      [{ ...ok, reason: '' }, 400, 'reason: '],
      [{ type: 'key_compromise', key: 'ledger' }, 400, 'reason: is required'],
      [{ ...ok, key: 'Not A Name' }, 400, 'key: must match pattern'],
      [{ ...ok, version: 0 }, 400, 'version: must be >= 1'],
      [{ ...ok, version: '1' }, 400, 'version: must be integer'],
      [{ ...ok, raiseMinDecryptionVersionAfter: '7 days' }, 400, 'raiseMinDecryptionVersionAfter: must match pattern'],
      [{ ...ok, severity: 'high' }, 400, 'severity: is not a known field'],
      [{ ...ok, key: 'missing' }, 404, "key 'missing' does not exist"],
      [{ ...ok, version: 99 }, 404, "key 'ledger' has no version 99"],
    ];
    for (const [body, status, message] of cases) {
      const r = await h.call('POST', '/v1/incidents', body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.error.message, JSON.stringify(body)).toContain(message);
    }
    const open = await h.call('POST', '/v1/incidents', { ...ok, key: 'auto', version: 1 });
    expect(open.status).toBe(409);
    expect(open.body.error).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/^incident [0-9a-f-]{36} is already open for version 1/),
    });

    const id = incidentA.id;
    const patches: Array<[Json, string]> = [
      [{}, 'body: must NOT have fewer than 1 properties'],
      [{ state: 'open' }, 'state: must be one of closed'],
      [{ rootCause: '' }, 'rootCause: '],
      [{ followUps: [{ action: 'x', done: false }] }, 'followUps[0].owner: is required'],
      [{ followUps: [{ action: 'x', owner: 'o', done: 'no' }] }, 'followUps[0].done: must be boolean'],
      [{ followUps: [{ action: 'x', owner: 'o', done: false, due: 'soon' }] }, 'followUps[0].due: must match pattern'],
      [{ followUps: [{ action: 'x', owner: 'o', done: false, due: '2026-02-30' }] }, 'followUps[0].due: not a valid date'],
      [{ closedBy: 'me' }, 'closedBy: is not a known field'],
    ];
    for (const [body, message] of patches) {
      const r = await h.call('PATCH', `/v1/incidents/${id}`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toContain(message);
    }
    expect((await h.call('GET', '/v1/incidents?state=shut')).body.error.message).toContain(
      'querystring.state: must be one of open, closed',
    );
    expect((await h.call('GET', '/v1/incidents?limit=0')).body.error.message).toContain('querystring.limit');
    expect((await h.call('GET', '/v1/incidents?cursor=bogus')).body.error.message).toBe('cursor: not a cursor this server issued');
    expect((await h.call('GET', '/v1/incidents/not-a-uuid')).body.error.message).toContain('params.id');
    expect((await h.call('GET', '/v1/incidents/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await h.call('POST', `/v1/incidents/${id}/rewrap`, { items: [] })).body.error.message).toContain('items: must NOT have fewer');
    expect((await h.call('GET', '/v1/incidents')).body.incidents.length).toBe(before);
    expect((await h.call('GET', `/v1/incidents/${id}`)).body.followUps.every((f: Json) => f.done)).toBe(true);
  });

  it('authorizes: whoever may compromise the key declares and updates; auditors and owners read', async () => {
    await h.createKey('authz');
    const keyAdmin = await h.principal('inc-key-admin', ['key-admin']);
    const auditor = await h.principal('inc-auditor', ['auditor']);
    const owner = await h.principal('team-test', ['approver']);
    const declare = { type: 'key_compromise', key: 'authz', reason: 'authz test' };
    for (const token of [auditor, owner, svcA]) {
      const r = await h.call('POST', '/v1/incidents', declare, token);
      expect(r.status).toBe(403);
      expect(r.body.error.message).toContain('incident.declare');
    }
    expect((await h.call('POST', '/v1/incidents', declare, null)).status).toBe(401);
    const declared = await h.call('POST', '/v1/incidents', declare, keyAdmin);
    expect(declared.status, JSON.stringify(declared.body)).toBe(201);
    const id = declared.body.id;
    for (const token of [keyAdmin, auditor, owner]) expect((await h.call('GET', `/v1/incidents/${id}`, undefined, token)).status).toBe(200);
    for (const token of [keyAdmin, auditor])
      expect((await h.call('GET', `/v1/incidents/${id}/blast-radius`, undefined, token)).status).toBe(200);
    for (const token of [keyAdmin, auditor]) expect((await h.call('GET', '/v1/incidents', undefined, token)).status).toBe(200);
    for (const token of [owner, svcA]) expect((await h.call('GET', '/v1/incidents', undefined, token)).status).toBe(403);
    expect((await h.call('GET', `/v1/incidents/${id}`, undefined, svcA)).status).toBe(403);
    for (const token of [auditor, owner, svcA]) {
      expect((await h.call('PATCH', `/v1/incidents/${id}`, { rootCause: 'x' }, token)).status).toBe(403);
    }
    expect((await h.call('PATCH', `/v1/incidents/${id}`, { rootCause: 'authz', waiveRecovery: 'test key' }, keyAdmin)).status).toBe(200);
    const closed = await h.call('PATCH', `/v1/incidents/${id}`, { state: 'closed' }, keyAdmin);
    expect(closed.body).toMatchObject({ state: 'closed', recovery: { waived: 'test key' } });
    expect(closed.body.steps.find((s: Json) => s.name === 'recovery')).toMatchObject({
      state: 'waived',
      outcome: 'waived by inc-key-admin: test key',
    });
    // The recovery rewrap needs what a rewrap needs.
    expect((await h.call('POST', `/v1/incidents/${id}/rewrap`, { items: [{ ciphertext: 'x' }] }, auditor)).status).toBe(403);
  });
});

/** Containment across two nodes on one PostgreSQL database: each node acknowledges dropping the version. */
describe.runIf(POSTGRES_URL !== null)('incident containment on two nodes', () => {
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    a = await Harness.start({ store: 'postgres', incidents: { ackTimeoutMs: 10_000, ackPollMs: 10 } });
    b = await Harness.joining(a);
    await waitFor(() => b.store.changesReliable() && a.store.changesReliable());
    await a.keyward.incidentJobs.runOnce();
    await b.keyward.incidentJobs.runOnce();
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('waits for every node to drop the version and records each node and its delay', async () => {
    await a.createKey('cluster-incident');
    const user = await a.principal('svc-cluster-incident', ['key-user']);
    await a.grant('cluster-incident', 'svc-cluster-incident', ['encrypt', 'decrypt']);
    // Node b caches the key (and its material) by using it.
    let ciphertext = '';
    await waitFor(async () => {
      const r = await b.call('POST', '/v1/keys/cluster-incident/encrypt', { plaintext: b64('cached on node b') }, user);
      ciphertext = r.body.ciphertext;
      return r.status === 200;
    });
    expect((await b.call('POST', '/v1/keys/cluster-incident/decrypt', { ciphertext }, user)).status).toBe(200);

    const r = await a.call('POST', '/v1/incidents', { type: 'key_compromise', key: 'cluster-incident', reason: 'two-node test' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.containment.timedOut).toBe(false);
    expect(r.body.containment.nodes).toHaveLength(2);
    for (const node of r.body.containment.nodes) expect(node).toMatchObject({ expected: true, ackedAt: expect.any(String), delayMs: 0 });
    expect(r.body.containment.containedAt).toBe('2026-06-01T00:00:00.000Z');
    expect(r.body.steps[0]).toMatchObject({ state: 'done', details: { nodes: 2, acknowledged: 2 } });

    // Node b acknowledged after dropping its cache: it refuses the old version at once.
    expect((await b.call('POST', '/v1/keys/cluster-incident/decrypt', { ciphertext }, user)).body.error.code).toBe('invalid_state');
    expect((await b.call('POST', '/v1/keys/cluster-incident/encrypt', { plaintext: b64('new') }, user)).body.keyVersion).toBe(2);
    expect((await b.call('GET', `/v1/incidents/${r.body.id}`)).body.containment).toEqual(r.body.containment);
  });

  it('a stopped node leaves and is not waited for', async () => {
    const c = await Harness.joining(a, 'node-c');
    await c.keyward.incidentJobs.runOnce();
    await c.close();
    await a.createKey('after-leave');
    const r = await a.call('POST', '/v1/incidents', { type: 'key_compromise', key: 'after-leave', reason: 'node c is gone' });
    expect(r.body.containment).toMatchObject({ timedOut: false, nodes: [expect.anything(), expect.anything()] });
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(await condition()).toBe(true);
}
