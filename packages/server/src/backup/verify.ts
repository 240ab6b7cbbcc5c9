import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditVerifier } from '@keyward/crypto';
import type { AuditChainHead, AuditCheckpointView, AuditProblem } from '@keyward/wire';
import { WRAPPED_AUDIT_META } from '../audit/audit-secrets.js';
import { recordView } from '../audit/file-sink.js';
import { kekAad } from '../keys/material-aad.js';
import type { Seal } from '../seal/seal.js';
import { zero } from '../seal/zero.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { COPIED_TABLES, type CopiedTable, type TableRow } from '../store/table-copy.js';
import type { ArchiveHeader } from './archive-format.js';
import { readArchive } from './archive-reader.js';
import { KnownAnswerError, KnownAnswers, sameAnswer } from './known-answers.js';
import { restoreArchive } from './restore.js';
import { newRestoreSeal, type RestoreSeal } from './restore-seal.js';

const PAGE = 500;
const SIGNING_KEY_META = 'audit.signing-key';

/** One key version that did not prove out. */
export interface VersionFailure {
  keyId: string;
  name: string;
  version: number;
  problem: string;
}

export interface VerifyReport {
  header: ArchiveHeader;
  rows: number;
  versions: {
    /** Versions with material, each unwrapped under its restored KEK and checked. */
    checked: number;
    passed: number;
    failed: number;
    /** Versions without material (destroyed): nothing to prove. */
    withoutMaterial: number;
    /** Versions of HSM-resident keys: their material stays in the token, the archive holds only a reference. */
    inToken: number;
    /** Where the expected values came from: the archive's known-answer lines (version 2) or, for a version 1 archive, the stored fingerprints. */
    expected: 'known-answers' | 'stored-fingerprints';
  };
  /** In key id, version order; the first is the first bad one. */
  failures: VersionFailure[];
  audit: { valid: boolean; chains: number; records: number; checkpoints: number; problem: AuditProblem | null };
  ok: boolean;
}

export interface VerifyOptions {
  archive: string;
  identities: readonly string[];
  /** Where the scratch data directory is made (the system's temporary directory by default); it is deleted afterwards. */
  scratchParent?: string;
}

/**
 * The restore drill (docs/operations.md "Restore drill"): restores the
 * archive into a scratch SQLite store with a new file seal, unwraps every
 * version's material under the restored KEKs and checks it against the
 * known-answer value recorded at backup time, and verifies the restored
 * audit chains and checkpoints up to the heads the archive recorded. The
 * scratch directory (database and root key) is deleted whatever happens.
 * A damaged or unreadable archive throws `ArchiveError` as a restore does;
 * a restored archive whose contents do not prove out gives `ok: false`.
 */
export async function verifyArchive(options: VerifyOptions): Promise<VerifyReport> {
  const expected = new Map<string, string>();
  await readArchive(
    options.archive,
    options.identities,
    async () => {},
    async () => {},
    async (answer) => {
      expected.set(`${answer.key}\0${answer.version}`, answer.value);
    },
  );
  const scratch = await mkdtemp(join(options.scratchParent ?? tmpdir(), 'keyward-verify-'));
  let target: RestoreSeal | null = null;
  try {
    const restored = await restoreArchive({
      archive: options.archive,
      identities: options.identities,
      openTarget: async () => ({ store: openSqliteStore({ path: join(scratch, 'keyward.db') }), hasFiles: false }),
      newSeal: async () => {
        target = await newRestoreSeal({ kind: 'file', dataDir: scratch });
        return target;
      },
      force: false,
    });
    const seal = (target as RestoreSeal | null)?.seal;
    if (seal === undefined) throw new Error('the restore made no seal');
    const store = openSqliteStore({ path: join(scratch, 'keyward.db') });
    try {
      const legacy = restored.header.version < 2;
      const versions = await checkVersions(store, seal, legacy ? null : expected);
      const audit = await checkAudit(store, seal, restored.header);
      return {
        header: restored.header,
        rows: restored.rows,
        versions: { ...versions.counts, expected: legacy ? 'stored-fingerprints' : 'known-answers' },
        failures: versions.failures,
        audit,
        ok: versions.failures.length === 0 && audit.valid,
      };
    } finally {
      await store.close();
    }
  } finally {
    (target as RestoreSeal | null)?.seal.seal();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Unwraps every version's material under its restored KEK and compares its known-answer value with the expected one. */
async function checkVersions(
  store: Store,
  seal: Seal,
  expected: Map<string, string> | null,
): Promise<{ counts: Omit<VerifyReport['versions'], 'expected'>; failures: VersionFailure[] }> {
  const answers = new KnownAnswers();
  const failures: VersionFailure[] = [];
  const counts = { checked: 0, passed: 0, failed: 0, withoutMaterial: 0, inToken: 0 };
  const seen = new Set<string>();
  try {
    await store.readSnapshot(async (reader) => {
      for await (const row of rowsOf(reader, 'keks')) {
        const secret = await seal.unwrap(row.wrapped as Uint8Array, kekAad(String(row.namespace), Number(row.version)));
        answers.kek(String(row.namespace), Number(row.version), secret);
        zero(secret);
      }
      for await (const row of rowsOf(reader, 'keys')) answers.key(row);
      for await (const row of rowsOf(reader, 'key_versions')) {
        const keyId = String(row.key_id);
        const version = Number(row.version);
        const fail = (problem: string) => {
          failures.push({ keyId, name: answers.nameOf(keyId), version, problem });
          counts.failed += 1;
        };
        if (row.material === null || row.material === undefined) {
          counts.withoutMaterial += 1;
          continue;
        }
        if (answers.inToken(keyId)) {
          counts.inToken += 1;
          continue;
        }
        counts.checked += 1;
        const id = `${keyId}\0${version}`;
        seen.add(id);
        const want = expected === null ? String(row.fingerprint) : expected.get(id);
        if (want === undefined) {
          fail('the archive records no known-answer value for it');
          continue;
        }
        let answer: ReturnType<KnownAnswers['answer']>;
        try {
          answer = answers.answer(row);
        } catch (error) {
          if (!(error instanceof KnownAnswerError)) throw error;
          fail(error.message);
          continue;
        }
        if (answer === null || !sameAnswer(answer.value, want)) {
          fail('its restored material does not match the known-answer value recorded at backup time');
        } else if (!sameAnswer(answer.value, String(row.fingerprint))) {
          fail('its stored fingerprint does not match its material');
        } else {
          counts.passed += 1;
        }
      }
    });
  } finally {
    answers.dispose();
  }
  if (expected !== null) {
    for (const id of expected.keys()) {
      if (seen.has(id)) continue;
      const [keyId = '', version = '0'] = id.split('\0');
      failures.push({
        keyId,
        name: keyId,
        version: Number(version),
        problem: 'a known-answer value names a version the restored store does not hold with material',
      });
      counts.failed += 1;
    }
  }
  return { counts, failures };
}

/** Verifies every restored chain and checkpoint, and that the chains end exactly at the heads the archive recorded. */
async function checkAudit(store: Store, seal: Seal, header: ArchiveHeader): Promise<VerifyReport['audit']> {
  const checkpoints: AuditCheckpointView[] = [];
  for (let after = 0; ; ) {
    const page = await store.listAuditCheckpoints(after, PAGE);
    checkpoints.push(...page);
    const last = page.at(-1);
    if (last === undefined || page.length < PAGE) break;
    after = last.id;
  }
  const publicKey = await auditPublicKey(store, seal);
  if (publicKey === null && checkpoints.length > 0) {
    const problem: AuditProblem = {
      kind: 'bad_checkpoint',
      chain: null,
      seq: null,
      checkpointId: checkpoints[0]?.id ?? null,
      message: 'the archive has checkpoints but no audit signing key',
    };
    return { valid: false, chains: 0, records: 0, checkpoints: checkpoints.length, problem };
  }
  // Without a signing key there are no checkpoints to check: any key will do for the chains alone.
  const verifier = new AuditVerifier({
    publicKey: publicKey ?? generateKeyPairSync('ed25519').publicKey,
    checkpoints,
    requireAllChains: true,
  });
  const stored = await store.auditHeads();
  const heads: AuditChainHead[] = header.auditHeads ?? stored;
  const chains = new Set([...heads.map((h) => h.chain), ...stored.map((h) => h.chain), ...(await store.auditChainNames())]);
  outer: for (const chain of [...chains].sort()) {
    for (let after = 0; ; ) {
      const page = await store.listAuditChain(chain, after, PAGE);
      for (const record of page) if (!verifier.record(recordView(record))) break outer;
      const last = page.at(-1);
      if (last === undefined || page.length < PAGE) break;
      after = last.chainSeq;
    }
  }
  const report = verifier.finish(heads);
  let problem = report.problem;
  if (problem === null) {
    // The chains must end at the recorded heads, not beyond: records added to the archive after the backup are caught too.
    for (const chain of report.chains) {
      const head = heads.find((h) => h.chain === chain.chain);
      if (head === undefined || chain.records !== head.seq) {
        problem = {
          kind: 'malformed',
          chain: chain.chain,
          seq: head === undefined ? 1 : head.seq + 1,
          checkpointId: null,
          message: `chain '${chain.chain}' holds ${chain.records} records but the archive recorded its head at ${head?.seq ?? 0}`,
        };
        break;
      }
    }
  }
  return {
    valid: problem === null,
    chains: report.chains.length,
    records: report.chains.reduce((n, c) => n + c.records, 0),
    checkpoints: checkpoints.length,
    problem,
  };
}

/** The restored audit public key, from the signing key wrapped under the restored seal; null when the archive has none. */
async function auditPublicKey(store: Store, seal: Seal): Promise<KeyObject | null> {
  const stored = await store.getMeta(SIGNING_KEY_META);
  const aad = WRAPPED_AUDIT_META.get(SIGNING_KEY_META);
  if (stored === null || aad === undefined) return null;
  const der = await seal.unwrap(Buffer.from(stored, 'base64'), aad);
  try {
    return createPublicKey(
      createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'pkcs8' }),
    );
  } finally {
    zero(der);
  }
}

async function* rowsOf(reader: { page: (t: CopiedTable, after: TableRow | null, limit: number) => Promise<TableRow[]> }, name: string) {
  const table = COPIED_TABLES.find((t) => t.name === name) as CopiedTable;
  let after: TableRow | null = null;
  for (;;) {
    const page = await reader.page(table, after, PAGE);
    yield* page;
    if (page.length < PAGE) return;
    after = page.at(-1) ?? null;
  }
}
