/**
 * `keyward backup verify FILE --identity FILE [--identity FILE …] [--json]`: the restore drill.
 *
 * Offline, like `backup restore` (bin/keyward sends it here): restores the
 * archive into a scratch SQLite store with a new file seal, proves every
 * key version's material against its known-answer value and verifies the
 * audit chains to the recorded heads, then deletes the scratch store.
 * Exit codes: 0 verified, 1 the archive or its contents failed, 2 usage.
 */
import { parseArgs } from 'node:util';
import { ArchiveError } from './archive-reader.js';
import { IdentityFileError, readIdentityFile } from './identity-file.js';
import { type VerifyReport, verifyArchive } from './verify.js';

const USAGE = 'usage: keyward backup verify FILE --identity FILE [--identity FILE …] [--json]';

class UsageError extends Error {}

function parse(argv: string[]): { archive: string; identityFiles: string[]; json: boolean } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { identity: { type: 'string', multiple: true }, json: { type: 'boolean' } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('give exactly one archive FILE');
  const identityFiles = (values.identity as string[] | undefined) ?? [];
  if (identityFiles.length === 0) throw new UsageError('--identity: the custodian identity file is required');
  return { archive: positionals[0] as string, identityFiles, json: values.json === true };
}

function render(report: VerifyReport): string {
  const { header, versions, audit, failures } = report;
  const lines = [
    `Backup of ${header.source.node} (${header.source.dialect}) made ${header.createdAt}, archive format ${header.version}, schema ${header.schemaVersion}: restored ${report.rows} rows into a scratch store.`,
    `Key versions: ${versions.checked} with material, ${versions.passed} match their ${versions.expected === 'known-answers' ? 'known-answer values' : 'stored fingerprints (a version 1 archive records no known-answer values)'}, ${versions.failed} failed; ${versions.withoutMaterial} without material; ${versions.inToken} HSM-resident (in the token, not in the archive).`,
    audit.valid
      ? `Audit: ${audit.chains} chain(s), ${audit.records} records and ${audit.checkpoints} checkpoint(s) verify to the recorded heads.`
      : `Audit: FAILED: ${audit.problem?.message ?? 'unknown problem'}`,
  ];
  const first = failures[0];
  if (first !== undefined) lines.push(`First bad version: key '${first.name}' (${first.keyId}) version ${first.version}: ${first.problem}`);
  lines.push(report.ok ? 'Verified: this backup restores.' : 'FAILED: this backup does not restore intact.');
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('verify');
  let args: ReturnType<typeof parse>;
  try {
    args = parse(process.argv.slice(at + 1));
  } catch (error) {
    process.stderr.write(`keyward backup verify: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  try {
    const identities = (await Promise.all(args.identityFiles.map(readIdentityFile))).flat();
    const report = await verifyArchive({ archive: args.archive, identities });
    identities.length = 0;
    process.stdout.write(
      args.json
        ? `${JSON.stringify({
            ok: report.ok,
            rows: report.rows,
            source: report.header.source,
            createdAt: report.header.createdAt,
            formatVersion: report.header.version,
            schemaVersion: report.header.schemaVersion,
            versions: report.versions,
            failures: report.failures,
            audit: report.audit,
          })}\n`
        : render(report),
    );
    process.exit(report.ok ? 0 : 1);
  } catch (error) {
    if (error instanceof IdentityFileError) {
      process.stderr.write(`keyward backup verify: ${error.message}\n${USAGE}\n`);
      process.exit(2);
    }
    const known = error instanceof ArchiveError;
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    process.stderr.write(`keyward backup verify: ${known ? message : `failed: ${message}`}; the backup did not verify\n`);
    process.exit(1);
  }
}

await main();
