import { AuditLog } from '../audit/audit-log.js';
import { EventHub } from '../events/event-hub.js';
import { EventService } from '../events/event-service.js';
import { type DispatcherOptions, WebhookDispatcher } from '../events/webhook-dispatcher.js';
import { WebhookService } from '../events/webhook-service.js';
import type { Authorizer } from '../policy/authorizer.js';
import { BuiltinAuthorizer } from '../policy/builtin-authorizer.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { Seal } from '../seal/seal.js';
import type { Store } from '../store/store.js';
import { Authenticator } from './authenticator.js';
import { type Clock, systemClock } from './clock.js';
import { type CryptoLimits, CryptoService } from './crypto-service.js';
import { Gate } from './gate.js';
import { KeyDirectory } from './key-directory.js';
import { KeyService } from './key-service.js';
import { Keyring } from './keyring.js';
import { Lifecycle } from './lifecycle.js';
import { PrincipalService } from './principal-service.js';
import { RateLimiter } from './rate-limiter.js';
import { ReportService } from './report-service.js';
import { SysService } from './sys-service.js';
import { SystemActions } from './system-actions.js';
import { UseLimiter } from './use-limiter.js';

export interface KeywardOptions {
  store: Store;
  seal: Seal;
  version: string;
  clock?: Clock;
  authorizer?: Authorizer;
  limits?: Partial<CryptoLimits>;
  rates?: Partial<RateLimits>;
  /** Called with each error a scheduler step throws (the step is retried on the next run). */
  onSchedulerError?: (error: unknown) => void;
  /** Event streams and webhook delivery (docs/events.md). */
  events?: Partial<EventOptions>;
  webhooks?: Partial<DispatcherOptions>;
  /** Called with each error a webhook delivery run throws (the run is retried on the next tick). */
  onDispatcherError?: (error: unknown) => void;
}

export interface EventOptions {
  /** How often this node looks for new events while a stream is open. */
  pollIntervalMs: number;
  /** How often an idle event stream sends a comment (keeps proxies from closing it; re-checks the caller's token). */
  heartbeatMs: number;
}

export const DEFAULT_EVENT_OPTIONS: EventOptions = Object.freeze({ pollIntervalMs: 250, heartbeatMs: 15_000 });

export interface RateLimits {
  /** Failed authentications per source address: a burst, then this many per second. */
  authFailureBurst: number;
  authFailuresPerSecond: number;
  /** Requests per principal per second (with an equal burst); null for no limit. */
  principalRequestsPerSecond: number | null;
}

export const DEFAULT_RATES: RateLimits = Object.freeze({
  authFailureBurst: 20,
  authFailuresPerSecond: 1,
  principalRequestsPerSecond: null,
});

/** The service layer, wired. Front ends receive this and nothing below it. */
export interface Keyward {
  readonly sys: SysService;
  readonly keys: KeyService;
  readonly crypto: CryptoService;
  readonly principals: PrincipalService;
  readonly reports: ReportService;
  readonly limits: CryptoLimits;
  /** Life-cycle jobs; `main.ts` starts it on an interval, tests call `runOnce()` after moving the clock. */
  readonly scheduler: Scheduler;
  readonly events: EventService;
  readonly eventOptions: EventOptions;
  readonly webhooks: WebhookService;
  /** Webhook delivery; `main.ts` starts it on an interval, tests call `runOnce()` after moving the clock. */
  readonly dispatcher: WebhookDispatcher;
  /** Records a request a front end refused before any operation ran (see Gate.refused). */
  refused: Gate['refused'];
  /** Waits for pending audit records, then zeroes every cached secret. */
  shutdown(): Promise<void>;
}

export const DEFAULT_LIMITS: CryptoLimits = Object.freeze({ maxPlaintextBytes: 64 * 1024 });

export function createKeyward(options: KeywardOptions): Keyward {
  const { store, seal } = options;
  const clock = options.clock ?? systemClock;
  const limits: CryptoLimits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
  const rates: RateLimits = Object.freeze({ ...DEFAULT_RATES, ...options.rates });
  const audit = new AuditLog(store);
  const authenticator = new Authenticator(store, clock);
  const keyring = new Keyring(seal);
  const directory = new KeyDirectory(store);
  const lifecycle = new Lifecycle(keyring);
  const uses = new UseLimiter(store);
  const system = new SystemActions({ store, audit, clock, directory, keyring });
  const scheduler = new Scheduler({ store, system, lifecycle, onError: options.onSchedulerError ?? (() => {}) });
  const authorizer = options.authorizer ?? new BuiltinAuthorizer();
  const gate = new Gate({
    authenticator,
    authorizer,
    audit,
    clock,
    isSealed: () => seal.status().sealed,
    authFailures: new RateLimiter({ burst: rates.authFailureBurst, perSecond: rates.authFailuresPerSecond }, clock),
    perPrincipal:
      rates.principalRequestsPerSecond === null
        ? null
        : new RateLimiter({ burst: rates.principalRequestsPerSecond, perSecond: rates.principalRequestsPerSecond }, clock),
  });
  const isSealed = () => seal.status().sealed;
  const eventOptions: EventOptions = Object.freeze({ ...DEFAULT_EVENT_OPTIONS, ...options.events });
  const hub = new EventHub(store, eventOptions.pollIntervalMs);
  const dispatcher = new WebhookDispatcher({
    store,
    keyring,
    clock,
    isSealed,
    options: options.webhooks ?? {},
    onError: options.onDispatcherError ?? (() => {}),
  });
  // Changes committed by other nodes evict what this node cached.
  const stopListening = store.onChange((event) => {
    switch (event.kind) {
      case 'token':
        authenticator.forgetToken(event.id);
        break;
      case 'principal':
        authenticator.forgetPrincipal(event.id);
        break;
      case 'key':
        directory.forget(event.namespace, event.name);
        keyring.forgetKey(event.id);
        uses.forgetKey(event.id);
        break;
      case 'reset':
        authenticator.clear();
        directory.clear();
        keyring.clear();
        break;
    }
  });
  return Object.freeze({
    sys: new SysService({ gate, seal, store, keyring, directory, authenticator, version: options.version }),
    keys: new KeyService({ gate, store, keyring, directory, lifecycle, uses }),
    crypto: new CryptoService({ gate, store, keyring, directory, limits, uses, system, lifecycle }),
    principals: new PrincipalService({ gate, store, authenticator, directory }),
    reports: new ReportService({ gate, store, directory }),
    limits,
    scheduler,
    events: new EventService({ gate, store, hub, authenticator, authorizer, isSealed }),
    eventOptions,
    webhooks: new WebhookService({ gate, store, keyring }),
    dispatcher,
    refused: (request: Parameters<Gate['refused']>[0], error: unknown, code: string) => gate.refused(request, error, code),
    async shutdown() {
      stopListening();
      await scheduler.stop();
      hub.close();
      await dispatcher.stop();
      await audit.flush();
      keyring.clear();
    },
  });
}
