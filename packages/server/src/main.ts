/**
 * Composition root: the only file that picks adapters. `keyward server …`
 * lands here (bin/keyward).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { openSeal } from './bootstrap.js';
import { buildRestApp } from './frontends/rest/app.js';
import { parseServerOptions, UsageError } from './server-options.js';
import { createKeyward } from './service/keyward.js';
import { openPostgresStore } from './store/postgres/postgres-store.js';
import { openSqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/store.js';

/** How often the webhook dispatcher looks for events to deliver and retries that are due. */
const WEBHOOK_INTERVAL_MS = 1_000;

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Exits with one line on stderr: 2 for a usage error, 1 for anything else. */
function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`keyward server: ${message.split('\n')[0]}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
}

async function main(): Promise<void> {
  const args = process.argv.slice(process.argv.indexOf('server') + 1);
  const options = parseServerOptions(args, process.env);
  // Log lines are built from chosen fields only (never headers or bodies; tests scan them for secrets),
  // and written asynchronously so logging does not block requests; flushed at exit.
  const destination = pino.destination({ dest: 1, sync: false });
  const log = pino({ level: options.logLevel, base: { service: 'keyward' } }, destination);
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 }).catch((e: Error) => {
    throw new Error(`cannot use data directory ${dataDir}: ${e.message}`);
  });

  let store: Store;
  try {
    store = options.databaseUrl
      ? openPostgresStore({ connectionString: options.databaseUrl })
      : openSqliteStore({ path: join(dataDir, 'keyward.db') });
    await store.migrate();
  } catch (error) {
    throw new Error(`cannot open the database: ${(error as Error).message}`);
  }
  const seal = await openSeal(options.seal, store, dataDir, process.env, log);
  const v = await version();
  const keyward = createKeyward({
    store,
    seal,
    version: v,
    onSchedulerError: (error) =>
      log.error({ err: { type: (error as Error).name, code: (error as { code?: unknown }).code } }, 'scheduler step failed'),
    onDispatcherError: (error) =>
      log.error({ err: { type: (error as Error).name, code: (error as { code?: unknown }).code } }, 'webhook delivery run failed'),
  });
  const https =
    options.tlsCert && options.tlsKey
      ? { cert: await readFile(options.tlsCert), key: await readFile(options.tlsKey), minVersion: 'TLSv1.3' as const }
      : undefined;
  const app = await buildRestApp(keyward, { logger: log, version: v, ...(https ? { https } : {}) });
  await app.listen({ host: options.host, port: options.port });
  log.info({ listen: `${options.host}:${options.port}`, store: store.dialect, seal: options.seal, version: v }, 'keyward listening');
  keyward.scheduler.start(options.schedulerIntervalMs);
  keyward.dispatcher.start(WEBHOOK_INTERVAL_MS);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing in-flight requests');
    await app.close();
    await keyward.shutdown();
    await store.close();
    destination.flushSync();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch(fail);
