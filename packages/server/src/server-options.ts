import { isIP } from 'node:net';
import { parseArgs } from 'node:util';

export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  seal: 'file' | 'shamir';
  /** From --database-url or KEYWARD_DATABASE_URL; null means SQLite in the data directory. */
  databaseUrl: string | null;
  tlsCert: string | null;
  tlsKey: string | null;
  logLevel: string;
  /** How often the life-cycle scheduler runs. */
  schedulerIntervalMs: number;
}

/** A bad flag: the process prints the message on one line and exits 2. */
export class UsageError extends Error {}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export const isLoopback = (host: string): boolean => LOOPBACK.has(host) || host.startsWith('127.');

function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) throw new UsageError(`--listen: expected HOST:PORT, got '${value}'`);
  if (host !== 'localhost' && isIP(host) === 0) throw new UsageError(`--listen: '${host}' is not an IP address`);
  return { host, port };
}

function parseInterval(value: string): number {
  const match = /^([1-9][0-9]{0,4})(s|m)$/.exec(value);
  if (!match) throw new UsageError(`--scheduler-interval: expected a duration such as 30s or 5m, got '${value}'`);
  return Number(match[1]) * (match[2] === 'm' ? 60_000 : 1000);
}

/** Parses `keyward server` flags (API.md, "Server start"). */
export function parseServerOptions(argv: readonly string[], env: NodeJS.ProcessEnv): ServerOptions {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:8200');
  const seal = values.seal ?? 'file';
  if (seal === 'pkcs11') throw new UsageError('--seal: the pkcs11 seal is not available in this release; use file or shamir');
  if (seal !== 'file' && seal !== 'shamir') throw new UsageError(`--seal: expected file or shamir, got '${seal}'`);
  const tlsCert = values['tls-cert'] ?? null;
  const tlsKey = values['tls-key'] ?? null;
  if ((tlsCert === null) !== (tlsKey === null)) throw new UsageError('--tls-cert and --tls-key go together');
  if (!isLoopback(host) && tlsCert === null) {
    throw new UsageError(`--listen: refusing to serve plain HTTP on non-loopback address ${host}; give --tls-cert and --tls-key`);
  }
  const databaseUrl = values['database-url'] ?? env.KEYWARD_DATABASE_URL ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new UsageError('--database-url: expected a postgres:// URL');
  return {
    dataDir: values['data-dir'] ?? './data',
    host,
    port,
    seal,
    databaseUrl,
    tlsCert,
    tlsKey,
    logLevel: values['log-level'] ?? env.KEYWARD_LOG_LEVEL ?? 'info',
    schedulerIntervalMs: parseInterval(values['scheduler-interval'] ?? '30s'),
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      'data-dir': { type: 'string' },
      listen: { type: 'string' },
      seal: { type: 'string' },
      'database-url': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'log-level': { type: 'string' },
      'scheduler-interval': { type: 'string' },
    },
  });
}
