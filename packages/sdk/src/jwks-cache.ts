import type { EventType, JwkSet, KeyEventView } from '@keyward/wire';
import { KeywardError } from '@keyward/wire';
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { JwsVerificationError } from './jws-verification-error.js';
import { KeywardApiError } from './keyward-api-error.js';
import type { KeywardClient } from './keyward-client.js';
import { verifyWithJwk } from './verify-with-jwk.js';

/** One published public key of the cache: the JWK as `GET /v1/keys/{name}/jwks` answers it. */
export type CachedJwk = JwkSet['keys'][number];

/** What changed in the cache: the key's name and the `kid`s it now holds, newest first. */
export interface JwksChange {
  key: string;
  kids: string[];
}

/** Options of a {@link JwksCache}. */
export interface JwksCacheOptions {
  /** Names of the asymmetric keys to hold (in the client's namespace). */
  keys: readonly string[];
  /** Backoff before reconnecting a dropped event stream: full jitter below min(max, base · 2^n). 500 ms and 30 s by default. */
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number } | undefined;
  /** Least time between two refreshes caused by an unknown `kid`; 30 s by default. */
  minUnknownRefreshMs?: number | undefined;
  /** Called after each change of a key's set. */
  onChange?: ((change: JwksChange) => void) | undefined;
  /** Called when the stream drops or a refresh fails (the cache keeps what it had and reconnects). */
  onError?: ((error: unknown) => void) | undefined;
  /** Injected for tests: waits, random draws for the jitter, and the clock. */
  sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  random?: (() => number) | undefined;
  now?: (() => number) | undefined;
}

/** The result of {@link JwksCache.verifyJws}. */
export interface VerifiedJws {
  payload: Uint8Array;
  /** The key's name, and the version (from the `kid`) that signed. */
  key: string;
  version: number;
  kid: string;
}

/** The result of {@link JwksCache.verifySignature}: `keyVersion` is the version that verified, or null. */
export interface LocalVerifyResult {
  valid: boolean;
  keyVersion: number | null;
}

/** Events after which a key's published set may differ. */
const REFRESH_EVENTS: readonly EventType[] = [
  'key.created',
  'key.updated',
  'key.rotated',
  'version.state_changed',
  'version.compromised',
  'key.destroyed',
];

/** Version states a version never leaves: its kid is dropped at once and never taken back. */
const TERMINAL_STATES = new Set(['compromised', 'destroyed', 'destroyed_compromised']);

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Trusted refresh (docs/transit.md, "Trusted refresh"): holds the JWK Sets of
 * some asymmetric keys and keeps them current from the key events of
 * `GET /v1/events`, so that a verifier picks up a rotation, a
 * prepublication, a deactivation, a compromise or a destruction without a
 * restart. A compromised or destroyed version is dropped as soon as its
 * event arrives, before the set is fetched again. After a dropped stream it
 * reconnects with backoff, resuming after the last event it saw, and fetches
 * every set again (events may have been missed while it was away).
 *
 * The client's principal needs `events.read` and the right to read the
 * keys' JWK Sets: the `auditor` role has both.
 *
 * @example
 * const cache = new JwksCache(client, { keys: ['release-signing'] });
 * await cache.start();
 * const { payload, version } = await cache.verifyJws(token);
 * // …
 * cache.close();
 */
export class JwksCache {
  readonly #client: KeywardClient;
  readonly #names: readonly string[];
  readonly #options: JwksCacheOptions;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #minUnknownRefreshMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #sets = new Map<string, CachedJwk[]>();
  /** kid → key name, for the versions held. */
  readonly #byKid = new Map<string, string>();
  /** Kids of versions seen compromised or destroyed: never served again, whatever a racing fetch answers. */
  readonly #revoked = new Set<string>();
  /** One refresh at a time per key, in order, so an older answer never overwrites a newer one. */
  readonly #queue = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  #lastEventId: number | undefined;
  #lastUnknownRefresh = Number.NEGATIVE_INFINITY;
  #running: Promise<void> | undefined;
  #connections = 0;
  /** Set once every set was fetched: a key missing at start is a mistake to report, one gone later publishes nothing. */
  #loaded = false;

  constructor(client: KeywardClient, options: JwksCacheOptions) {
    if (options.keys.length === 0) throw new KeywardError('invalid_request', 'keys: name at least one key');
    this.#client = client;
    this.#names = Object.freeze([...new Set(options.keys)]);
    this.#options = options;
    this.#baseDelayMs = options.reconnect?.baseDelayMs ?? 500;
    this.#maxDelayMs = options.reconnect?.maxDelayMs ?? 30_000;
    this.#minUnknownRefreshMs = options.minUnknownRefreshMs ?? 30_000;
    for (const [field, value] of [
      ['reconnect.baseDelayMs', this.#baseDelayMs],
      ['reconnect.maxDelayMs', this.#maxDelayMs],
      ['minUnknownRefreshMs', this.#minUnknownRefreshMs],
    ] as const) {
      if (!Number.isInteger(value) || value < 0) throw new KeywardError('invalid_request', `${field} must be a non-negative integer`);
    }
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Subscribes to the key events and resolves once the stream is open and
   * every set was fetched; rejects (and stops) if the first connection or
   * fetch fails, so a verifier does not start on an empty cache.
   */
  async start(): Promise<void> {
    if (this.#running !== undefined) throw new KeywardError('invalid_request', 'the cache is already started');
    let opened!: () => void;
    let failed!: (error: unknown) => void;
    const first = new Promise<void>((resolve, reject) => {
      opened = resolve;
      failed = reject;
    });
    this.#running = this.#run(opened, failed);
    try {
      await first;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Ends the subscription; the cached keys stay readable. */
  close(): void {
    this.#stop.abort();
  }

  /** How many times the event stream was opened (1 after `start`, more after reconnects). */
  get connections(): number {
    return this.#connections;
  }

  /** The JWKs held for a key, newest first (empty when unknown). */
  jwks(name: string): CachedJwk[] {
    return (this.#sets.get(name) ?? []).map((jwk) => ({ ...jwk }));
  }

  /** The JWK of a `kid` (`<key id>:<version>`), if held. */
  jwk(kid: string): CachedJwk | undefined {
    const name = this.#byKid.get(kid);
    const found = name === undefined ? undefined : this.#sets.get(name)?.find((jwk) => jwk.kid === kid);
    return found === undefined ? undefined : { ...found };
  }

  /** Fetches one key's set again (or every set), now. */
  async refresh(name?: string): Promise<void> {
    await Promise.all((name === undefined ? this.#names : [name]).map((n) => this.#enqueue(n)));
  }

  /**
   * Verifies a compact JWS with the cached key its `kid` names, with that
   * key's `alg` only. An unknown `kid` refreshes every set once (at most
   * once per `minUnknownRefreshMs`) before the JWS is refused.
   *
   * @example
   * const { payload, key, version } = await cache.verifyJws(token);
   */
  async verifyJws(jws: string): Promise<VerifiedJws> {
    let kid: unknown;
    let alg: unknown;
    try {
      ({ kid, alg } = decodeProtectedHeader(jws));
    } catch {
      throw new JwsVerificationError('malformed', 'not a compact JWS with a readable protected header');
    }
    if (typeof kid !== 'string' || typeof alg !== 'string') {
      throw new JwsVerificationError('malformed', 'the JWS header must name a kid and an alg');
    }
    let jwk = this.jwk(kid);
    if (jwk === undefined && this.#now() - this.#lastUnknownRefresh >= this.#minUnknownRefreshMs) {
      this.#lastUnknownRefresh = this.#now();
      await this.refresh().catch((error: unknown) => this.#options.onError?.(error));
      jwk = this.jwk(kid);
    }
    if (jwk === undefined)
      throw new JwsVerificationError('unknown_key', `no published key version has kid ${JSON.stringify(kid.slice(0, 200))}`);
    // The key decides the algorithm, never the token (RFC 8725, 3.1).
    if (alg !== jwk.alg) throw new JwsVerificationError('invalid_signature', `the JWS alg does not match the key's (${jwk.alg})`);
    let payload: Uint8Array;
    try {
      const key = await importJWK(jwk as JWK, jwk.alg);
      ({ payload } = await compactVerify(jws, key, { algorithms: [jwk.alg] }));
    } catch {
      throw new JwsVerificationError('invalid_signature', 'the JWS signature does not verify');
    }
    return { payload, key: this.#byKid.get(kid) as string, version: versionOf(kid), kid };
  }

  /**
   * Checks a signature that `client.sign(key, { message })` made, locally
   * with the cached public keys, as `POST …/verify` would: with `version`,
   * against that version only (fetching the set once, rate-limited, when it
   * is not held); without, against every version held, newest first. A
   * compromised, destroyed or retired version is not held, so its
   * signatures no longer verify. Signatures over a caller's digest are not
   * checked here (use `client.verify`).
   *
   * @example
   * const { signature } = await client.sign('release-signing', { message });
   * const { valid } = await cache.verifySignature('release-signing', { message, signature });
   */
  async verifySignature(name: string, input: { message: Uint8Array; signature: Uint8Array; version?: number }): Promise<LocalVerifyResult> {
    if (!this.#names.includes(name)) throw new KeywardError('invalid_request', `key '${name}' is not one of the cache's keys`);
    if (input.version !== undefined && (!Number.isInteger(input.version) || input.version < 1)) {
      throw new KeywardError('invalid_request', 'version must be a positive integer');
    }
    const held = (version: number | undefined) =>
      (this.#sets.get(name) ?? []).filter((jwk) => jwk.use === 'sig' && (version === undefined || versionOf(jwk.kid) === version));
    let candidates = held(input.version);
    if (candidates.length === 0 && input.version !== undefined && this.#now() - this.#lastUnknownRefresh >= this.#minUnknownRefreshMs) {
      this.#lastUnknownRefresh = this.#now();
      await this.refresh(name).catch((error: unknown) => this.#options.onError?.(error));
      candidates = held(input.version);
    }
    for (const jwk of candidates) {
      if (verifyWithJwk(jwk, input.message, input.signature)) return { valid: true, keyVersion: versionOf(jwk.kid) };
    }
    return { valid: false, keyVersion: null };
  }

  async #run(opened: () => void, failed: (error: unknown) => void): Promise<void> {
    let started = false;
    let failures = 0;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        const events = this.#client.events({
          types: REFRESH_EVENTS,
          signal,
          ...(this.#lastEventId === undefined ? {} : { from: this.#lastEventId }),
          // Open first, then fetch: a change after the fetch arrives as an event, one before it is in the answer.
          onOpen: () => {
            this.#connections += 1;
            const refreshed = this.refresh();
            if (!started) {
              started = true;
              refreshed.then(() => {
                this.#loaded = true;
                opened();
              }, failed);
            } else {
              refreshed.catch((error: unknown) => this.#options.onError?.(error));
            }
          },
        });
        for await (const event of events) {
          failures = 0;
          this.#lastEventId = event.id;
          this.#apply(event);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (!started) {
          failed(error);
          return;
        }
        this.#options.onError?.(error);
      }
      if (signal.aborted) return;
      // The stream ended (server shutdown, a proxy's idle limit, a revoked token) or failed: back off, then reconnect.
      const ceiling = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures, 30));
      failures += 1;
      await this.#sleep(Math.floor(this.#random() * ceiling), signal);
    }
  }

  #apply(event: KeyEventView): void {
    if (event.namespace !== this.#client.namespace || event.key === null || !this.#names.includes(event.key)) return;
    const state = event.data.state;
    const terminal = event.type === 'version.compromised' || (typeof state === 'string' && TERMINAL_STATES.has(state));
    if (terminal && event.version !== null && event.keyId !== null) {
      // Fail closed at once: the version stops verifying before the set is fetched again.
      const kid = `${event.keyId}:${event.version}`;
      this.#revoked.add(kid);
      this.#store(event.key, this.#sets.get(event.key) ?? []);
    }
    if (event.type === 'key.destroyed') this.#store(event.key, []);
    this.#enqueue(event.key).catch((error: unknown) => this.#options.onError?.(error));
  }

  #enqueue(name: string): Promise<void> {
    const previous = this.#queue.get(name) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#fetch(name));
    this.#queue.set(name, next);
    return next;
  }

  async #fetch(name: string): Promise<void> {
    let set: JwkSet;
    try {
      set = await this.#client.jwks(name);
    } catch (error) {
      // A key that is gone publishes nothing; any other failure keeps what was held (the caller hears of it).
      if (this.#loaded && error instanceof KeywardApiError && error.code === 'not_found') {
        this.#store(name, []);
        return;
      }
      throw error;
    }
    this.#store(name, set.keys);
  }

  #store(name: string, keys: readonly CachedJwk[]): void {
    const kept = keys.filter((jwk) => !this.#revoked.has(jwk.kid));
    const before = (this.#sets.get(name) ?? []).map((jwk) => jwk.kid);
    for (const kid of before) this.#byKid.delete(kid);
    for (const jwk of kept) this.#byKid.set(jwk.kid, name);
    this.#sets.set(name, kept);
    const kids = kept.map((jwk) => jwk.kid);
    if (kids.length !== before.length || kids.some((kid, i) => kid !== before[i])) this.#options.onChange?.({ key: name, kids });
  }
}

/** The version a kid (`<key id>:<version>`) names. */
function versionOf(kid: string): number {
  return Number(kid.slice(kid.lastIndexOf(':') + 1));
}
