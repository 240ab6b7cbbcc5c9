/**
 * `keyward operator rekey …` and `keyward operator migrate-seal --to KIND …`
 *
 * Offline: the server must be stopped (docs/operations.md, "Rekeying the
 * root key"). It lives in the server package because it needs the store
 * drivers and the seals; bin/keyward sends these two commands here. Shares
 * of a current Shamir seal are read from stdin, one per line; PINs from
 * --pkcs11-pin-file or KEYWARD_PKCS11_PIN; never from argv. Exit codes:
 * 0 done, 1 refused or failed, 2 usage.
 */
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openPostgresStore } from '../../store/postgres/postgres-store.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { readPkcs11Pin } from '../pkcs11/pkcs11-pin.js';
import type { SealKind } from '../seal.js';
import { type NewRootSpec, type RekeyPlaces, rekeySeal } from './rekey-roots.js';

class UsageError extends Error {}

const USAGE = `usage: keyward operator rekey        --data-dir DIR [--database-url URL] [--seal file|shamir|pkcs11] [options]
       keyward operator migrate-seal --to file|shamir|pkcs11 --data-dir DIR [--database-url URL] [--seal …] [options]
options: [--shares N --threshold M] [--pkcs11-library PATH --pkcs11-token LABEL --pkcs11-key-label LABEL --pkcs11-pin-file FILE]
         [--new-pkcs11-key-label LABEL] [--node-id ID]
A current Shamir seal is unsealed with shares read from stdin, one per line.`;

const KINDS = ['file', 'shamir', 'pkcs11'] as const;

function kind(value: string | undefined, flag: string, fallback: SealKind | null): SealKind {
  const k = value ?? fallback;
  if (k === null) throw new UsageError(`${flag}: required`);
  if (!(KINDS as readonly string[]).includes(k)) throw new UsageError(`${flag}: file, shamir or pkcs11`);
  return k as SealKind;
}

async function readStdinShares(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

async function main(): Promise<void> {
  const at = process.argv.findIndex((a) => a === 'rekey' || a === 'migrate-seal');
  const command = process.argv[at];
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: process.argv.slice(at + 1),
      strict: true,
      options: {
        to: { type: 'string' },
        seal: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        shares: { type: 'string' },
        threshold: { type: 'string' },
        'pkcs11-library': { type: 'string' },
        'pkcs11-token': { type: 'string' },
        'pkcs11-key-label': { type: 'string' },
        'pkcs11-pin-file': { type: 'string' },
        'new-pkcs11-key-label': { type: 'string' },
        'node-id': { type: 'string' },
        json: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    return usage((error as Error).message);
  }
  let current: SealKind;
  let target: SealKind;
  let int: (name: string) => number | null;
  try {
    current = kind(values.seal as string | undefined, '--seal', 'file');
    target = command === 'rekey' ? current : kind(values.to as string | undefined, '--to', null);
    if (command === 'rekey' && values.to !== undefined) throw new UsageError('--to goes with migrate-seal');
    if (values['data-dir'] === undefined)
      throw new UsageError('--data-dir: required (the root key file and the SQLite database live there)');
    int = (name) => {
      const raw = values[name] as string | undefined;
      if (raw === undefined) return null;
      if (!/^\d+$/.test(raw) || Number(raw) < 2 || Number(raw) > 255) throw new UsageError(`--${name}: an integer from 2 to 255`);
      return Number(raw);
    };
    if (target !== 'shamir' && (values.shares !== undefined || values.threshold !== undefined)) {
      throw new UsageError('--shares and --threshold describe a new Shamir seal');
    }
    if (target === 'pkcs11' && values['new-pkcs11-key-label'] === undefined) {
      throw new UsageError('--new-pkcs11-key-label: the label of the new root key object is required');
    }
  } catch (error) {
    return usage((error as Error).message);
  }
  const dataDir = resolve(values['data-dir'] as string);
  const databaseUrl = (values['database-url'] as string | undefined) ?? process.env.KEYWARD_DATABASE_URL ?? null;
  const library = values['pkcs11-library'] as string | undefined;
  const token = values['pkcs11-token'] as string | undefined;
  const pinFile = values['pkcs11-pin-file'] as string | undefined;
  const usesPkcs11 = current === 'pkcs11' || target === 'pkcs11';
  if (usesPkcs11 && (library === undefined || token === undefined))
    return usage('the pkcs11 seal needs --pkcs11-library and --pkcs11-token');
  const places: RekeyPlaces = {
    dataDir,
    pkcs11:
      usesPkcs11 && library !== undefined && token !== undefined
        ? { library, token, readPin: () => readPkcs11Pin(pinFile === undefined ? { env: process.env } : { file: pinFile }) }
        : null,
  };
  const store = databaseUrl ? openPostgresStore({ connectionString: databaseUrl }) : openSqliteStore({ path: join(dataDir, 'keyward.db') });
  try {
    await store.migrate();
    let next: NewRootSpec;
    if (target === 'shamir') {
      const old =
        current === 'shamir' ? (JSON.parse((await store.getMeta('seal.shamir')) ?? '{}') as { shares?: number; threshold?: number }) : {};
      const shares = int('shares') ?? old.shares ?? 5;
      const threshold = int('threshold') ?? old.threshold ?? 3;
      if (threshold > shares) return usage('--threshold cannot exceed --shares');
      next = { kind: 'shamir', shares, threshold };
    } else if (target === 'pkcs11') next = { kind: 'pkcs11', label: values['new-pkcs11-key-label'] as string };
    else next = { kind: 'file' };
    const pending = (await store.getMeta('seal.rekey')) !== null;
    const shares = current === 'shamir' && !pending ? await readStdinShares() : [];
    const node = (values['node-id'] as string | undefined) ?? process.env.KEYWARD_NODE_ID ?? hostname();
    const report = await rekeySeal({
      store,
      places,
      current,
      next,
      shares,
      configuredLabel: (values['pkcs11-key-label'] as string | undefined) ?? 'keyward-root',
      auditNode: node,
      actor: `os-user:${userInfo().username}`,
      now: new Date(),
      showShares: (list) => {
        list.forEach((share, i) => {
          process.stdout.write(`New unseal share ${i + 1}: ${share}\n`);
        });
        process.stdout.write('WARNING: the new unseal shares above are shown this once and valid once this command reports success.\n');
      },
    });
    shares.length = 0;
    const to = report.marker.to;
    const summary = report.resumed
      ? `Finished the rekey committed at ${report.marker.at} (${report.marker.from.kind} → ${to.kind}).`
      : `Rekeyed: ${report.rewrapped} root-wrapped values rewrapped (${report.marker.from.kind} → ${to.kind}); the old root key is destroyed.`;
    const start =
      to.kind === 'pkcs11'
        ? ` Start the server with --seal pkcs11 --pkcs11-key-label ${to.label}.`
        : ` Start the server with --seal ${to.kind}.`;
    process.stdout.write(
      values.json === true
        ? `${JSON.stringify({ resumed: report.resumed, rewrapped: report.rewrapped, from: report.marker.from, to })}\n`
        : `${summary}${start}\n`,
    );
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    process.stderr.write(`keyward operator ${command}: ${message}\n`);
    process.exitCode = 1;
  } finally {
    await store.close();
  }
}

function usage(message: string): void {
  process.stderr.write(`keyward operator: ${message}\n${USAGE}\n`);
  process.exit(2);
}

await main();
