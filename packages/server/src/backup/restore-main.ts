/**
 * `keyward backup restore FILE --identity FILE (--data-dir DIR | --database-url URL) [--seal file|shamir] [--force]`
 *
 * Offline: no server runs on the target. It lives in the server package
 * because it needs the store drivers; bin/keyward sends `backup restore`
 * here the way it sends `server` to main.ts, so the client CLI never loads
 * native modules. Exit codes: 0 restored, 1 refused or failed, 2 usage.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PIN_ENV, readPkcs11Pin } from '../seal/pkcs11/pkcs11-pin.js';
import { openPostgresStore } from '../store/postgres/postgres-store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { ArchiveError } from './archive-reader.js';
import { IdentityFileError, readIdentityFile } from './identity-file.js';
import { type RestoreReport, RestoreTargetError, restoreArchive } from './restore.js';
import { newRestoreSeal, type RestoreSealOptions } from './restore-seal.js';

class UsageError extends Error {}

const USAGE = `usage: keyward backup restore FILE --identity FILE [--identity FILE …]
         (--data-dir DIR | --database-url URL [--data-dir DIR]) [--seal file|shamir|pkcs11] [--shares N --threshold M] [--force] [--json]
         with --seal pkcs11: --pkcs11-library PATH --pkcs11-token LABEL [--pkcs11-key-label LABEL] (--pkcs11-pin-file FILE | KEYWARD_PKCS11_PIN)`;

interface RestoreArgs {
  archive: string;
  identityFiles: string[];
  dataDir: string | null;
  databaseUrl: string | null;
  seal: 'file' | 'shamir' | 'pkcs11';
  shares: number;
  threshold: number;
  force: boolean;
  json: boolean;
  pkcs11: { library: string; token: string; keyLabel: string; pinFile: string | null } | null;
}

function parse(argv: string[], env: NodeJS.ProcessEnv): RestoreArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        identity: { type: 'string', multiple: true },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        seal: { type: 'string' },
        shares: { type: 'string' },
        threshold: { type: 'string' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
        'pkcs11-library': { type: 'string' },
        'pkcs11-token': { type: 'string' },
        'pkcs11-key-label': { type: 'string' },
        'pkcs11-pin-file': { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('give exactly one archive FILE');
  const identityFiles = (values.identity as string[] | undefined) ?? [];
  if (identityFiles.length === 0) throw new UsageError('--identity: the custodian identity file is required');
  const seal = (values.seal as string | undefined) ?? 'file';
  if (seal !== 'file' && seal !== 'shamir' && seal !== 'pkcs11') throw new UsageError('--seal: file, shamir or pkcs11');
  const databaseUrl = (values['database-url'] as string | undefined) ?? env.KEYWARD_DATABASE_URL ?? null;
  const dataDir = (values['data-dir'] as string | undefined) ?? null;
  if (dataDir === null && (databaseUrl === null || seal === 'file')) {
    throw new UsageError('--data-dir: required for SQLite and for the file seal (its new root key goes there)');
  }
  const int = (name: string, fallback: number) => {
    const raw = values[name] as string | undefined;
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 2 || n > 255) throw new UsageError(`--${name}: an integer from 2 to 255`);
    return n;
  };
  const shares = int('shares', 5);
  const threshold = int('threshold', 3);
  if (seal !== 'shamir' && (values.shares !== undefined || values.threshold !== undefined)) {
    throw new UsageError('--shares and --threshold go with --seal shamir');
  }
  if (threshold > shares) throw new UsageError('--threshold cannot exceed --shares');
  const pkcs11 = parsePkcs11(seal, values as Record<string, string | undefined>, env);
  return {
    pkcs11,
    archive: positionals[0] as string,
    identityFiles,
    dataDir: dataDir === null ? null : resolve(dataDir),
    databaseUrl,
    seal,
    shares,
    threshold,
    force: values.force === true,
    json: values.json === true,
  };
}

/** The token of `--seal pkcs11`; the PIN only from a file or KEYWARD_PKCS11_PIN, never argv. */
function parsePkcs11(seal: string, values: Record<string, string | undefined>, env: NodeJS.ProcessEnv): RestoreArgs['pkcs11'] {
  const flags = ['pkcs11-library', 'pkcs11-token', 'pkcs11-key-label', 'pkcs11-pin-file'];
  if (seal !== 'pkcs11') {
    const stray = flags.find((flag) => values[flag] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray}: only with --seal pkcs11`);
    return null;
  }
  const library = values['pkcs11-library'];
  const token = values['pkcs11-token'];
  if (library === undefined) throw new UsageError('--seal pkcs11 needs --pkcs11-library PATH');
  if (token === undefined) throw new UsageError('--seal pkcs11 needs --pkcs11-token LABEL');
  const pinFile = values['pkcs11-pin-file'] ?? null;
  const pinInEnv = env[PIN_ENV] !== undefined;
  if (pinFile === null && !pinInEnv) throw new UsageError('--seal pkcs11 needs the PIN: --pkcs11-pin-file FILE or KEYWARD_PKCS11_PIN');
  if (pinFile !== null && pinInEnv) throw new UsageError('--pkcs11-pin-file: KEYWARD_PKCS11_PIN is set too; give the PIN one way');
  return { library, token, keyLabel: values['pkcs11-key-label'] ?? 'keyward-root', pinFile };
}

/** The identities of an age identity file (usage errors name the path, never the content). */
async function readIdentities(path: string): Promise<string[]> {
  try {
    return await readIdentityFile(path);
  } catch (error) {
    throw error instanceof IdentityFileError ? new UsageError(error.message) : error;
  }
}

async function run(args: RestoreArgs): Promise<RestoreReport> {
  const identities = (await Promise.all(args.identityFiles.map(readIdentities))).flat();
  const openTarget = async (): Promise<{ store: Store; hasFiles: boolean }> => {
    let hasFiles = false;
    if (args.dataDir !== null) {
      await mkdir(args.dataDir, { recursive: true, mode: 0o700 });
      hasFiles = args.seal === 'file' && (await readdir(args.dataDir)).includes('root.key');
    }
    try {
      const store = args.databaseUrl
        ? openPostgresStore({ connectionString: args.databaseUrl })
        : openSqliteStore({ path: join(args.dataDir as string, 'keyward.db') });
      return { store, hasFiles };
    } catch (error) {
      throw new Error(`cannot open the target database: ${(error as Error).message}`);
    }
  };
  const sealOptions: RestoreSealOptions =
    args.seal === 'file'
      ? { kind: 'file', dataDir: args.dataDir as string }
      : args.seal === 'shamir'
        ? { kind: 'shamir', shares: args.shares, threshold: args.threshold }
        : pkcs11SealOptions(args.pkcs11);
  try {
    return await restoreArchive({
      archive: args.archive,
      identities,
      openTarget,
      newSeal: () => newRestoreSeal(sealOptions),
      force: args.force,
    });
  } finally {
    identities.length = 0;
  }
}

function pkcs11SealOptions(pkcs11: RestoreArgs['pkcs11']): RestoreSealOptions {
  if (pkcs11 === null) throw new UsageError('--seal pkcs11 needs its --pkcs11-… options');
  const pinFile = pkcs11.pinFile;
  return {
    kind: 'pkcs11',
    library: pkcs11.library,
    token: pkcs11.token,
    keyLabel: pkcs11.keyLabel,
    readPin: () => readPkcs11Pin(pinFile === null ? { env: process.env } : { file: pinFile }),
  };
}

function render(report: RestoreReport, args: RestoreArgs): string {
  const counts = report.header.tables.map((t) => `  ${t.name}: ${t.rows}`).join('\n');
  const lines = [
    `Restored ${report.rows} rows from a backup of ${report.header.source.node} made ${report.header.createdAt} (schema ${report.header.schemaVersion}).`,
    counts,
    args.seal === 'file'
      ? `New root key: ${join(args.dataDir as string, 'root.key')} (file seal). Start: keyward server --data-dir ${args.dataDir}${args.databaseUrl ? ' --database-url …' : ''}`
      : args.seal === 'pkcs11'
        ? `New root key in token '${args.pkcs11?.token}' labelled '${args.pkcs11?.keyLabel}'. Start: keyward server --seal pkcs11 --pkcs11-key-label ${args.pkcs11?.keyLabel} …`
        : 'New Shamir seal: start the server with --seal shamir and unseal with a threshold of the shares below.',
  ];
  if (report.shares !== null) {
    report.shares.forEach((share, i) => {
      lines.push(`Unseal share ${i + 1}: ${share}`);
    });
    lines.push('WARNING: the unseal shares above are shown this once; give each to a different custodian.');
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('restore');
  let args: RestoreArgs;
  try {
    args = parse(process.argv.slice(at + 1), process.env);
  } catch (error) {
    process.stderr.write(`keyward backup restore: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  try {
    const report = await run(args);
    process.stdout.write(
      args.json
        ? `${JSON.stringify({ rows: report.rows, tables: report.header.tables, source: report.header.source, createdAt: report.header.createdAt, schemaVersion: report.header.schemaVersion, unsealShares: report.shares })}\n`
        : render(report, args),
    );
  } catch (error) {
    const known = error instanceof ArchiveError || error instanceof RestoreTargetError || error instanceof UsageError;
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    process.stderr.write(`keyward backup restore: ${known ? message : `failed: ${message}`}; nothing was restored\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  }
}

await main();
