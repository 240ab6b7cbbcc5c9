/**
 * The audit chain's canonical encoding, hashes and checkpoint signatures
 * (docs/formats.md, "Audit records"), checked against golden values and the
 * OpenSSL command line; and the verifier's verdict on every kind of damage.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditCheckpointView, AuditRecordView } from '@keyward/wire';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AuditVerifier,
  auditCheckpointBytes,
  auditKeyId,
  auditRecordBytes,
  auditRecordCanonical,
  auditRecordHash,
  canonicalJson,
  GENESIS_HASH,
  signAuditCheckpoint,
  type UnhashedAuditRecord,
  verifyAuditCheckpoint,
  verifyAuditLines,
} from '../src/audit-chain.js';

const dir = mkdtempSync(join(tmpdir(), 'keyward-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** RFC 8032 §7.1 test 1 secret key, as PKCS#8: the golden checkpoint signature is reproducible anywhere. */
const RFC8032_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const privateKey = createPrivateKey({
  key: Buffer.from(`302e020100300506032b657004220420${RFC8032_SEED}`, 'hex'),
  format: 'der',
  type: 'pkcs8',
});
const publicKey = createPublicKey(privateKey);

const GOLDEN_RECORD: UnhashedAuditRecord = {
  chain: 'node-a',
  seq: 1,
  time: '2026-06-01T00:00:00.000Z',
  actor: 'svc-billing',
  action: 'crypto.encrypt',
  namespace: 'default',
  key: 'payments',
  keyVersion: 2,
  outcome: 'success',
  errorCode: null,
  requestId: '3f1c0f0e-5b7e-4a58-9d1f-1b2a3c4d5e6f',
  source: '10.0.0.7',
  details: { context: `hmac-sha256:${'ab'.repeat(32)}`, bytes: 32 },
  prevHash: GENESIS_HASH,
};
const GOLDEN_BYTES =
  '{"action":"crypto.encrypt","actor":"svc-billing","chain":"node-a","details":{"bytes":32,"context":"hmac-sha256:abababababababababababababababababababababababababababababababab"},"errorCode":null,"key":"payments","keyVersion":2,"namespace":"default","outcome":"success","prevHash":"0000000000000000000000000000000000000000000000000000000000000000","requestId":"3f1c0f0e-5b7e-4a58-9d1f-1b2a3c4d5e6f","seq":1,"source":"10.0.0.7","time":"2026-06-01T00:00:00.000Z","type":"keyward-audit-record","v":1}';
const GOLDEN_HASH = '5527866c312de915e27eb63af1b2b5838e06d1a8403d1ffd5580694b4e59be58';
const GOLDEN_KEY_ID = 'sha256:06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9';
const GOLDEN_SIGNATURE = '27b/oJxrx/MoLuvApla1bkhs8HQ7XkgWeSXDu15G23oSlA1GAATvAy5QvMBFzyA9kJfXPmhr9HgQpv/yoxjxAA==';

function openssl(args: string[], input?: Buffer): { status: number | null; stdout: string } {
  const run = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout };
}

/** A chain of `n` records made the way the audit log makes them. */
function chain(n: number, name = 'node-a'): AuditRecordView[] {
  const out: AuditRecordView[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const record = { ...GOLDEN_RECORD, chain: name, seq, requestId: `req-${seq}`, prevHash: prev };
    const hash = auditRecordHash(record);
    out.push({ ...record, hash });
    prev = hash;
  }
  return out;
}

function checkpoint(id: number, heads: AuditRecordView[], key = privateKey): AuditCheckpointView {
  const unsigned = {
    time: `2026-06-01T00:0${id}:00.000Z`,
    node: 'node-a',
    heads: heads.map((r) => ({ chain: r.chain, seq: r.seq, hash: r.hash })),
    keyId: auditKeyId(createPublicKey(key)),
  };
  return { id, ...unsigned, signature: signAuditCheckpoint(key, unsigned) };
}

function verify(records: AuditRecordView[], checkpoints: AuditCheckpointView[] = [], heads = records.length > 0 ? [records.at(-1)!] : []) {
  const verifier = new AuditVerifier({ publicKey, checkpoints, requireAllChains: true });
  for (const r of records) verifier.record(r);
  return verifier.finish(heads.map((r) => ({ chain: r.chain, seq: r.seq, hash: r.hash })));
}

describe('canonical encoding (RFC 8785 for the values records hold)', () => {
  it('sorts members by UTF-16 code units at every depth, without whitespace', () => {
    expect(canonicalJson({ b: 1, a: [{ z: null, y: true }], é: 'x', B: 'upper' })).toBe(
      '{"B":"upper","a":[{"y":true,"z":null}],"b":1,"é":"x"}',
    );
    expect(canonicalJson({ '\u{1F600}': 1, '\uFB01': 2 })).toBe('{"\u{1F600}":1,"\uFB01":2}');
    expect(canonicalJson('line\nbreak "quoted"')).toBe('"line\\nbreak \\"quoted\\""');
    expect(canonicalJson(2 ** 40)).toBe('1099511627776');
  });

  it('refuses what JSON cannot hold', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson({ a: undefined } as never)).toThrow(TypeError);
  });
});

describe('the record encoding used on the request path', () => {
  it('equals the canonical encoding of the same record, for any record', () => {
    const text = fc.string({ unit: 'binary' });
    const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
    const record = fc.record({
      chain: text,
      seq: fc.integer({ min: 1 }),
      time: text,
      actor: nullable(text),
      action: text,
      namespace: nullable(text),
      key: nullable(text),
      keyVersion: nullable(fc.integer({ min: 1 })),
      outcome: fc.constantFrom('success' as const, 'denied' as const, 'error' as const),
      errorCode: nullable(text),
      requestId: text,
      source: text,
      details: fc.dictionary(
        text,
        fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)),
      ),
      prevHash: text,
    });
    fc.assert(
      fc.property(record, (r) => {
        expect(auditRecordBytes(r).toString('utf8')).toBe(auditRecordCanonical(r));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('golden values (docs/formats.md)', () => {
  it('a record encodes and hashes to the documented bytes and hash, as sha256 in OpenSSL computes too', () => {
    expect(auditRecordBytes(GOLDEN_RECORD).toString('utf8')).toBe(GOLDEN_BYTES);
    expect(auditRecordHash(GOLDEN_RECORD)).toBe(GOLDEN_HASH);
    const digest = openssl(['dgst', '-sha256', '-r'], Buffer.from(GOLDEN_BYTES, 'utf8'));
    expect(digest.status).toBe(0);
    expect(digest.stdout.split(' ')[0]).toBe(GOLDEN_HASH);
  });

  it('a checkpoint signs to the documented Ed25519 signature, which OpenSSL verifies', () => {
    const unsigned = {
      time: '2026-06-01T00:01:00.000Z',
      node: 'node-a',
      heads: [{ chain: 'node-a', seq: 1, hash: GOLDEN_HASH }],
      keyId: auditKeyId(publicKey),
    };
    expect(unsigned.keyId).toBe(GOLDEN_KEY_ID);
    const signature = signAuditCheckpoint(privateKey, unsigned);
    expect(signature).toBe(GOLDEN_SIGNATURE);
    const payload = join(dir, 'checkpoint.json');
    const sig = join(dir, 'checkpoint.sig');
    const pub = join(dir, 'audit.pub');
    writeFileSync(payload, auditCheckpointBytes(unsigned));
    writeFileSync(sig, Buffer.from(signature, 'base64'));
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    expect(openssl(['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', payload, '-sigfile', sig]).status).toBe(0);
    expect(verifyAuditCheckpoint(publicKey, { id: 1, ...unsigned, signature })).toBe(true);
    expect(verifyAuditCheckpoint(publicKey, { id: 1, ...unsigned, node: 'node-b', signature })).toBe(false);
    expect(verifyAuditCheckpoint(publicKey, { id: 1, ...unsigned, signature: 'not base64!' })).toBe(false);
  });
});

describe('AuditVerifier', () => {
  const records = chain(6);

  it('accepts an intact chain and reports its head and checkpoint coverage', () => {
    const report = verify(records, [checkpoint(1, [records[3]!])]);
    expect(report).toEqual({
      valid: true,
      chains: [{ chain: 'node-a', records: 6, head: { chain: 'node-a', seq: 6, hash: records[5]!.hash }, checkpointedSeq: 4 }],
      checkpoints: 1,
      latestCheckpointAt: '2026-06-01T00:01:00.000Z',
      problem: null,
    });
  });

  it.each([
    ['altered', (r: AuditRecordView[]) => r.map((x) => (x.seq === 3 ? { ...x, actor: 'eve' } : x)), 3],
    ['missing', (r: AuditRecordView[]) => r.filter((x) => x.seq !== 3), 3],
    ['out_of_order', (r: AuditRecordView[]) => [...r.slice(0, 3), r[1]!, ...r.slice(3)], 2],
    ['broken_link', (r: AuditRecordView[]) => r.map((x) => (x.seq === 3 ? rehashOne({ ...x, prevHash: 'f'.repeat(64) }) : x)), 3],
  ] as const)('%s records are located', (kind, damage, seq) => {
    expect(verify(damage(records), [], [records[5]!]).problem).toMatchObject({ kind, chain: 'node-a', seq });
  });

  it('a chain cut short of its head or of a checkpoint is truncated at the first missing position', () => {
    expect(verify(records.slice(0, 4), [], [records[5]!]).problem).toMatchObject({ kind: 'truncated', seq: 5 });
    expect(verify(records.slice(0, 4), [checkpoint(1, [records[4]!])], []).problem).toMatchObject({
      kind: 'truncated',
      seq: 5,
      checkpointId: 1,
    });
  });

  it('a checkpoint by another key, with a bad signature, or disagreeing with another is refused', () => {
    const { privateKey: other } = generateKeyPairSync('ed25519');
    expect(verify(records, [checkpoint(1, [records[2]!], other)]).problem).toMatchObject({ kind: 'bad_checkpoint', checkpointId: 1 });
    const forged = { ...checkpoint(2, [records[2]!]), heads: [{ chain: 'node-a', seq: 3, hash: records[3]!.hash }] };
    expect(verify(records, [forged]).problem).toMatchObject({ kind: 'bad_checkpoint', checkpointId: 2, chain: null });
    // Record 2 edited and every hash after it recomputed: only a checkpoint signed before still tells.
    const rewritten = rehashChain(records.map((x) => (x.seq === 2 ? { ...x, actor: 'eve' } : x)));
    const signedBefore = checkpoint(3, [records[4]!]);
    expect(verify(rewritten, [signedBefore]).problem).toMatchObject({ kind: 'bad_checkpoint', chain: 'node-a', seq: 1, checkpointId: 3 });
    const disagreeing = [checkpoint(4, [records[2]!]), checkpoint(5, [{ ...records[2]!, hash: 'e'.repeat(64) }])];
    expect(verify(records, disagreeing).problem).toMatchObject({ kind: 'bad_checkpoint', checkpointId: 5, seq: 3 });
  });

  it('a file picked up mid-chain starts from its anchor; an anchor after records is malformed', async () => {
    const lines = [JSON.stringify({ type: 'anchor', chain: 'node-a', seq: 3, hash: records[2]!.hash }), ...records.slice(3).map(line)];
    const read = (l: string[]) =>
      async function* () {
        yield* l;
      };
    expect(await verifyAuditLines(read(lines), { publicKey, requireAllChains: false })).toMatchObject({ valid: true });
    expect((await verifyAuditLines(read([...lines, lines[0]!]), { publicKey, requireAllChains: false })).problem).toMatchObject({
      kind: 'malformed',
    });
    expect((await verifyAuditLines(read(['{not json']), { publicKey, requireAllChains: false })).problem).toMatchObject({
      kind: 'malformed',
      message: 'line 1 is not an audit line',
    });
  });
});

function line(r: AuditRecordView): string {
  return JSON.stringify({ type: 'record', ...r });
}

function rehashOne(r: AuditRecordView): AuditRecordView {
  const { hash: _, ...rest } = r;
  return { ...rest, hash: auditRecordHash(rest) };
}

function rehashChain(records: AuditRecordView[]): AuditRecordView[] {
  let prev = GENESIS_HASH;
  return records.map((r) => {
    const next = rehashOne({ ...r, prevHash: prev });
    prev = next.hash;
    return next;
  });
}
