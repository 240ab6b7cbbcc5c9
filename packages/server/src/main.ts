/**
 * Composition root: the only file that picks adapters. `keyward server …`
 * lands here (bin/keyward).
 *
 * With `--workers 1` this process serves. With more, it is the primary of a
 * node:cluster (cluster/primary.ts): it migrates the database and
 * initializes a new data directory before forking, so workers never race on
 * either, then forks the workers, which land here again and serve.
 */
import cluster from 'node:cluster';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { type Logger, pino } from 'pino';
import { AuditFileSink } from './audit/file-sink.js';
import { openSeal } from './bootstrap.js';
import { SLOT_ENV } from './cluster/messages.js';
import { Primary } from './cluster/primary.js';
import { PrimaryLink } from './cluster/primary-link.js';
import { relayingStore } from './cluster/relaying-store.js';
import { WorkerMetrics } from './cluster/worker-metrics.js';
import { workerAuditFile, workerNodeId } from './cluster/worker-names.js';
import { followSealEvents, LinkSealPeers } from './cluster/worker-seal.js';
import { buildRestApp } from './frontends/rest/app.js';
import { errorFields } from './log-fields.js';
import { PolicyDirectory } from './policy/cedar/policy-directory.js';
import type { PolicyError } from './policy/parse-policy.js';
import { PolicyFile } from './policy/policy-file.js';
import { parseServerOptions, type ServerOptions, UsageError } from './server-options.js';
import { createKeyward } from './service/keyward.js';
import { openPostgresStore } from './store/postgres/postgres-store.js';
import { openSqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/store.js';
import { httpsOptions, readSecureContext, reloadSecureContext, type TlsSettings } from './tls-files.js';

/** How often the audit log checks whether a checkpoint is due by time, and retries a failed file sink. */
const AUDIT_TICK_MS = 5_000;

/** How often the webhook dispatcher looks for events to deliver and retries that are due. */
const WEBHOOK_INTERVAL_MS = 1_000;

/** How often the alert engine reads new audit records (docs/alerts.md). */
const ALERT_INTERVAL_MS = 10_000;

/** How often a node announces itself and follows up incidents (well inside the 60 s node liveness window). */
const INCIDENT_INTERVAL_MS = 15_000;
/** How often the leader checks whether a scheduled backup (policy `backups:`) is due. */
const BACKUP_CHECK_MS = 60_000;

/** Workers share stdout: writes of at most PIPE_BUF bytes (whole lines) do not interleave on a pipe. */
const PIPE_BUF = 4096;

/** This process's link to the primary, when it is a worker. */
let link: PrimaryLink | null = null;

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Exits with one line on stderr: 2 for a usage error, 1 for anything else. A worker hands the line to the primary, which prints it. */
function fail(error: unknown): void {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  if (link !== null) {
    void link.failed(message).finally(() => process.exit(1));
    return;
  }
  process.stderr.write(`keyward server: ${message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
}

/** The worker slot (1…N) this process serves in, or null when it is not a Keyward worker. */
function workerSlot(): number | null {
  if (!cluster.isWorker) return null;
  const slot = Number(process.env[SLOT_ENV]);
  return Number.isInteger(slot) && slot > 0 ? slot : null;
}

async function dataDirectory(options: ServerOptions): Promise<string> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 }).catch((e: Error) => {
    throw new Error(`cannot use data directory ${dataDir}: ${e.message}`);
  });
  return dataDir;
}

async function openStore(options: ServerOptions, dataDir: string, migrate: boolean, log: Logger): Promise<Store> {
  const onFlushError = (error: unknown) =>
    log.fatal({ err: error }, 'the database could not be flushed to disk; refusing all work until restarted');
  try {
    const store = options.databaseUrl
      ? openPostgresStore({ connectionString: options.databaseUrl })
      : openSqliteStore({ path: join(dataDir, 'keyward.db'), onFlushError });
    if (migrate) await store.migrate();
    return store;
  } catch (error) {
    throw new Error(`cannot open the database: ${(error as Error).message}`);
  }
}

/**
 * The primary's start: everything that must happen once, before any worker
 * runs — the data directory, migrations, the policy file's check, and a new
 * data directory's initialization (file seal: root key and admin token).
 */
async function startPrimary(options: ServerOptions): Promise<void> {
  const log = pino({ level: options.logLevel, base: { service: 'keyward', role: 'primary' } });
  const dataDir = await dataDirectory(options);
  const store = await openStore(options, dataDir, true, log);
  let initialized: boolean;
  try {
    await PolicyFile.open(options.policy ?? join(dataDir, 'policy.yaml'));
    await PolicyDirectory.open(options.policyDir ?? join(dataDir, 'policies'));
    const seal = await openSeal(options.seal, store, dataDir, process.env, log, options.pkcs11);
    initialized = seal.status().initialized;
    // The primary serves nothing: it keeps no root key.
    seal.seal();
  } finally {
    await store.close();
  }
  new Primary({ workers: options.workers, log, initialized }).start();
}

/** Serves: the whole server with one process, or one worker of several (then `link` reaches the primary). */
async function serve(options: ServerOptions, link: PrimaryLink | null): Promise<void> {
  // Log lines are built from chosen fields only (never headers or bodies; tests scan them for secrets),
  // and written asynchronously so logging does not block requests; flushed at exit.
  const destination = pino.destination({ dest: 1, sync: false, ...(link === null ? {} : { maxWrite: PIPE_BUF }) });
  const log: Logger = pino(
    { level: options.logLevel, base: link === null ? { service: 'keyward' } : { service: 'keyward', worker: link.slot, pid: process.pid } },
    destination,
  );
  const dataDir = await dataDirectory(options);
  // Workers: the primary migrated before forking.
  let store = await openStore(options, dataDir, link === null, log);
  if (link !== null) store = relayingStore(store, link);
  // The policy file: a bad one refuses the start (there is no previous policy to keep); a missing one means the defaults.
  const policy = await PolicyFile.open(options.policy ?? join(dataDir, 'policy.yaml'));
  log.info({ policy: policy.status() }, 'policy loaded');
  // The Cedar policy directory: likewise, a set that does not parse or validate refuses the start (naming the file and line).
  const policies = await PolicyDirectory.open(options.policyDir ?? join(dataDir, 'policies'));
  log.info({ policies: policies.status() }, 'cedar policies loaded');
  const seal = await openSeal(options.seal, store, dataDir, process.env, log, options.pkcs11);
  const v = await version();
  // Each worker keeps its own audit chain (and file), named after its slot so a replacement continues it.
  const nodeId = link === null ? options.nodeId : workerNodeId(options.nodeId, link.slot);
  let sink: AuditFileSink | null = null;
  if (options.auditFile !== null) {
    const path = link === null ? resolve(options.auditFile) : workerAuditFile(resolve(options.auditFile), link.slot);
    sink = await AuditFileSink.open(path, nodeId, store).catch((error: Error) => {
      throw new Error(`cannot use audit file ${path}: ${error.message}`);
    });
  }
  const keyward = createKeyward({
    store,
    seal,
    version: v,
    certificateOnly: options.tlsClientCa !== null && options.tlsClientAuth === 'required',
    audit: {
      node: nodeId,
      sink,
      checkpoints: { everyRecords: options.auditCheckpointRecords, everyMs: options.auditCheckpointIntervalMs },
    },
    onAuditError: (error) => log.error(errorFields(error), 'audit background work failed'),
    onSchedulerError: (error) => log.error(errorFields(error), 'scheduler step failed'),
    onDispatcherError: (error) => log.error(errorFields(error), 'webhook delivery run failed'),
    policy,
    policies,
    importWrappingKeyRotationMs: options.importWrappingKeyRotationMs,
    onAlertError: (error) => log.error(errorFields(error), 'alert engine run failed'),
    onIncidentError: (error) => log.error(errorFields(error), 'incident job run failed'),
    onBackupError: (error) => log.error(errorFields(error), 'backup stream failed'),
    onScheduledBackupError: (error) => log.error(errorFields(error), 'scheduled backup failed'),
    onOidcError: (error, message) => log.warn(errorFields(error), message),
    ...(link === null ? {} : { sealPeers: new LinkSealPeers(link), metrics: new WorkerMetrics(link) }),
  });
  if (link !== null) {
    link.onError = (error) => log.error(errorFields(error), 'applying what another worker relayed failed');
    followSealEvents(link, seal, keyward);
    // Sealed by an operator, or unsealed by shares, before this worker started: it starts in the same state.
    await link.join();
  }
  const tls: TlsSettings | null =
    options.tlsCert && options.tlsKey
      ? {
          cert: options.tlsCert,
          key: options.tlsKey,
          clientCa: options.tlsClientCa,
          clientAuth: options.tlsClientAuth,
          minVersion: options.tlsMinVersion,
        }
      : null;
  const https = tls === null ? undefined : httpsOptions(await readSecureContext(tls), tls);
  await keyward.ready();
  const app = await buildRestApp(keyward, { logger: log, version: v, ...(https ? { https } : {}) });
  if (link !== null) {
    // Which worker answered (docs/operations.md, "Workers"): for operators and the tests that show every worker agrees.
    const worker = String(link.slot);
    app.addHook('onRequest', (_request, reply, done) => {
      reply.header('x-keyward-worker', worker);
      done();
    });
  }
  await app.listen({ host: options.host, port: options.port });
  log.info({ listen: `${options.host}:${options.port}`, store: store.dialect, seal: options.seal, version: v }, 'keyward listening');
  // Every worker runs these; the store says which one leads (worker 1 on SQLite, the advisory lock on PostgreSQL).
  keyward.scheduler.start(options.schedulerIntervalMs);
  keyward.scheduledBackups.start(BACKUP_CHECK_MS);
  keyward.audit.ticker.start(AUDIT_TICK_MS);
  keyward.dispatcher.start(WEBHOOK_INTERVAL_MS);
  keyward.alertEngine.start(ALERT_INTERVAL_MS);
  keyward.incidentJobs.start(INCIDENT_INTERVAL_MS);

  // Policy reloads (on change and on SIGHUP) are all or nothing: a refused file leaves the previous policy in force.
  const reported = (trigger: string) => (error: PolicyError | null) => {
    if (error === null) log.info({ trigger, policy: policy.status() }, 'policy in force');
    else
      log.error(
        { trigger, policy: { path: policy.path, error: error.message } },
        'policy file refused; the previous policy stays in force',
      );
  };
  const reportedCedar = (trigger: string) => (error: Error | null) => {
    if (error === null) log.info({ trigger, policies: policies.status() }, 'cedar policies in force');
    else
      log.error(
        { trigger, policies: { directory: policies.path, error: error.message } },
        'cedar policies refused; the previous policies stay in force',
      );
  };
  const stopWatchingFile = policy.watch(reported('change'));
  const stopWatchingDirectory = policies.watch(reportedCedar('change'));
  const stopWatching = () => {
    stopWatchingFile();
    stopWatchingDirectory();
  };
  process.on('SIGHUP', () => {
    void policy.reload().then(reported('SIGHUP'));
    void policies.reload().then(reportedCedar('SIGHUP'), (error: Error) => reportedCedar('SIGHUP')(error));
  });
  if (tls !== null) {
    // The certificate, key and client CA too: new connections get them, open ones keep theirs; a bad set is refused whole.
    const server = app.server as unknown as TlsServer;
    process.on('SIGHUP', () => {
      reloadSecureContext(server, tls).then(
        () => log.info({ trigger: 'SIGHUP', tls: { cert: tls.cert, clientCa: tls.clientCa } }, 'TLS certificate reloaded'),
        (error: Error) =>
          log.error({ trigger: 'SIGHUP', tls: { error: error.message } }, 'TLS certificate refused; the previous one stays in use'),
      );
    });
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing in-flight requests');
    stopWatching();
    await app.close();
    await keyward.shutdown();
    await sink?.close();
    await store.close();
    destination.flushSync();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  if (link !== null) {
    link.onStop(() => void stop('primary'));
    link.ready();
  }
}

async function main(): Promise<void> {
  const slot = workerSlot();
  if (slot !== null) link = new PrimaryLink(slot);
  const args = process.argv.slice(process.argv.indexOf('server') + 1);
  const options = parseServerOptions(args, process.env);
  if (link !== null) return serve(options, link);
  if (options.workers > 1) return startPrimary(options);
  return serve(options, null);
}

main().catch(fail);
