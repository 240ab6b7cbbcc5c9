import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, readArchive } from '../../src/backup/archive-reader.js';
import { writeArchive } from '../../src/backup/archive-writer.js';
import { KnownAnswerError } from '../../src/backup/known-answers.js';
import { verifyArchive } from '../../src/backup/verify.js';
import { Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

const exec = promisify(execFile);

interface Line {
  type: string;
  table?: string;
  row?: Record<string, unknown>;
  key?: string;
  version?: number;
  value?: string;
  [member: string]: unknown;
}

/** The plaintext archive lines of the harness's store, as the server writes them. */
async function archiveLines(h: Harness): Promise<Line[]> {
  const chunks: Uint8Array[] = [];
  await writeArchive({ store: h.store, seal: h.seal, node: h.node, keyward: '0.0.0-test', now: h.clock.now() }, async (chunk) => {
    chunks.push(chunk);
  });
  return Buffer.concat(chunks)
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

/** Encrypts `lines` to `recipient` as an archive file, the trailer's SHA-256 recomputed over the lines before it. */
async function sealedArchive(dir: string, name: string, recipient: string, lines: Line[]): Promise<string> {
  const body = lines
    .slice(0, -1)
    .map((l) => `${JSON.stringify(l)}\n`)
    .join('');
  const end = { ...(lines.at(-1) as Line), sha256: createHash('sha256').update(body, 'utf8').digest('hex') };
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  const path = join(dir, name);
  await writeFile(path, await encrypter.encrypt(`${body}${JSON.stringify(end)}\n`));
  return path;
}

for (const kind of STORE_KINDS) {
  describe(`known-answer values in backups (${kind})`, () => {
    let h: Harness;
    let dir: string;
    let identity: string;
    let recipient: string;

    beforeAll(async () => {
      h = await Harness.start({ store: kind });
      dir = await mkdtemp(join(tmpdir(), 'keyward-kav-'));
      identity = await generateIdentity();
      recipient = await identityToRecipient(identity);
      await h.createKey('sym');
      await h.createKey('sig', 'ed25519');
      await h.createKey('mac', 'hmac-sha256');
      expect((await h.call('POST', '/v1/keys/sym/rotate', {})).status).toBe(200);
    });

    afterAll(async () => {
      await h?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('follows every key_versions row with material with its fingerprint, and the reader hands each to its caller', async () => {
      const lines = await archiveLines(h);
      const versions = lines.filter((l) => l.table === 'key_versions');
      expect(versions).toHaveLength(4);
      for (const row of versions) {
        const next = lines[lines.indexOf(row) + 1];
        expect(next).toEqual({ type: 'known-answer', key: row.row?.key_id, version: row.row?.version, value: row.row?.fingerprint });
      }
      expect(lines.at(-1)).toMatchObject({ type: 'end', knownAnswers: 4 });
      const path = await sealedArchive(dir, `good-${kind}.age`, recipient, lines);
      const seen: string[] = [];
      await readArchive(
        path,
        [identity],
        async () => {},
        async () => {},
        async (answer) => {
          seen.push(`${answer.key}/${answer.version}`);
        },
      );
      expect(seen).toEqual(versions.map((v) => `${String(v.row?.key_id)}/${String(v.row?.version)}`));
    });

    it('refuses a known-answer line that does not follow the version it names, or a trailer that miscounts them', async () => {
      const lines = await archiveLines(h);
      const at = lines.findIndex((l) => l.type === 'known-answer');
      const moved = [...lines];
      const [answer] = moved.splice(at, 1);
      moved.splice(at + 1, 0, answer as Line);
      const miscounted = lines.map((l) => (l.type === 'end' ? { ...l, knownAnswers: 3 } : l));
      for (const [name, bad, message] of [
        ['moved', moved, /does not follow the key version/],
        ['miscounted', miscounted, /counts 3 known-answer lines, the archive holds 4/],
      ] as const) {
        const path = await sealedArchive(dir, `${name}-${kind}.age`, recipient, bad);
        const read = readArchive(
          path,
          [identity],
          async () => {},
          async () => {},
        );
        await expect(read, name).rejects.toThrow(ArchiveError);
        await expect(read, name).rejects.toThrow(message);
      }
    });

    it('still restores and verifies a version 1 archive (no known-answer lines) against the stored fingerprints', async () => {
      const lines = (await archiveLines(h))
        .filter((l) => l.type !== 'known-answer')
        .map((l) => {
          if (l.type === 'header') {
            const { auditHeads: _heads, ...rest } = l;
            return { ...rest, version: 1 };
          }
          if (l.type === 'end') {
            const { knownAnswers: _n, ...rest } = l;
            return rest as Line;
          }
          return l;
        });
      const path = await sealedArchive(dir, `v1-${kind}.age`, recipient, lines);
      const scratchParent = join(dir, `scratch-v1-${kind}`);
      await exec('mkdir', ['-p', scratchParent]);
      const report = await verifyArchive({ archive: path, identities: [identity], scratchParent });
      expect(report.ok).toBe(true);
      expect(report.versions).toEqual({
        checked: 4,
        passed: 4,
        failed: 0,
        withoutMaterial: 0,
        inToken: 0,
        expected: 'stored-fingerprints',
      });
      expect(report.audit.valid).toBe(true);
      expect(await readdir(scratchParent)).toEqual([]);
    });

    it('fails the backup, naming the version, when stored material does not unwrap under its KEK', async () => {
      const [row] = await h.testStore.raw(`SELECT key_id, version, material FROM key_versions WHERE version = 2`);
      const material = Buffer.from(row?.material as Uint8Array);
      const altered = Buffer.from(material);
      altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 0x01;
      const update = `UPDATE key_versions SET material = ${kind === 'postgres' ? '$1' : '?'} WHERE key_id = ${kind === 'postgres' ? '$2' : '?'} AND version = 2`;
      await h.testStore.raw(update, [altered, row?.key_id]);
      try {
        const written = archiveLines(h);
        await expect(written).rejects.toThrow(KnownAnswerError);
        await expect(written).rejects.toThrow(/key 'sym' version 2: its material does not unwrap/);
      } finally {
        await h.testStore.raw(update, [material, row?.key_id]);
      }
    });
  });
}
