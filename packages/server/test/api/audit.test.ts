import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditPublicKey, auditRecordHash, GENESIS_HASH, verifyAuditLines } from '@keyward/crypto';
import type { AuditRecordView, AuditVerifyReport } from '@keyward/wire';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  chainRows,
  insertRow,
  makeAuditUnwritable,
  makeAuditWritable,
  rehash,
  setHead,
  shiftRows,
  writeRow,
} from '../support/audit-tamper.js';
import { b64, Harness } from '../support/harness.js';
import { POSTGRES_URL, STORE_KINDS } from '../support/stores.js';

const NO_COUNT_CHECKPOINTS = { everyRecords: 1_000_000, everyMs: 3_600_000 };

/** A little of everything: a key, encryptions under a context, a decrypt, a refused request. */
async function traffic(h: Harness): Promise<void> {
  await h.createKey('ledger');
  for (let i = 0; i < 6; i++) {
    const r = await h.call('POST', '/v1/keys/ledger/encrypt', { plaintext: b64(`row ${i}`), context: { tenant: 'acme-corp' } });
    expect(r.status).toBe(200);
  }
  const { body } = await h.call('POST', '/v1/keys/ledger/encrypt', { plaintext: b64('x') });
  expect((await h.call('POST', '/v1/keys/ledger/decrypt', { ciphertext: body.ciphertext })).status).toBe(200);
  expect((await h.call('GET', '/v1/keys/missing')).status).toBe(404);
}

/** More traffic on a key that exists. */
async function traffic2(h: Harness): Promise<void> {
  for (let i = 0; i < 3; i++) expect((await h.call('POST', '/v1/keys/ledger/encrypt', { plaintext: b64(`more ${i}`) })).status).toBe(200);
}

async function verify(h: Harness): Promise<AuditVerifyReport> {
  const r = await h.call('GET', '/v1/audit/verify');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as AuditVerifyReport;
}

/** The problem verification reports, with the message left out. */
async function problem(h: Harness) {
  const report = await verify(h);
  expect(report.valid).toBe(false);
  const { message: _, ...rest } = report.problem ?? { message: '' };
  return rest;
}

describe.each(STORE_KINDS)('tamper-evident audit (%s)', (store) => {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start({ store, audit: { checkpoints: NO_COUNT_CHECKPOINTS } });
    await traffic(h);
  });
  afterEach(async () => h.close());

  it('chains every record of the node: consecutive positions, each hash over its content and its predecessor', async () => {
    const rows = await chainRows(h.testStore, 'node-a');
    expect(rows.length).toBeGreaterThanOrEqual(10);
    let prev = GENESIS_HASH;
    rows.forEach((row, i) => {
      expect(row.seq).toBe(i + 1);
      expect(row.prevHash).toBe(prev);
      const { hash, ...rest } = row;
      expect(auditRecordHash(rest)).toBe(hash);
      prev = hash;
    });
    const report = await verify(h);
    expect(report).toMatchObject({ valid: true, problem: null, chains: [{ chain: 'node-a', records: rows.length + 0 }] });
  });

  it('holds an encryption context only as its HMAC, which an auditor holding the context can reproduce', async () => {
    const rows = await chainRows(h.testStore, 'node-a');
    expect(JSON.stringify(rows)).not.toContain('acme-corp');
    const encrypts = rows.filter((r) => r.action === 'crypto.encrypt');
    const hmacs = new Set(encrypts.map((r) => r.details.context));
    expect(hmacs.size).toBe(2); // the six with the context, and one without (no context detail at all)
    expect([...hmacs]).toContain(undefined);
    const recorded = [...hmacs].find((v) => v !== undefined) as string;
    expect(recorded).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);

    const same = await h.call('POST', '/v1/audit/hash', { context: { tenant: 'acme-corp' } });
    expect(same.status).toBe(200);
    expect(same.body.hmac).toBe(recorded);
    const other = await h.call('POST', '/v1/audit/hash', { context: { tenant: 'acme-corp2' } });
    expect(other.body.hmac).not.toBe(recorded);
    // The value asked about is not recorded either.
    expect(JSON.stringify(await chainRows(h.testStore, 'node-a'))).not.toContain('acme-corp2');
    expect((await h.call('POST', '/v1/audit/hash', {})).body.error.message).toBe('body: give exactly one of value and context');
    expect((await h.call('POST', '/v1/audit/hash', { value: 'a', context: {} })).status).toBe(400);
  });

  it('an edited record is located', async () => {
    await h.testStore.raw("UPDATE audit_events SET actor = 'mallory' WHERE chain = 'node-a' AND chain_seq = 5");
    expect(await problem(h)).toEqual({ kind: 'altered', chain: 'node-a', seq: 5, checkpointId: null });
  });

  it('a deleted record is located', async () => {
    await h.testStore.raw("DELETE FROM audit_events WHERE chain = 'node-a' AND chain_seq = 5");
    expect(await problem(h)).toEqual({ kind: 'missing', chain: 'node-a', seq: 5, checkpointId: null });
  });

  it('an inserted record is located, even one with a correct hash of its own', async () => {
    const rows = await chainRows(h.testStore, 'node-a');
    const before = rows[3] as AuditRecordView;
    await shiftRows(h.testStore, 'node-a', 5, 1);
    const [forged] = rehash([{ ...before, seq: 5, actor: 'mallory', action: 'key.read', details: {} }], before.hash);
    await insertRow(h.testStore, forged as AuditRecordView);
    const last = rows.at(-1) as AuditRecordView;
    await setHead(h.testStore, 'node-a', last.seq + 1, last.hash);
    // The forged record links to 4 and hashes right; the real record moved after it no longer matches its hash (which covers its position).
    expect(await problem(h)).toEqual({ kind: 'altered', chain: 'node-a', seq: 6, checkpointId: null });
  });

  it('reordered records are located', async () => {
    await h.testStore.raw("UPDATE audit_events SET chain_seq = -1 WHERE chain = 'node-a' AND chain_seq = 5");
    await h.testStore.raw("UPDATE audit_events SET chain_seq = 5 WHERE chain = 'node-a' AND chain_seq = 6");
    await h.testStore.raw("UPDATE audit_events SET chain_seq = 6 WHERE chain = 'node-a' AND chain_seq = -1");
    expect(await problem(h)).toEqual({ kind: 'altered', chain: 'node-a', seq: 5, checkpointId: null });
  });

  it('a truncated chain is located against its head, and against a checkpoint when the head is rewound too', async () => {
    const rows = await chainRows(h.testStore, 'node-a');
    const n = rows.length;
    await h.testStore.raw("DELETE FROM audit_events WHERE chain = 'node-a' AND chain_seq > ?", [n - 3]);
    expect(await problem(h)).toEqual({ kind: 'truncated', chain: 'node-a', seq: n - 2, checkpointId: null });
  });

  it('a truncation covered up by rewinding the head is caught by the signed checkpoint', async () => {
    const signed = await h.call('POST', '/v1/audit/checkpoints');
    expect(signed.status).toBe(201);
    const covered = signed.body.heads.find((x: { chain: string }) => x.chain === 'node-a').seq as number;
    const rows = await chainRows(h.testStore, 'node-a');
    const keep = covered - 3;
    await h.testStore.raw("DELETE FROM audit_events WHERE chain = 'node-a' AND chain_seq > ?", [keep]);
    await setHead(h.testStore, 'node-a', keep, (rows[keep - 1] as AuditRecordView).hash);
    expect(await problem(h)).toEqual({ kind: 'truncated', chain: 'node-a', seq: keep + 1, checkpointId: signed.body.id });
  });

  it('a forged checkpoint, and a chain rewritten after a checkpoint, are caught', async () => {
    const signed = await h.call('POST', '/v1/audit/checkpoints');
    const rows = await chainRows(h.testStore, 'node-a');
    // Rewrite record 3 and every hash after it, and the head: the chain alone now verifies.
    const rewritten = rehash([{ ...(rows[2] as AuditRecordView), actor: 'mallory' }, ...rows.slice(3)], (rows[1] as AuditRecordView).hash);
    for (const r of rewritten) await writeRow(h.testStore, r);
    const last = rewritten.at(-1) as AuditRecordView;
    await setHead(h.testStore, 'node-a', last.seq, last.hash);
    expect(await problem(h)).toMatchObject({ kind: 'bad_checkpoint', chain: 'node-a', seq: 1, checkpointId: signed.body.id });

    // Re-sign the checkpoint's heads without the audit key: the signature does not verify.
    const heads = JSON.stringify([{ chain: 'node-a', seq: last.seq, hash: last.hash }]);
    await h.testStore.raw('UPDATE audit_checkpoints SET heads = ? WHERE id = ?', [heads, signed.body.id]);
    expect(await problem(h)).toEqual({ kind: 'bad_checkpoint', chain: null, seq: null, checkpointId: signed.body.id });
  });

  it('signs a checkpoint every N records of the node, and after T when anything was written', async () => {
    await h.close();
    h = await Harness.start({ store, audit: { checkpoints: { everyRecords: 5, everyMs: 60_000 } } });
    await traffic(h);
    await h.keyward.audit.idle();
    const records = (await chainRows(h.testStore, 'node-a')).length;
    const byCount = await h.testStore.raw('SELECT * FROM audit_checkpoints ORDER BY id');
    expect(byCount.length).toBeGreaterThanOrEqual(Math.floor(records / 5) - 1);
    expect(byCount.length).toBeLessThanOrEqual(Math.ceil(records / 5));

    // Nothing new: time alone signs nothing.
    h.clock.advance(120_000);
    await h.keyward.audit.ticker.runOnce();
    const count = (await h.testStore.raw('SELECT * FROM audit_checkpoints')).length;
    expect((await h.call('GET', '/v1/keys/ledger')).status).toBe(200);
    await h.keyward.audit.ticker.runOnce(); // not yet due: the last one was just signed or records are few
    h.clock.advance(60_000);
    await h.keyward.audit.ticker.runOnce();
    const after = await h.testStore.raw('SELECT * FROM audit_checkpoints ORDER BY id');
    expect(after.length).toBeGreaterThan(count);
    const newest = after.at(-1) as Record<string, unknown>;
    const heads = JSON.parse(String(newest.heads)) as Array<{ chain: string; seq: number }>;
    expect(heads).toContainEqual(expect.objectContaining({ chain: 'node-a', seq: (await chainRows(h.testStore, 'node-a')).length - 0 }));
    expect((await verify(h)).valid).toBe(true);
  });

  it('refuses every operation with 503 while the audit store is unwritable, and changes nothing', async () => {
    const before = await h.call('GET', '/v1/keys/ledger');
    const recordsBefore = (await chainRows(h.testStore, 'node-a')).length;
    await makeAuditUnwritable(h.testStore);
    try {
      const created = await h.call('POST', '/v1/keys', { name: 'never', algorithm: 'aes-256-gcm', owner: 'team-x' });
      expect(created.status).toBe(503);
      expect(created.body.error.code).toBe('unavailable');
      const rotated = await h.call('POST', '/v1/keys/ledger/rotate');
      expect(rotated.status).toBe(503);
      const encrypted = await h.call('POST', '/v1/keys/ledger/encrypt', { plaintext: b64('secret') });
      expect(encrypted.status).toBe(503);
      expect(encrypted.body.ciphertext).toBeUndefined();
      expect((await h.call('POST', '/v1/principals', { id: 'svc-x', kind: 'service', roles: ['key-user'] })).status).toBe(503);
    } finally {
      await makeAuditWritable(h.testStore);
    }
    expect(await h.testStore.raw("SELECT id FROM keys WHERE name = 'never'")).toEqual([]);
    expect(await h.testStore.raw("SELECT id FROM principals WHERE id = 'svc-x'")).toEqual([]);
    const after = await h.call('GET', '/v1/keys/ledger');
    expect(after.body.primaryVersion).toBe(before.body.primaryVersion);
    expect(after.body.versions).toEqual(before.body.versions);
    // Writable again: work resumes and the chain has no hole where the refused requests were.
    expect((await h.call('POST', '/v1/keys/ledger/rotate')).status).toBe(200);
    const rows = await chainRows(h.testStore, 'node-a');
    expect(rows.length).toBeGreaterThan(recordsBefore);
    expect((await verify(h)).valid).toBe(true);
  });

  it('continues the chain across a restart', async () => {
    const n = (await chainRows(h.testStore, 'node-a')).length;
    await h.restart();
    expect((await h.call('GET', '/v1/keys/ledger')).status).toBe(200);
    const rows = await chainRows(h.testStore, 'node-a');
    expect(rows.length).toBeGreaterThan(n);
    expect((rows[n] as AuditRecordView).prevHash).toBe((rows[n - 1] as AuditRecordView).hash);
    expect((await verify(h)).valid).toBe(true);
  });

  it('exports the trail as JSON lines that verify offline with the audit public key, and a cut export fails', async () => {
    const { body: key } = await h.call('GET', '/v1/audit/public-key');
    expect(key.keyId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const publicKey = auditPublicKey(key.publicKey);
    const r = await h.app.inject({ method: 'GET', url: '/v1/audit/export', headers: { authorization: `Bearer ${h.adminToken}` } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = r.body.split('\n').filter((l) => l !== '');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ type: 'export', version: 1, publicKey: key.publicKey });
    expect(JSON.parse(lines[1] as string)).toMatchObject({ type: 'checkpoint' });
    const check = (kept: string[]) =>
      verifyAuditLines(
        async function* () {
          yield* kept;
        },
        { publicKey, requireAllChains: true },
      );
    expect(await check(lines)).toMatchObject({ valid: true, problem: null });

    const records = lines.filter((l) => l.includes('"type":"record"'));
    const lastRecord = records.at(-1) as string;
    const cut = lines.slice(0, lines.indexOf(lastRecord));
    expect((await check(cut)).problem).toMatchObject({ kind: 'truncated', chain: 'node-a', seq: records.length });
    const edited = lines.map((l) => (l === records[2] ? l.replace('"actor":"admin"', '"actor":"eve"') : l));
    expect((await check(edited)).problem).toMatchObject({ kind: 'altered', seq: 3 });
  });

  it('serves records to auditors with filters and paging, and to nobody else', async () => {
    const auditor = await h.principal('auditor-1', ['auditor']);
    const user = await h.principal('svc-user', ['key-user']);
    expect((await h.call('GET', '/v1/audit/events', undefined, user)).status).toBe(403);
    expect((await h.call('GET', '/v1/audit/verify', undefined, user)).status).toBe(403);
    const q = '/v1/audit/events?key=ledger&action=crypto.encrypt&outcome=success&principal=admin';
    const all = await h.call('GET', q, undefined, auditor);
    expect(all.status).toBe(200);
    expect(all.body.events).toHaveLength(7);
    expect(all.body.nextCursor).toBeNull();
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<Harness['call']>> = await h.call(
        'GET',
        `${q}&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        undefined,
        auditor,
      );
      expect(page.body.events.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.events.map((e: AuditRecordView) => e.seq));
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(all.body.events.map((e: AuditRecordView) => e.seq));
    expect((await h.call('GET', '/v1/audit/events?outcome=error&limit=1000', undefined, auditor)).body.events).toEqual([
      expect.objectContaining({ action: 'key.read', errorCode: 'not_found' }),
    ]);
    const later = new Date(h.clock.now().getTime() + 1000).toISOString();
    expect((await h.call('GET', `/v1/audit/events?from=${later}`, undefined, auditor)).body.events).toEqual([]);
    const bad = await h.call('GET', '/v1/audit/events?outcome=maybe', undefined, auditor);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^querystring\.outcome/);
    expect((await h.call('GET', '/v1/audit/events?cursor=abc', undefined, auditor)).body.error.message).toMatch(/^querystring\.cursor/);
    expect((await h.call('GET', '/v1/audit/events?from=2026-02-30T00:00:00Z', undefined, auditor)).body.error.message).toBe(
      'querystring.from: not a valid RFC 3339 time',
    );
  });
});

describe.each(STORE_KINDS)('audit file sink (%s)', (store) => {
  let h: Harness;
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-audit-file-'));
    file = join(dir, 'audit.jsonl');
    h = await Harness.start({ store, audit: { checkpoints: { everyRecords: 4, everyMs: 60_000 }, file } });
    await traffic(h);
    await h.keyward.audit.idle();
  });
  afterEach(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = () =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  async function offline(kept: string[]): Promise<AuditVerifyReport> {
    const { body } = await h.call('GET', '/v1/audit/public-key');
    return verifyAuditLines(
      async function* () {
        yield* kept;
      },
      { publicKey: auditPublicKey(body.publicKey), requireAllChains: false },
    );
  }

  it('holds every record of the node, synced before each answer, and its checkpoints; mode 0600', async () => {
    const rows = await chainRows(h.testStore, 'node-a');
    const records = lines()
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'record');
    expect(records.map((r) => r.hash)).toEqual(rows.map((r) => r.hash));
    expect(lines().some((l) => l.startsWith('{"type":"checkpoint"'))).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const report = await verify(h);
    expect(report.valid).toBe(true);
    expect(report.file).toMatchObject({ path: file, valid: true, problem: null, head: { chain: 'node-a', seq: rows.length } });
    expect(await offline(lines())).toMatchObject({ valid: true, problem: null });
  });

  it('detects an edited, deleted, inserted or reordered line, and a forged checkpoint, offline', async () => {
    const all = lines();
    const recordLines = all.filter((l) => l.startsWith('{"type":"record"'));
    const third = recordLines[2] as string;
    const fourth = recordLines[3] as string;
    const edited = all.map((l) => (l === third ? l.replace('"outcome":"success"', '"outcome":"denied"') : l));
    expect((await offline(edited)).problem).toMatchObject({ kind: 'altered', seq: 3 });
    expect((await offline(all.filter((l) => l !== third))).problem).toMatchObject({ kind: 'missing', seq: 3 });
    const inserted = all.flatMap((l) => (l === fourth ? [third, l] : [l]));
    expect((await offline(inserted)).problem).toMatchObject({ kind: 'out_of_order', seq: 3 });
    const reordered = all.map((l) => (l === third ? fourth : l === fourth ? third : l));
    // Record 4 where 3 belongs: 3 is reported missing at its place.
    expect((await offline(reordered)).problem).toMatchObject({ kind: 'missing', seq: 3 });
    const checkpoint = all.find((l) => l.startsWith('{"type":"checkpoint"')) as string;
    const forged = all.map((l) => (l === checkpoint ? l.replace(/"seq":(\d+)/, (_, n) => `"seq":${Number(n) + 1}`) : l));
    expect((await offline(forged)).problem).toMatchObject({ kind: 'bad_checkpoint' });
  });

  it('detects a truncated file online, against what the node wrote', async () => {
    const all = lines();
    writeFileSync(file, `${all.slice(0, -3).join('\n')}\n`);
    const report = await verify(h);
    expect(report.valid).toBe(false);
    expect(report.problem).toBeNull(); // the store's chain is intact
    expect(report.file?.problem).toMatchObject({ kind: 'truncated', chain: 'node-a' });
  });

  it('picks up a chain that already had records with an anchor, and verifies from there', async () => {
    file = join(dir, 'later.jsonl');
    await h.close();
    h = await Harness.start({ store, audit: { checkpoints: { everyRecords: 4, everyMs: 60_000 } } });
    await traffic(h);
    const rows = await chainRows(h.testStore, 'node-a');
    const head = rows.at(-1) as AuditRecordView;
    // The same data, restarted with a file sink turned on.
    (h.options.audit as { file?: string }).file = file;
    await h.restart();
    await traffic2(h);
    const written = lines().map((l) => JSON.parse(l));
    expect(written[0]).toEqual({ type: 'anchor', chain: 'node-a', seq: head.seq, hash: head.hash });
    expect(written[1]).toMatchObject({ type: 'record', seq: head.seq + 1, prevHash: head.hash });
    expect((await verify(h)).file).toMatchObject({ valid: true });
    expect(await offline(lines())).toMatchObject({ valid: true });
    // An anchor anywhere but before the chain's records is refused.
    const misplaced = [...lines(), JSON.stringify(written[0])];
    expect((await offline(misplaced)).problem).toMatchObject({ kind: 'malformed' });
  });

  it('refuses operations with 503 when the file cannot be written, and the store keeps the record', async () => {
    await h.close();
    h = await Harness.start({ store, audit: { file: '/dev/full' } });
    const first = await h.call('POST', '/v1/keys', { name: 'k1', algorithm: 'aes-256-gcm', owner: 'team-x' });
    expect(first.status).toBe(503);
    expect(first.body.error.code).toBe('unavailable');
    // From then on every operation is refused before it acts.
    const second = await h.call('POST', '/v1/keys', { name: 'k2', algorithm: 'aes-256-gcm', owner: 'team-x' });
    expect(second.status).toBe(503);
    expect(await h.testStore.raw("SELECT id FROM keys WHERE name = 'k2'")).toEqual([]);
    expect((await h.call('POST', '/v1/keys/k1/encrypt', { plaintext: b64('x') })).status).toBe(503);
    await h.keyward.audit.ticker.runOnce().catch(() => {});
    expect((await h.call('GET', '/v1/keys')).status).toBe(503);
  });

  it('recovers once the file can be written again, catching it up from the store', async () => {
    await h.close();
    // The sink's path is a symbolic link: first to a full device, then to a real file (the disk was cleaned up).
    const link = join(dir, 'sink.jsonl');
    symlinkSync('/dev/full', link);
    h = await Harness.start({ store, audit: { file: link } });
    expect((await h.call('POST', '/v1/keys', { name: 'k1', algorithm: 'aes-256-gcm', owner: 'team-x' })).status).toBe(503);
    expect((await h.call('GET', '/v1/keys')).status).toBe(503);
    unlinkSync(link);
    symlinkSync(join(dir, 'real.jsonl'), link);
    await h.keyward.audit.ticker.runOnce();
    expect((await h.call('POST', '/v1/keys', { name: 'k2', algorithm: 'aes-256-gcm', owner: 'team-x' })).status).toBe(201);
    const records = (await chainRows(h.testStore, 'node-a')).length;
    const report = await verify(h);
    expect(report.valid).toBe(true);
    expect(report.file).toMatchObject({ valid: true, head: { chain: 'node-a', seq: records } });
    const written = readFileSync(link, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
    expect(written[0].type).toBe('anchor');
    expect(written).toContainEqual(expect.objectContaining({ type: 'record', action: 'key.create', key: 'k2', outcome: 'success' }));
    expect(written.at(-1)).toMatchObject({ type: 'record', action: 'audit.verify' });
  });
});

describe.runIf(POSTGRES_URL !== null)('one chain per node on PostgreSQL', () => {
  it('keeps a chain per node, and a checkpoint names every head', async () => {
    const a = await Harness.start({ store: 'postgres', audit: { checkpoints: NO_COUNT_CHECKPOINTS } });
    const b = await Harness.joining(a);
    try {
      await a.createKey('shared');
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).call('POST', '/v1/keys/shared/encrypt', { plaintext: b64(`m${i}`) })),
      );
      const signed = await b.call('POST', '/v1/audit/checkpoints');
      expect(signed.body.node).toBe('node-b');
      expect(signed.body.heads.map((x: { chain: string }) => x.chain)).toEqual(['node-a', 'node-b']);
      const report = await verify(a);
      expect(report.valid).toBe(true);
      expect(report.chains.map((c) => c.chain)).toEqual(['node-a', 'node-b']);
      expect(report.chains.every((c) => c.checkpointedSeq > 0)).toBe(true);
      expect((await chainRows(a.testStore, 'node-b')).length).toBeGreaterThanOrEqual(10);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
