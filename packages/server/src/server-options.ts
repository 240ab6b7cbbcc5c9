import { isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { parseArgs } from 'node:util';

export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  seal: 'file' | 'shamir' | 'pkcs11';
  /** With `--seal pkcs11`: the token and key to use (docs/seals.md, "PKCS#11 seal"); null otherwise. */
  pkcs11: Pkcs11Options | null;
  /** From --database-url or KEYWARD_DATABASE_URL; null means SQLite in the data directory. */
  databaseUrl: string | null;
  tlsCert: string | null;
  tlsKey: string | null;
  /** Mutual TLS: client certificates of this CA authenticate (docs/operations.md, "Mutual TLS"); null for none. */
  tlsClientCa: string | null;
  /**
   * With a client CA: `optional` (default) asks for a certificate and also
   * takes bearer tokens; `required` refuses a handshake without a verified
   * client certificate and refuses bearer tokens (docs/operations.md, "Certificate-only mode").
   */
  tlsClientAuth: 'optional' | 'required';
  /** The oldest TLS version accepted: 1.3 unless `--tls-min-version 1.2`. */
  tlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
  logLevel: string;
  /** How often the life-cycle scheduler runs. */
  schedulerIntervalMs: number;
  /** This node's name: its audit chain (docs/audit.md). Default: the host name. */
  nodeId: string;
  /** A JSON-lines copy of this node's audit chain, fsync'd per write; null for none. */
  auditFile: string | null;
  /** A checkpoint after this many records of this node, or this long after the last one if anything was written. */
  auditCheckpointRecords: number;
  auditCheckpointIntervalMs: number;
  /** The policy file (docs/alerts.md); null means `policy.yaml` in the data directory. */
  policy: string | null;
  /** The Cedar policy directory (docs/governance.md, "Cedar policies"); null means `policies/` in the data directory. */
  policyDir: string | null;
  /** Worker processes sharing the listener (docs/operations.md, "Workers"); 1 runs no cluster at all. */
  workers: number;
  /** How long a BYOK import wrapping key pair issues tokens before a new one replaces it (docs/transit.md). */
  importWrappingKeyRotationMs: number;
}

/** Where the PKCS#11 seal finds its root key. The PIN comes from `pinFile` or KEYWARD_PKCS11_PIN, never from argv. */
export interface Pkcs11Options {
  library: string;
  token: string;
  keyLabel: string;
  /** null: the PIN is in KEYWARD_PKCS11_PIN. */
  pinFile: string | null;
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

function parseInterval(value: string, flag = '--scheduler-interval'): number {
  const match = /^([1-9][0-9]{0,4})(s|m)$/.exec(value);
  if (!match) throw new UsageError(`${flag}: expected a duration such as 30s or 5m, got '${value}'`);
  return Number(match[1]) * (match[2] === 'm' ? 60_000 : 1000);
}

/** `--import-wrapping-key-rotation`: 1h to 365d, so a pair always outlives the tokens it issues by design. */
function parseRotation(value: string): number {
  const match = /^([1-9][0-9]{0,5})(d|h)$/.exec(value);
  const ms = match ? Number(match[1]) * (match[2] === 'd' ? 86_400_000 : 3_600_000) : Number.NaN;
  if (!(ms >= 3_600_000 && ms <= 365 * 86_400_000)) {
    throw new UsageError(`--import-wrapping-key-rotation: expected a duration from 1h to 365d such as 7d, got '${value}'`);
  }
  return ms;
}

function parseCount(flag: string, value: string): number {
  if (!/^[1-9][0-9]{0,6}$/.test(value)) throw new UsageError(`${flag}: expected a whole number from 1 to 9999999, got '${value}'`);
  return Number(value);
}

function parseNodeId(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(value)) {
    throw new UsageError(`--node-id: expected 1-63 letters, digits, '.', '_' or '-', got '${value}'`);
  }
  return value;
}

/** Most worker processes one server runs: far more than cores is only contention on one database. */
export const MAX_WORKERS = 64;

function parseWorkers(value: string | undefined, nodeId: string): number {
  let workers = Math.min(availableParallelism(), MAX_WORKERS);
  if (value !== undefined) {
    if (!/^[1-9][0-9]?$/.test(value) || Number(value) > MAX_WORKERS) {
      throw new UsageError(`--workers: expected a whole number from 1 to ${MAX_WORKERS}, got '${value}'`);
    }
    workers = Number(value);
  }
  // Each worker keeps its own audit chain, named NODE-wINDEX, and a chain name has at most 63 characters.
  if (workers > 1 && `${nodeId}-w${workers}`.length > 63) {
    throw new UsageError(`--node-id: '${nodeId}' is too long for ${workers} workers (their chains are named ${nodeId}-w1 …)`);
  }
  return workers;
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
  if (seal !== 'file' && seal !== 'shamir' && seal !== 'pkcs11')
    throw new UsageError(`--seal: expected file, shamir or pkcs11, got '${seal}'`);
  const pkcs11 = parsePkcs11(seal, values, env);
  const tlsCert = values['tls-cert'] ?? null;
  const tlsKey = values['tls-key'] ?? null;
  if ((tlsCert === null) !== (tlsKey === null)) throw new UsageError('--tls-cert and --tls-key go together');
  const tlsClientCa = values['tls-client-ca'] ?? null;
  if (tlsClientCa !== null && tlsCert === null) throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key');
  const clientAuth = values['tls-client-auth'];
  if (clientAuth !== undefined && clientAuth !== 'optional' && clientAuth !== 'required') {
    throw new UsageError(`--tls-client-auth: expected optional or required, got '${clientAuth}'`);
  }
  if (clientAuth !== undefined && tlsClientCa === null) throw new UsageError('--tls-client-auth needs --tls-client-ca');
  const minVersion = values['tls-min-version'];
  if (minVersion !== undefined && minVersion !== '1.2' && minVersion !== '1.3') {
    throw new UsageError(`--tls-min-version: expected 1.2 or 1.3, got '${minVersion}'`);
  }
  if (minVersion !== undefined && tlsCert === null) throw new UsageError('--tls-min-version needs --tls-cert and --tls-key');
  if (!isLoopback(host) && tlsCert === null) {
    throw new UsageError(`--listen: refusing to serve plain HTTP on non-loopback address ${host}; give --tls-cert and --tls-key`);
  }
  const databaseUrl = values['database-url'] ?? env.KEYWARD_DATABASE_URL ?? null;
  const nodeId = parseNodeId(values['node-id'] ?? env.KEYWARD_NODE_ID ?? hostname());
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new UsageError('--database-url: expected a postgres:// URL');
  return {
    dataDir: values['data-dir'] ?? './data',
    host,
    port,
    seal,
    pkcs11,
    databaseUrl,
    tlsCert,
    tlsKey,
    tlsClientCa,
    tlsClientAuth: clientAuth ?? 'optional',
    tlsMinVersion: minVersion === '1.2' ? 'TLSv1.2' : 'TLSv1.3',
    logLevel: values['log-level'] ?? env.KEYWARD_LOG_LEVEL ?? 'info',
    schedulerIntervalMs: parseInterval(values['scheduler-interval'] ?? '30s'),
    nodeId,
    auditFile: values['audit-file'] ?? null,
    auditCheckpointRecords: parseCount('--audit-checkpoint-records', values['audit-checkpoint-records'] ?? '1000'),
    auditCheckpointIntervalMs: parseInterval(values['audit-checkpoint-interval'] ?? '60s', '--audit-checkpoint-interval'),
    policy: values.policy ?? null,
    policyDir: values['policy-dir'] ?? null,
    workers: parseWorkers(values.workers ?? env.KEYWARD_WORKERS, nodeId),
    importWrappingKeyRotationMs: parseRotation(values['import-wrapping-key-rotation'] ?? '7d'),
  };
}

/** PKCS#11 token labels are 32 bytes (CK_TOKEN_INFO.label). */
const TOKEN_LABEL_BYTES = 32;

function parsePkcs11(seal: string, values: ReturnType<typeof parse>['values'], env: NodeJS.ProcessEnv): Pkcs11Options | null {
  const flags = ['pkcs11-library', 'pkcs11-token', 'pkcs11-key-label', 'pkcs11-pin-file'] as const;
  if (seal !== 'pkcs11') {
    const stray = flags.find((flag) => values[flag] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray}: only with --seal pkcs11`);
    return null;
  }
  const library = values['pkcs11-library'];
  const token = values['pkcs11-token'];
  if (library === undefined) throw new UsageError('--seal pkcs11 needs --pkcs11-library PATH (the vendor PKCS#11 module)');
  if (token === undefined) throw new UsageError('--seal pkcs11 needs --pkcs11-token LABEL');
  if (token === '' || Buffer.byteLength(token) > TOKEN_LABEL_BYTES) {
    throw new UsageError(`--pkcs11-token: a token label has 1 to ${TOKEN_LABEL_BYTES} bytes`);
  }
  const keyLabel = values['pkcs11-key-label'] ?? 'keyward-root';
  if (keyLabel === '') throw new UsageError('--pkcs11-key-label: must not be empty');
  const pinFile = values['pkcs11-pin-file'] ?? null;
  const pinInEnv = (env.KEYWARD_PKCS11_PIN ?? '') !== '';
  if (pinFile === null && !pinInEnv) throw new UsageError('--seal pkcs11 needs the PIN: --pkcs11-pin-file FILE or KEYWARD_PKCS11_PIN');
  if (pinFile !== null && pinInEnv) throw new UsageError('--pkcs11-pin-file: KEYWARD_PKCS11_PIN is set too; give the PIN one way');
  return { library, token, keyLabel, pinFile };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      'data-dir': { type: 'string' },
      'node-id': { type: 'string' },
      'audit-file': { type: 'string' },
      'audit-checkpoint-records': { type: 'string' },
      'audit-checkpoint-interval': { type: 'string' },
      listen: { type: 'string' },
      seal: { type: 'string' },
      // There is deliberately no PIN flag: argv is visible to every user of the machine (ps, /proc).
      'pkcs11-library': { type: 'string' },
      'pkcs11-token': { type: 'string' },
      'pkcs11-key-label': { type: 'string' },
      'pkcs11-pin-file': { type: 'string' },
      'database-url': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-client-ca': { type: 'string' },
      'tls-client-auth': { type: 'string' },
      'tls-min-version': { type: 'string' },
      'log-level': { type: 'string' },
      'scheduler-interval': { type: 'string' },
      'import-wrapping-key-rotation': { type: 'string' },
      policy: { type: 'string' },
      'policy-dir': { type: 'string' },
      workers: { type: 'string' },
    },
  });
}
