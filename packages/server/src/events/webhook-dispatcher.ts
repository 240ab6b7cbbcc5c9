import { randomUUID } from 'node:crypto';
import { Periodic } from '../scheduler/periodic.js';
import { zero } from '../seal/zero.js';
import type { Clock } from '../service/clock.js';
import type { Keyring } from '../service/keyring.js';
import type { StoredKeyEvent, WebhookDeliveryRecord, WebhookProgress, WebhookRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { signDelivery, webhookSecretAad } from './signature.js';
import { eventView } from './views.js';

export interface DispatcherOptions {
  /** How long one attempt may take before it counts as failed. */
  timeoutMs: number;
  /** Attempts per event before the dispatcher gives up on it and marks the webhook failing. */
  maxAttempts: number;
  /** Delay before the second attempt; it doubles each time (with jitter), up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Events one webhook may receive in one run (the rest wait for the next run). */
  batch: number;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = Object.freeze({
  timeoutMs: 5_000,
  maxAttempts: 8,
  baseDelayMs: 5_000,
  maxDelayMs: 3_600_000,
  batch: 100,
});

export interface DispatchRun {
  /** False when another node holds the lock (or Keyward is sealed) and this one did nothing. */
  leader: boolean;
  delivered: number;
  failed: number;
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random, so retries of many webhooks spread out. */
export function backoffMs(attempt: number, options: Pick<DispatcherOptions, 'baseDelayMs' | 'maxDelayMs'>, random = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** How one attempt ended, for metrics: a 2xx, another status, no connection, no answer in time. */
export type DeliveryOutcome = 'delivered' | 'http_error' | 'network_error' | 'timeout';

const isTimeout = (error: unknown): boolean => error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');

/** Why an attempt failed, in words safe to store and show: never the response body, never a header. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (isTimeout(error)) return `no answer within ${timeoutMs} ms`;
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? code : current.message);
    current = current.cause;
  }
  return parts.length === 0 ? 'network error' : parts.join(': ').slice(0, 200);
}

/**
 * Delivers events to webhooks, in the background: key operations only write
 * events to the `events` table and never wait for a receiver.
 *
 * Each webhook has a cursor (the last event done with). A run reads the
 * events after it, skips types the webhook did not subscribe to, and POSTs
 * the rest one by one, in order. A failed attempt (a non-2xx answer, a
 * network error, no answer within `timeoutMs`) is retried after an
 * exponential backoff with jitter, measured on the injected clock; after
 * `maxAttempts` the event is given up on, the webhook is marked `failing`
 * (with the reason) and delivery moves on to the next event. The first
 * success marks it `active` again. Every attempt is one row of the delivery
 * log.
 *
 * On PostgreSQL only the node holding the scheduler's advisory lock
 * (`store.isLeader()`) delivers, so a receiver does not get each event once
 * per node. `main.ts` starts it on an interval; tests call `runOnce()` after
 * moving the clock.
 */
export class WebhookDispatcher {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #clock: Clock;
  readonly #isSealed: () => boolean;
  readonly #options: DispatcherOptions;
  readonly #onError: (error: unknown) => void;
  readonly #fetch: typeof globalThis.fetch;
  readonly #onAttempt: (outcome: DeliveryOutcome, seconds: number, abandoned: boolean) => void;
  #stopping = new AbortController();
  readonly #periodic: Periodic<DispatchRun>;

  constructor(deps: {
    store: Store;
    keyring: Keyring;
    clock: Clock;
    isSealed: () => boolean;
    options?: Partial<DispatcherOptions>;
    onError?: (error: unknown) => void;
    fetch?: typeof globalThis.fetch;
    /** Told of every attempt (metrics): how it ended, how long it took, whether its event is now given up on. */
    onAttempt?: (outcome: DeliveryOutcome, seconds: number, abandoned: boolean) => void;
  }) {
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#clock = deps.clock;
    this.#isSealed = deps.isSealed;
    this.#options = Object.freeze({ ...DEFAULT_DISPATCHER_OPTIONS, ...deps.options });
    this.#onError = deps.onError ?? (() => {});
    this.#periodic = new Periodic(() => this.#run(), this.#onError);
    this.#fetch = deps.fetch ?? globalThis.fetch;
    this.#onAttempt = deps.onAttempt ?? (() => {});
  }

  get options(): DispatcherOptions {
    return this.#options;
  }

  /** One pass over every webhook with something due. Concurrent calls share one pass. */
  runOnce(): Promise<DispatchRun> {
    return this.#periodic.runOnce();
  }

  start(intervalMs: number): void {
    this.#periodic.start(intervalMs);
  }

  /** Stops the timer and aborts attempts in flight (each is logged as a failed attempt and retried later). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#periodic.stop();
    this.#stopping = new AbortController();
  }

  async #run(): Promise<DispatchRun> {
    const run: DispatchRun = { leader: false, delivered: 0, failed: 0 };
    if (this.#stopping.signal.aborted || this.#isSealed()) return run;
    if (!(await this.#store.isLeader())) return run;
    run.leader = true;
    const last = await this.#store.lastEventId();
    const due: WebhookRecord[] = [];
    for (let after: string | null = null; ; ) {
      const page = await this.#store.listWebhooks(100, after);
      const now = this.#clock.now().getTime();
      for (const w of page) {
        if (w.cursor < last && (w.nextAttemptAt === null || new Date(w.nextAttemptAt).getTime() <= now)) due.push(w);
      }
      if (page.length < 100) break;
      after = (page.at(-1) as WebhookRecord).id;
    }
    // Webhooks are independent: one slow receiver does not hold up the others.
    await Promise.all(
      due.map(async (w) => {
        try {
          const result = await this.#deliver(w);
          run.delivered += result.delivered;
          run.failed += result.failed;
        } catch (error) {
          run.failed++;
          this.#onError(error);
        }
      }),
    );
    return run;
  }

  /** Delivers due events of one webhook, in order, until one fails or the batch is done. */
  async #deliver(webhook: WebhookRecord): Promise<{ delivered: number; failed: number }> {
    const progress: WebhookProgress = {
      state: webhook.state,
      failureReason: webhook.failureReason,
      cursor: webhook.cursor,
      attempts: webhook.attempts,
      nextAttemptAt: webhook.nextAttemptAt,
      lastDeliveryAt: webhook.lastDeliveryAt,
    };
    const wanted = new Set(webhook.events);
    let secret: Uint8Array | null = null;
    let delivered = 0;
    let failed = 0;
    let dirty = false;
    try {
      while (delivered < this.#options.batch && !this.#stopping.signal.aborted) {
        const events = await this.#store.listEvents(progress.cursor, this.#options.batch);
        if (events.length === 0) break;
        let stop = false;
        for (const event of events) {
          if (!wanted.has(event.type)) {
            progress.cursor = event.id;
            dirty = true;
            continue;
          }
          if (secret === null) {
            try {
              secret = await this.#keyring.unwrapSecret(webhookSecretAad(webhook.id), webhook.secret);
            } catch (error) {
              // An altered or moved secret: nothing can be signed. Say so on the webhook rather than retry blindly.
              progress.state = 'failing';
              progress.failureReason = 'the stored signing secret failed its integrity check; recreate the webhook';
              await this.#store.updateWebhookProgress(webhook.id, progress);
              throw error;
            }
          }
          const ok = await this.#attempt(webhook, secret, event, progress);
          dirty = false;
          if (ok === null) return { delivered, failed }; // deleted meanwhile, or stopping
          if (ok) delivered++;
          else failed++;
          if (!ok || delivered >= this.#options.batch || this.#stopping.signal.aborted) {
            stop = true;
            break;
          }
        }
        if (stop) break;
      }
      if (dirty) await this.#store.updateWebhookProgress(webhook.id, progress);
      return { delivered, failed };
    } finally {
      if (secret !== null) zero(secret);
    }
  }

  /**
   * One attempt; writes its delivery-log row and the webhook's new progress
   * in one transaction. True on success, false on failure, null when the
   * webhook was deleted meanwhile or the dispatcher is stopping.
   */
  async #attempt(webhook: WebhookRecord, secret: Uint8Array, event: StoredKeyEvent, progress: WebhookProgress): Promise<boolean | null> {
    const attempt = progress.attempts + 1;
    const deliveryId = randomUUID();
    const body = JSON.stringify(eventView(event));
    const started = this.#clock.now();
    const timer = performance.now();
    const stopping = this.#stopping.signal;
    let status: number | null = null;
    let error: string | null = null;
    let timedOut = false;
    try {
      const response = await this.#fetch(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Keyward-Webhooks/1',
          'x-keyward-event': event.type,
          'x-keyward-delivery': deliveryId,
          'x-keyward-signature': signDelivery(secret, Math.floor(started.getTime() / 1000), body),
        },
        body,
        // A redirect is a failure: following it would send the signed body somewhere else.
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.#options.timeoutMs), stopping]),
      });
      status = response.status;
      // The body is not read (nor kept): only the status counts.
      await response.body?.cancel().catch(() => {});
    } catch (e) {
      // Cut short by shutdown: not the receiver's fault, so not an attempt; the event is sent again later.
      if (stopping.aborted) return null;
      error = describeFailure(e, this.#options.timeoutMs);
      timedOut = isTimeout(e);
    }
    const elapsed = performance.now() - timer;
    const durationMs = Math.round(elapsed);
    const ok = status !== null && status >= 200 && status < 300;
    const outcome: DeliveryOutcome = ok ? 'delivered' : status !== null ? 'http_error' : timedOut ? 'timeout' : 'network_error';
    this.#onAttempt(outcome, elapsed / 1000, !ok && attempt >= this.#options.maxAttempts);
    const now = this.#clock.now();
    let nextRetryAt: string | null = null;
    if (ok) {
      Object.assign(progress, {
        state: 'active',
        failureReason: null,
        cursor: event.id,
        attempts: 0,
        nextAttemptAt: null,
        lastDeliveryAt: now.toISOString(),
      } satisfies WebhookProgress);
    } else if (attempt < this.#options.maxAttempts) {
      nextRetryAt = new Date(now.getTime() + backoffMs(attempt, this.#options)).toISOString();
      Object.assign(progress, { attempts: attempt, nextAttemptAt: nextRetryAt });
    } else {
      const why = status !== null ? `HTTP ${status}` : (error as string);
      Object.assign(progress, {
        state: 'failing',
        failureReason: `event ${event.id} (${event.type}) not delivered after ${attempt} attempts; last: ${why}`,
        cursor: event.id,
        attempts: 0,
        nextAttemptAt: null,
      } satisfies Partial<WebhookProgress>);
    }
    const delivery: WebhookDeliveryRecord = {
      id: deliveryId,
      webhookId: webhook.id,
      eventId: event.id,
      eventType: event.type,
      attempt,
      time: started.toISOString(),
      status,
      error,
      durationMs,
      nextRetryAt,
    };
    const exists = await this.#store.transaction(async (tx) => {
      if (!(await tx.updateWebhookProgress(webhook.id, progress))) return false;
      await tx.appendWebhookDelivery(delivery);
      return true;
    });
    return exists ? ok : null;
  }
}
