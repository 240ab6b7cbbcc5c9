import { randomBytes } from 'node:crypto';
import type { AlgorithmName } from '@keyward/wire';
import { pino } from 'pino';
import { expect } from 'vitest';
import type { CheckpointPolicy } from '../../src/audit/audit-log.js';
import { AuditFileSink } from '../../src/audit/file-sink.js';
import { openSeal } from '../../src/bootstrap.js';
import { buildRestApp } from '../../src/frontends/rest/app.js';
import { errorFields } from '../../src/log-fields.js';
import type { Seal } from '../../src/seal/seal.js';
import { type TokenKeys, tokenKeysOf } from '../../src/seal/token-keys.js';
import type { Pkcs11Options } from '../../src/server-options.js';
import { ManualClock } from '../../src/service/clock.js';
import { createKeyward, type Keyward, type KeywardOptions } from '../../src/service/keyward.js';
import type { Store } from '../../src/store/store.js';
import { freshStore, type StoreKind, type TestStore } from './stores.js';

type Json = Record<string, any>;

export interface Response {
  status: number;
  body: Json;
  headers: Record<string, string | string[] | number | undefined>;
}

export interface HarnessOptions {
  seal?: 'file' | 'shamir' | 'pkcs11';
  /** The token of the pkcs11 seal (a SoftHSM token, test/support/softhsm.ts) and its PIN, given as KEYWARD_PKCS11_PIN. */
  pkcs11?: { options: Pkcs11Options; pin: string };
  store?: StoreKind;
  rates?: KeywardOptions['rates'];
  limits?: KeywardOptions['limits'];
  events?: KeywardOptions['events'];
  webhooks?: KeywardOptions['webhooks'];
  /** Wraps the store before the service sees it (e.g. to count calls). */
  wrapStore?: (store: Store) => Store;
  /** Wraps the token keys of the pkcs11 seal before the service sees them (e.g. to watch RSA generation). */
  wrapTokenKeys?: (keys: TokenKeys) => TokenKeys;
  /** This node's audit chain (default `node-a`; a joining node gets `node-b`), checkpoint policy, and a file sink path. */
  audit?: { node?: string; checkpoints?: Partial<CheckpointPolicy>; file?: string };
  /** The policy in force (alert thresholds); the documented defaults when absent. */
  policy?: KeywardOptions['policy'];
  /** The Cedar policies in force (a PolicyDirectory); the shipped policies alone when absent. */
  policies?: KeywardOptions['policies'];
  /** Incident containment (ack timeout, node liveness). */
  incidents?: KeywardOptions['incidents'];
}

const SECRET_FIELDS = new Set(['plaintext', 'share', 'token', 'adminToken', 'message', 'secret']);

/**
 * A real Keyward (real store, real seal, the real REST app) driven through
 * Fastify's inject. Every secret that crosses it — tokens, plaintexts,
 * shares — is remembered, and `close()` fails the suite if any of them
 * appears in a log line or an audit record.
 */
export class Harness {
  readonly clock = new ManualClock('2026-06-01T00:00:00.000Z');
  readonly logs: string[] = [];
  readonly secrets = new Set<string>();
  readonly options: HarnessOptions;
  testStore!: TestStore;
  store!: Store;
  seal!: Seal;
  keyward!: Keyward;
  app!: Awaited<ReturnType<typeof buildRestApp>>;
  adminToken = `kw-admin-${randomBytes(16).toString('hex')}`;
  sink: AuditFileSink | null = null;
  /** Errors of background audit work (checkpoints, the file sink). */
  readonly auditErrors: unknown[] = [];
  /** Errors of failed scheduler steps (each also counts in the run's `failures`). */
  readonly schedulerErrors: unknown[] = [];

  /** This node's audit chain. */
  get node(): string {
    return this.options.audit?.node ?? 'node-a';
  }

  constructor(options: HarnessOptions) {
    this.options = options;
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const h = new Harness(options);
    h.testStore = await freshStore(options.store);
    h.secrets.add(h.adminToken);
    if (options.pkcs11) h.secrets.add(options.pkcs11.pin);
    await h.#boot();
    return h;
  }

  async #boot(): Promise<void> {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void this.logs.push(line) });
    const raw = this.testStore.open();
    await raw.migrate();
    this.store = this.options.wrapStore ? this.options.wrapStore(raw) : raw;
    this.seal = await openSeal(
      this.options.seal ?? 'file',
      raw,
      this.testStore.dataDir,
      { KEYWARD_INIT_ADMIN_TOKEN: this.adminToken, ...(this.options.pkcs11 ? { KEYWARD_PKCS11_PIN: this.options.pkcs11.pin } : {}) },
      logger,
      this.options.pkcs11?.options ?? null,
    );
    const wrapTokenKeys = this.options.wrapTokenKeys;
    if (wrapTokenKeys !== undefined) {
      const keys = tokenKeysOf(this.seal);
      if (keys === null) throw new Error('wrapTokenKeys needs the pkcs11 seal');
      const wrapped = wrapTokenKeys(keys);
      Object.defineProperty(this.seal, 'tokenKeys', { value: () => wrapped });
    }
    const options: KeywardOptions = {
      store: this.store,
      seal: this.seal,
      version: '0.0.0-test',
      clock: this.clock,
      rates: { authFailureBurst: 1000, ...this.options.rates },
    };
    if (this.options.limits) options.limits = this.options.limits;
    if (this.options.events) options.events = this.options.events;
    if (this.options.webhooks) options.webhooks = this.options.webhooks;
    if (this.options.policy) options.policy = this.options.policy;
    if (this.options.policies) options.policies = this.options.policies;
    if (this.options.incidents) options.incidents = this.options.incidents;
    const audit = this.options.audit ?? {};
    this.sink = audit.file === undefined ? null : await AuditFileSink.open(audit.file, this.node, raw);
    options.audit = { node: this.node, checkpoints: audit.checkpoints ?? {}, sink: this.sink };
    options.onAuditError = (error) => this.auditErrors.push(error);
    options.onSchedulerError = (error) => this.schedulerErrors.push(error);
    options.onOidcError = (error, message) => logger.warn(errorFields(error), message);
    this.keyward = createKeyward(options);
    await this.keyward.ready();
    this.app = await buildRestApp(this.keyward, { logger, version: '0.0.0-test' });
    await this.app.ready();
  }

  /** A second node on the same database and seal as `first`; it does not own the data. */
  static async joining(first: Harness, node = 'node-b'): Promise<Harness> {
    const h = new Harness({ ...first.options, audit: { ...first.options.audit, node } });
    h.testStore = { ...first.testStore, destroy: async () => {} };
    h.adminToken = first.adminToken;
    h.secrets.add(h.adminToken);
    if (first.options.pkcs11) h.secrets.add(first.options.pkcs11.pin);
    await h.#boot();
    return h;
  }

  /** Stops the server and opens a new one on the same data (a restart). */
  async restart(): Promise<void> {
    await this.#stop();
    await this.#boot();
  }

  async #stop(): Promise<void> {
    await this.app.close();
    await this.keyward.shutdown();
    await this.sink?.close();
    await this.store.close();
  }

  #remember(value: unknown): void {
    if (typeof value === 'string' && value.length >= 8) this.secrets.add(value);
    if (Array.isArray(value)) for (const v of value) this.#remember(v);
  }

  #collect(body: unknown): void {
    if (typeof body !== 'object' || body === null) return;
    for (const [k, v] of Object.entries(body)) {
      if (SECRET_FIELDS.has(k) || k === 'unsealShares') this.#remember(v);
      if (k === 'items' && Array.isArray(v)) for (const item of v) this.#collect(item);
    }
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = this.adminToken,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    if (token) this.secrets.add(token);
    this.#collect(body);
    const response = await this.app.inject({
      method: method as 'GET',
      url: path,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    let parsed: Json = {};
    try {
      parsed = response.body ? (JSON.parse(response.body) as Json) : {};
    } catch {
      parsed = { raw: response.body };
    }
    this.#collect(parsed);
    return { status: response.statusCode, body: parsed, headers: response.headers };
  }

  async createKey(name: string, algorithm: AlgorithmName = 'aes-256-gcm', extra: Json = {}): Promise<Json> {
    const r = await this.call('POST', '/v1/keys', { name, algorithm, owner: 'team-test', ...extra });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  }

  /** Creates a principal and returns a token for it. */
  async principal(id: string, roles: string[], extra: Json = {}): Promise<string> {
    const p = await this.call('POST', '/v1/principals', { id, kind: 'service', roles, ...extra });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const t = await this.call('POST', `/v1/principals/${id}/tokens`, {});
    expect(t.status).toBe(201);
    return t.body.token as string;
  }

  async grant(key: string, principal: string, operations: string[]): Promise<Json> {
    const r = await this.call('POST', `/v1/keys/${key}/grants`, { principal, operations });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  }

  /** Every audit record written so far. */
  async audit() {
    await this.keyward.shutdown();
    return this.store.listAudit(0, 1_000_000);
  }

  /** Fails if any secret seen by this harness is in its logs or audit records; then tears down. */
  async close(): Promise<void> {
    const records = await this.audit();
    const haystack = `${this.logs.join('\n')}\n${JSON.stringify(records)}`;
    const leaked = [...this.secrets].filter((s) => haystack.includes(s));
    await this.#stop();
    await this.testStore.destroy();
    expect(leaked, 'secrets found in logs or audit records').toEqual([]);
  }
}

export const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');
export const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');
