import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINDING_KINDS } from '@keyward/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField, markdownCell } from '../../src/frontends/rest/report-text.js';
import { PolicyFile } from '../../src/policy/policy-file.js';
import { ManualClock } from '../../src/service/clock.js';
import { b64, Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

const DAY = 86_400_000;
const T0 = '2026-06-01T00:00:00.000Z';
const at = (days: number): string => new Date(Date.parse(T0) + days * DAY).toISOString();

/**
 * The policy the fixture starts under: critical keys may be created
 * exportable (so that `exportable_critical` is the only thing wrong with one),
 * and a high key is unused after 30 days.
 */
const BASE = `classes:
  critical:
    exportable: true
  high:
    unusedKeyThreshold: 30d
`;
/** The change that leaves the chacha20 key of class standard non-compliant. */
const TIGHTENED = `${BASE}  standard:
    algorithms: [aes-256-gcm]
`;

/** A small RFC 4180 parser: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"' && field === '') {
      i += 1;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quote');
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    } else if (c === ',') {
      row.push(field);
      field = '';
      i += 1;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else {
      field += c;
      i += 1;
    }
  }
  if (field !== '' || row.length > 0) throw new Error('the last record does not end with CRLF');
  return rows;
}

/** Each key's name and the kinds of its findings, to compare findings exactly. */
const findings = (keys: Json[]): Array<[string, string[]]> => keys.map((k) => [k.name, k.findings.map((f: Json) => f.kind)]);

/**
 * Inventory and compliance reports (docs/governance.md, "Reports") through
 * the real REST app on each store: a fixture with exactly one key per kind
 * of finding and one clean key, and the compliance report finds exactly
 * those; formats; environment scoping; who may read them; bad queries.
 */
describe.each(STORE_KINDS)('reports (%s)', (store) => {
  let h: Harness;
  let dir: string;
  let path: string;
  let policy: PolicyFile;
  let auditor: string;
  let user: string;
  let incidentId: string;

  const setPolicy = async (text: string) => {
    writeFileSync(path, text);
    expect(await policy.reload()).toBeNull();
  };

  /** A principal with a token valid for the whole fixture (the default 30 days would run out). */
  const principal = async (id: string, roles: string[], extra: Json = {}): Promise<string> => {
    const p = await h.call('POST', '/v1/principals', { id, kind: 'service', roles, ...extra });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const t = await h.call('POST', `/v1/principals/${id}/tokens`, { ttl: '365d' });
    expect(t.status).toBe(201);
    return t.body.token as string;
  };

  const create = (name: string, extra: Json = {}) => h.createKey(name, 'aes-256-gcm', { owner: 'alice', class: 'low', ...extra });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-reports-'));
    path = join(dir, 'policy.yaml');
    writeFileSync(path, BASE);
    policy = await PolicyFile.open(path, { clock: new ManualClock(T0) });
    h = await Harness.start({ store, policy, incidents: { ackTimeoutMs: 300, ackPollMs: 10 } });

    await principal('alice', ['auditor']);
    await principal('carol', ['auditor']);
    auditor = await principal('aud', ['auditor']);
    user = await principal('svc-app', ['key-user']);
    await principal('dave', ['key-admin', 'key-user']);

    // Clean: standard class, owned by an active principal, used recently.
    await create('clean', { class: 'standard' });
    await h.grant('clean', 'svc-app', ['encrypt']);
    // Class low has no rotation, review or unused threshold: each of these keys has exactly one finding.
    await create('orphaned', { owner: 'team-ghost' });
    await create('rotation-overdue', { rotationPeriod: '30d' });
    await create('review-overdue', { owner: 'carol' });
    await create('unused', { class: 'high' });
    await create('expired', { originatorPeriod: '30d' });
    await h.createKey('non-compliant', 'chacha20-poly1305', { owner: 'alice', class: 'standard' });
    await create('sod');
    await h.grant('sod', 'dave', ['encrypt', 'decrypt']);
    await create('exportable-critical', { class: 'critical', exportable: true });
    await create('open-incident');
    const incident = await h.call('POST', '/v1/incidents', {
      type: 'key_compromise',
      key: 'open-incident',
      reason: '=cmd|x, "quoted"\nsecond line',
    });
    expect(incident.status, JSON.stringify(incident.body)).toBe(201);
    incidentId = incident.body.id;

    // Carol leaves: her key goes to alice with a review due at once.
    h.clock.advance(DAY);
    const off = await h.call('POST', '/v1/principals/carol/offboard', { reassignTo: 'alice' });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    // The class standard tightens after the chacha20 key was created.
    await setPolicy(TIGHTENED);

    h.clock.advance(38 * DAY);
    const used = await h.call('POST', '/v1/keys/clean/encrypt', { plaintext: b64('hello') }, user);
    expect(used.status, JSON.stringify(used.body)).toBe(200);
    h.clock.advance(DAY);
  });

  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the compliance report finds exactly one key per kind of finding, and nothing on the clean key', async () => {
    const r = await h.call('GET', '/v1/reports/compliance', undefined, auditor);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const report = r.body;
    expect(report.generatedAt).toBe(at(40));
    expect(report.namespace).toBe('default');
    expect(report.policyDigest).toBe(policy.status().digest);
    expect(report.policyDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(report.keysExamined).toBe(10);
    expect(findings(report.keys)).toEqual([
      ['expired', ['expired']],
      ['exportable-critical', ['exportable_critical']],
      ['non-compliant', ['non_compliant']],
      ['open-incident', ['open_incident']],
      ['orphaned', ['orphaned']],
      ['review-overdue', ['review_overdue']],
      ['rotation-overdue', ['rotation_overdue']],
      ['sod', ['separation_of_duties']],
      ['unused', ['unused']],
    ]);
    expect(report.counts).toEqual(Object.fromEntries(FINDING_KINDS.map((k) => [k, 1])));
    const byKey = Object.fromEntries(report.keys.map((k: Json) => [k.name, k.findings[0]]));
    expect(byKey.expired).toMatchObject({ since: at(30), detail: expect.stringContaining('originator-usage period (30d)') });
    expect(byKey['rotation-overdue'].since).toBe(at(30));
    expect(byKey['review-overdue']).toMatchObject({
      since: at(1),
      remediation: expect.stringContaining('POST /v1/keys/review-overdue/review'),
    });
    expect(byKey.unused).toMatchObject({ since: at(30), detail: expect.stringContaining('never used') });
    expect(byKey['non-compliant'].detail).toContain('algorithm: class standard allows only aes-256-gcm (classes.standard.algorithms)');
    expect(byKey.sod.detail).toBe("'dave' manages the key (key-admin) and holds a grant to decrypt, encrypt with it (directly)");
    expect(byKey.orphaned).toMatchObject({ since: null, detail: expect.stringContaining("'team-ghost'") });
    expect(byKey['open-incident']).toMatchObject({
      since: at(0),
      remediation: expect.stringContaining(`PATCH /v1/incidents/${incidentId}`),
    });
    for (const key of report.keys) for (const f of key.findings) expect(f.remediation.length).toBeGreaterThan(10);
    expect(report.owners).toEqual([
      { owner: 'alice', keys: 9, keysWithFindings: 8, openFindings: 8, oldestFindingSince: at(0) },
      { owner: 'team-ghost', keys: 1, keysWithFindings: 1, openFindings: 1, oldestFindingSince: null },
    ]);
  });

  it('the inventory lists every key with age, next rotation, last use and next review', async () => {
    const r = await h.call('GET', '/v1/reports/inventory');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.keys.map((k: Json) => k.name)).toEqual([
      'clean',
      'expired',
      'exportable-critical',
      'non-compliant',
      'open-incident',
      'orphaned',
      'review-overdue',
      'rotation-overdue',
      'sod',
      'unused',
    ]);
    const clean = r.body.keys[0];
    expect(clean).toEqual({
      namespace: 'default',
      name: 'clean',
      owner: 'alice',
      class: 'standard',
      environment: 'prod',
      algorithm: 'aes-256-gcm',
      state: 'enabled',
      primaryVersion: 1,
      primaryActivatedAt: at(0),
      primaryAgeDays: 40,
      nextRotationAt: at(365),
      lastUsedAt: at(39),
      nextReviewAt: at(365),
      findings: [],
    });
    const incident = r.body.keys.find((k: Json) => k.name === 'open-incident');
    expect(incident).toMatchObject({ primaryVersion: 2, lastUsedAt: null, nextRotationAt: null, nextReviewAt: null });
  });

  it('filters by owner, class and environment', async () => {
    const owner = await h.call('GET', '/v1/reports/compliance?owner=team-ghost');
    expect(findings(owner.body.keys)).toEqual([['orphaned', ['orphaned']]]);
    expect(owner.body.keysExamined).toBe(1);
    const byClass = await h.call('GET', '/v1/reports/inventory?class=standard');
    expect(byClass.body.keys.map((k: Json) => k.name)).toEqual(['clean', 'non-compliant']);
    const dev = await h.call('GET', '/v1/reports/inventory?environment=dev');
    expect(dev.body.keys).toEqual([]);
  });

  it('CSV: RFC 4180 with a header row, one row per key, findings joined; it parses back to the JSON', async () => {
    const json = (await h.call('GET', '/v1/reports/compliance')).body;
    const r = await h.app.inject({
      method: 'GET',
      url: '/v1/reports/compliance?format=csv',
      headers: { authorization: `Bearer ${auditor}` },
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
    const rows = parseCsv(r.body);
    expect(rows[0]).toEqual([
      'namespace',
      'name',
      'owner',
      'class',
      'environment',
      'algorithm',
      'state',
      'primary_version',
      'primary_age_days',
      'next_rotation_at',
      'last_used_at',
      'next_review_at',
      'findings',
      'finding_details',
    ]);
    expect(rows.slice(1).map((row) => [row[1], row[12]])).toEqual(findings(json.keys).map(([name, kinds]) => [name, kinds.join(';')]));
    const incident = rows.find((row) => row[1] === 'open-incident') as string[];
    // The reason's comma, quotes and line break survive quoting.
    expect(incident[13]).toBe(
      json.keys
        .find((k: Json) => k.name === 'open-incident')
        .findings.map((f: Json) => `${f.kind}: ${f.detail}`)
        .join(' | '),
    );
    expect(incident[13]).toContain('=cmd|x, "quoted"\nsecond line');
    const orphan = rows.find((row) => row[1] === 'orphaned') as string[];
    expect(orphan.slice(0, 12)).toEqual([
      'default',
      'orphaned',
      'team-ghost',
      'low',
      'prod',
      'aes-256-gcm',
      'enabled',
      '1',
      '40',
      '',
      '',
      '',
    ]);
  });

  it('Markdown: tables with | escaped and line breaks folded', async () => {
    const r = await h.app.inject({
      method: 'GET',
      url: '/v1/reports/compliance?format=markdown',
      headers: { authorization: `Bearer ${auditor}` },
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/markdown; charset=utf-8');
    const lines = r.body.split('\n');
    expect(lines[0]).toBe('# Compliance report');
    expect(lines).toContain('| separation_of_duties | 1 |');
    expect(lines).toContain('| alice | 9 | 8 | 8 | 2026-06-01T00:00:00.000Z |');
    const finding = lines.find((l: string) => l.startsWith('| open-incident | open_incident |')) as string;
    expect(finding).toContain('=cmd\\|x, "quoted" second line');
    // Every row of a table has as many unescaped separators as the table's header.
    const separators = (line: string) => line.replaceAll('\\\\', '').replaceAll('\\|', '').split('|').length;
    let header: number | null = null;
    for (const line of lines) {
      if (!line.startsWith('|')) header = null;
      else if (header === null) header = separators(line);
      else expect(separators(line), line).toBe(header);
    }
    const inventory = await h.app.inject({
      method: 'GET',
      url: '/v1/reports/inventory?format=markdown',
      headers: { authorization: `Bearer ${auditor}` },
    });
    expect(inventory.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(inventory.body.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---')).length).toBe(11);
  });

  it('environments bound the reports: a principal scoped to dev sees only dev keys', async () => {
    const ns = { 'x-keyward-namespace': 'scoping' };
    for (const [name, environment] of [
      ['dev-key', 'dev'],
      ['prod-key', 'prod'],
    ]) {
      const c = await h.call(
        'POST',
        '/v1/keys',
        { name, algorithm: 'aes-256-gcm', owner: 'alice', class: 'low', environment },
        h.adminToken,
        ns,
      );
      expect(c.status, JSON.stringify(c.body)).toBe(201);
    }
    const devAuditor = await principal('aud-dev', ['auditor'], { environments: ['dev'] });
    const inventory = await h.call('GET', '/v1/reports/inventory', undefined, devAuditor, ns);
    expect(inventory.status).toBe(200);
    expect(inventory.body.keys.map((k: Json) => k.name)).toEqual(['dev-key']);
    const compliance = await h.call('GET', '/v1/reports/compliance', undefined, devAuditor, ns);
    expect(compliance.body.keysExamined).toBe(1);
    expect(compliance.body.owners).toEqual([{ owner: 'alice', keys: 1, keysWithFindings: 0, openFindings: 0, oldestFindingSince: null }]);
    const prod = await h.call('GET', '/v1/reports/inventory?environment=prod', undefined, devAuditor, ns);
    expect(prod.status).toBe(403);
    expect(prod.body.error.code).toBe('forbidden');
    // The admin sees both; another namespace's keys are never in the report.
    const all = await h.call('GET', '/v1/reports/inventory', undefined, h.adminToken, ns);
    expect(all.body.keys.map((k: Json) => k.name)).toEqual(['dev-key', 'prod-key']);
  });

  it('auditors, key-admins and admins may read the reports; a key-user is refused 403 and the refusal audited', async () => {
    const keyAdmin = await principal('kadmin', ['key-admin']);
    for (const token of [auditor, keyAdmin, h.adminToken]) {
      expect((await h.call('GET', '/v1/reports/compliance', undefined, token)).status).toBe(200);
    }
    const refused = await h.call('GET', '/v1/reports/compliance', undefined, user);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    const records = (await h.store.listAudit(0, 1_000_000)).filter((a) => a.requestId === refused.body.error.requestId);
    expect(records.map((a) => [a.action, a.actor, a.outcome])).toEqual([['report.read', 'svc-app', 'denied']]);
    expect((await h.call('GET', '/v1/reports/inventory', undefined, null)).status).toBe(401);
  });

  it('a bad query is refused 400 invalid_request naming the field', async () => {
    for (const [query, field] of [
      ['format=xml', 'querystring.format'],
      ['environment=moon', 'querystring.environment'],
      ['class=secret', 'querystring.class'],
      ['owner=%20bad', 'querystring.owner'],
      ['colour=red', 'querystring.colour'],
    ]) {
      const r = await h.call('GET', `/v1/reports/compliance?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message.startsWith(`${field}:`), r.body.error.message).toBe(true);
    }
  });

  it('separation of duties: a policy exemption removes the finding; owners and team grants count', async () => {
    await setPolicy(`${TIGHTENED}separationOfDuties:\n  exempt: [dave]\n`);
    let report = (await h.call('GET', '/v1/reports/compliance')).body;
    expect(report.counts.separation_of_duties).toBe(0);
    // The owner's team is granted: alice, a member of team-keepers, owns the key and may use it.
    for (const body of [
      { id: 'team-keepers', kind: 'team', roles: [] },
      { id: 'ellen', kind: 'user', roles: ['key-user'], teams: ['team-keepers'] },
    ]) {
      const p = await h.call('POST', '/v1/principals', body);
      expect(p.status, JSON.stringify(p.body)).toBe(201);
    }
    const c = await h.call('POST', '/v1/keys', { name: 'team-owned', algorithm: 'aes-256-gcm', owner: 'team-keepers', class: 'low' });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    await h.grant('team-owned', 'team-keepers', ['encrypt']);
    report = (await h.call('GET', '/v1/reports/compliance?owner=team-keepers')).body;
    expect(report.keys[0].findings.map((f: Json) => f.detail)).toEqual([
      "'ellen' manages the key (owner (member of team-keepers)) and holds a grant to encrypt with it (via team-keepers)",
      "'team-keepers' manages the key (owner) and holds a grant to encrypt with it (directly)",
    ]);
    await setPolicy(TIGHTENED);
  });
});

describe('report text', () => {
  it('csvField quotes per RFC 4180 and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField(null)).toBe('');
    expect(csvField(42)).toBe('42');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    for (const lead of ['=', '+', '-', '@']) expect(csvField(`${lead}SUM(A1)`)).toBe(`'${lead}SUM(A1)`);
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('\tcmd')).toBe("'\tcmd");
  });

  it('markdownCell escapes | and backslashes, folds line breaks and shows empty as -', () => {
    expect(markdownCell('a|b')).toBe('a\\|b');
    expect(markdownCell('a\\|b')).toBe('a\\\\\\|b');
    expect(markdownCell('one\ntwo\r\nthree')).toBe('one two three');
    expect(markdownCell(null)).toBe('-');
    expect(markdownCell('')).toBe('-');
    expect(markdownCell(3)).toBe('3');
  });
});
