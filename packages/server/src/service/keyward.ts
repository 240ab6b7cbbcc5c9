import { hostname } from 'node:os';
import { AlertEngine } from '../alerts/alert-engine.js';
import { AlertService } from '../alerts/alert-service.js';
import { AutoContainment } from '../alerts/auto-containment.js';
import { AuditLog, type CheckpointPolicy } from '../audit/audit-log.js';
import { AuditSecrets } from '../audit/audit-secrets.js';
import type { AuditFileSink } from '../audit/file-sink.js';
import { ScheduledBackups } from '../backup/scheduled-backups.js';
import { EventHub } from '../events/event-hub.js';
import { EventService } from '../events/event-service.js';
import { type DispatcherOptions, WebhookDispatcher } from '../events/webhook-dispatcher.js';
import { WebhookService } from '../events/webhook-service.js';
import { Metrics } from '../metrics/metrics.js';
import type { Authorizer } from '../policy/authorizer.js';
import { CedarAuthorizer } from '../policy/cedar/cedar-authorizer.js';
import { BuiltinCedarPolicies, type CedarPolicyStatusSource } from '../policy/cedar/policy-directory.js';
import { FixedPolicy, type PolicySource } from '../policy/policy-file.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { Seal } from '../seal/seal.js';
import { tokenKeysOf } from '../seal/token-keys.js';
import type { Store } from '../store/store.js';
import { ApprovalService, runApproved } from './approvals.js';
import { AttestationKey } from './attestation-key.js';
import { AttestationService } from './attestation-service.js';
import { AuditService } from './audit-service.js';
import { Authenticator } from './authenticator.js';
import { BackupService } from './backup-service.js';
import { ByokService } from './byok-service.js';
import { type Clock, systemClock } from './clock.js';
import { CompromisePlaybook } from './compromise-playbook.js';
import { type CryptoLimits, CryptoService } from './crypto-service.js';
import { Gate } from './gate.js';
import { HsmKeys } from './hsm-keys.js';
import { IncidentJobs } from './incident-jobs.js';
import { IncidentJournal } from './incident-journal.js';
import { DEFAULT_INCIDENT_OPTIONS, type IncidentOptions, IncidentService } from './incident-service.js';
import { InventoryService } from './inventory-service.js';
import { KeyDirectory } from './key-directory.js';
import { KeyService } from './key-service.js';
import { Keyring } from './keyring.js';
import { Lifecycle } from './lifecycle.js';
import { NodePresence } from './node-presence.js';
import { OffboardingService } from './offboarding.js';
import { OidcVerifier } from './oidc-verifier.js';
import { PolicyService } from './policy-service.js';
import { PrincipalService } from './principal-service.js';
import { RateLimiter } from './rate-limiter.js';
import { ReportService } from './report-service.js';
import { SecondFactor } from './second-factor.js';
import { type SealPeers, SysService } from './sys-service.js';
import { SystemActions } from './system-actions.js';
import { TotpService } from './totp-service.js';
import { UseLimiter } from './use-limiter.js';

export interface KeywardOptions {
  store: Store;
  seal: Seal;
  version: string;
  clock?: Clock;
  authorizer?: Authorizer;
  limits?: Partial<CryptoLimits>;
  rates?: Partial<RateLimits>;
  /** How long a namespace's BYOK import wrapping key pair issues tokens before a new one replaces it (default 7 days). */
  importWrappingKeyRotationMs?: number;
  /** Called with each error a scheduler step throws (the step is retried on the next run). */
  onSchedulerError?: (error: unknown) => void;
  /** Called with why a scheduled backup failed (the run is audited as an error and retried on the next pass). */
  onScheduledBackupError?: (error: unknown) => void;
  /** Event streams and webhook delivery (docs/events.md). */
  events?: Partial<EventOptions>;
  webhooks?: Partial<DispatcherOptions>;
  /** Called with each error a webhook delivery run throws (the run is retried on the next tick). */
  onDispatcherError?: (error: unknown) => void;
  audit?: Partial<AuditOptions>;
  /** Called with each error of background audit work (checkpoints, file sink); it is retried on the next tick. */
  onAuditError?: (error: unknown) => void;
  /** Prometheus metrics (docs/metrics.md); a fresh instance with its own registry when absent. */
  metrics?: Metrics;
  /** The policy in force (the policy file, docs/alerts.md, docs/governance.md); the documented defaults when absent. */
  policy?: PolicySource;
  /** The Cedar policies in force (the policy directory, docs/governance.md); the shipped policies alone when absent. Unused with `authorizer`. */
  policies?: CedarPolicyStatusSource;
  /** Called with each error an alert-engine run throws (the run is retried on the next tick). */
  onAlertError?: (error: unknown) => void;
  /** Incident containment: how long to wait for nodes to acknowledge (docs/incident-response.md). */
  incidents?: Partial<IncidentOptions>;
  /** Called with each error an incident job run throws (it is retried on the next run). */
  onIncidentError?: (error: unknown) => void;
  /** Hears why a backup stream failed half-way (the reader gets a truncated archive). */
  onBackupError?: (error: unknown) => void;
  /** The other worker processes sharing this server's seal state (`--workers`, cluster/); none for one process. */
  sealPeers?: SealPeers;
  /** Called when an OIDC issuer's discovery document or keys cannot be fetched (the request is refused with 401). */
  onOidcError?: (error: unknown, message: string) => void;
  /** Certificate-only mode (`--tls-client-auth required`): callers authenticate by client certificate; bearer tokens are refused. */
  certificateOnly?: boolean;
}

export interface AuditOptions {
  /** This node's audit chain (default: the host name). */
  node: string;
  checkpoints: Partial<CheckpointPolicy>;
  /** A JSON-lines copy of this node's chain. */
  sink: AuditFileSink | null;
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
  /** Encrypted backups (`POST /v1/sys/backup`). */
  readonly backups: BackupService;
  readonly keys: KeyService;
  /** BYOK import and wrapped export (docs/transit.md). */
  readonly byok: ByokService;
  readonly crypto: CryptoService;
  readonly principals: PrincipalService;
  /** Quorum approvals (`/v1/approvals`, docs/governance.md). */
  readonly approvals: ApprovalService;
  /** Offboarding (`POST /v1/principals/{id}/offboard`, docs/governance.md). */
  readonly offboarding: OffboardingService;
  /** TOTP second factors of local users (`/v1/auth/totp`, `DELETE /v1/principals/{id}/totp`). */
  readonly totp: TotpService;
  readonly reports: ReportService;
  /** Inventory and compliance reports (`GET /v1/reports/*`). */
  readonly inventory: InventoryService;
  readonly audit: AuditService;
  /** Signed attestations (`GET /v1/attestations/*`, docs/operations.md "Reading an attestation"). */
  readonly attestations: AttestationService;
  readonly limits: CryptoLimits;
  /** Life-cycle jobs; `main.ts` starts it on an interval, tests call `runOnce()` after moving the clock. */
  readonly scheduler: Scheduler;
  /** Scheduled backups from the policy file's `backups:` section (leader only). */
  readonly scheduledBackups: ScheduledBackups;
  readonly events: EventService;
  readonly eventOptions: EventOptions;
  readonly webhooks: WebhookService;
  /** Webhook delivery; `main.ts` starts it on an interval, tests call `runOnce()` after moving the clock. */
  readonly dispatcher: WebhookDispatcher;
  /** Served at `GET /metrics`; fed by hooks in the gate, services, scheduler, dispatcher and audit log. */
  readonly metrics: Metrics;
  /** Anomaly alerts (`/v1/alerts`, docs/alerts.md). */
  readonly alerts: AlertService;
  /** Reads the audit trail and raises alerts; `main.ts` starts it on an interval, tests call `runOnce()` after moving the clock. */
  readonly alertEngine: AlertEngine;
  /** The policy file in force (`GET /v1/sys/policy`). */
  readonly policy: PolicyService;
  /** Incidents: the key-compromise playbook (`/v1/incidents`, docs/incident-response.md). */
  readonly incidents: IncidentService;
  /** Node heartbeat and incident follow-up (raise of minDecryptionVersion); `main.ts` starts it on an interval, tests call `runOnce()`. */
  readonly incidentJobs: IncidentJobs;
  /** Incidents opened by alerts, per the policy's `incidents.autoContain`; `idle()` waits for those in progress. */
  readonly containment: AutoContainment;
  /** Records a request a front end refused before any operation ran (see Gate.refused). */
  refused: Gate['refused'];
  /** Loads (creating on first start) the audit salt and signing key when unsealed; call once before serving. */
  ready(): Promise<void>;
  /** Waits for pending audit records, then zeroes every cached secret. */
  shutdown(): Promise<void>;
}

export const DEFAULT_LIMITS: CryptoLimits = Object.freeze({ maxPlaintextBytes: 64 * 1024 });

export function createKeyward(options: KeywardOptions): Keyward {
  const { store, seal } = options;
  const clock = options.clock ?? systemClock;
  const limits: CryptoLimits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
  const rates: RateLimits = Object.freeze({ ...DEFAULT_RATES, ...options.rates });
  const isSealed = () => seal.status().sealed;
  const keyring = new Keyring(seal);
  const auditSecrets = new AuditSecrets({ store, keyring, isSealed });
  const audit = new AuditLog({
    store,
    clock,
    secrets: auditSecrets,
    node: options.audit?.node ?? hostname(),
    checkpoints: options.audit?.checkpoints ?? {},
    sink: options.audit?.sink ?? null,
    onError: options.onAuditError ?? (() => {}),
  });
  const metrics = options.metrics ?? new Metrics();
  metrics.connect({ version: options.version, seal: () => seal.status(), audit });
  const onCommitted = metrics.operations.committed.bind(metrics.operations);
  // Read on every use (never copied), so a reloaded policy file applies to the next request or run.
  const policy = options.policy ?? new FixedPolicy();
  const oidc = new OidcVerifier({ policy, clock, ...(options.onOidcError ? { onError: options.onOidcError } : {}) });
  const authenticator = new Authenticator(store, clock, oidc, { certificateOnly: options.certificateOnly ?? false });
  const directory = new KeyDirectory(store);
  const hsm = new HsmKeys(tokenKeysOf(seal), seal.kind);
  const lifecycle = new Lifecycle(keyring, hsm);
  const uses = new UseLimiter(store);
  const system = new SystemActions({ store, audit, clock, directory, keyring, lifecycle, onCommitted });
  const scheduledBackups = new ScheduledBackups({
    store,
    seal,
    policy,
    clock,
    node: options.audit?.node ?? hostname(),
    version: options.version,
    audit: (record) => audit.record(record),
    onRun: (outcome, bytes, at) => metrics.jobs.backupRun(outcome, bytes, at),
    onVerify: (outcome, at) => metrics.jobs.backupVerify(outcome, at),
    onError: options.onScheduledBackupError ?? (() => {}),
  });
  const scheduler = new Scheduler({
    store,
    system,
    lifecycle,
    policy,
    onError: options.onSchedulerError ?? (() => {}),
    onRun: (run, seconds) => metrics.jobs.schedulerRun(run, seconds),
  });
  const policies = options.policies ?? new BuiltinCedarPolicies(clock.now());
  const authorizer = options.authorizer ?? new CedarAuthorizer({ policies, now: () => clock.now() });
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
    secondFactor: new SecondFactor({ store, keyring, policy }),
    observe: metrics.operations.finished.bind(metrics.operations),
  });
  const auditService = new AuditService({ gate, store, log: audit, secrets: auditSecrets, onError: options.onAuditError ?? (() => {}) });
  const eventOptions: EventOptions = Object.freeze({ ...DEFAULT_EVENT_OPTIONS, ...options.events });
  const hub = new EventHub(store, eventOptions.pollIntervalMs);
  const dispatcher = new WebhookDispatcher({
    store,
    keyring,
    clock,
    isSealed,
    options: options.webhooks ?? {},
    onError: (error) => {
      metrics.jobs.dispatchError();
      options.onDispatcherError?.(error);
    },
    onAttempt: (outcome, seconds, abandoned) => metrics.jobs.deliveryAttempt(outcome, seconds, abandoned),
  });
  const alertEngine = new AlertEngine({ store, clock, policy, onError: options.onAlertError ?? (() => {}) });
  alertEngine.onRaised((alert) => metrics.alertRaised(alert.type));
  const alertService = new AlertService({ gate, store, engine: alertEngine });
  metrics.setOpenAlertsSource(() => alertService.openCounts());
  const crypto = new CryptoService({ gate, store, keyring, hsm, directory, limits, uses, system, lifecycle });
  const incidentOptions: IncidentOptions = Object.freeze({ ...DEFAULT_INCIDENT_OPTIONS, ...options.incidents });
  const presence = new NodePresence(store, clock, incidentOptions.nodeTtlMs);
  const journal = new IncidentJournal({ store, audit });
  const playbook = new CompromisePlaybook({
    store,
    clock,
    lifecycle,
    directory,
    keyring,
    uses,
    presence,
    journal,
    options: incidentOptions,
  });
  const incidents = new IncidentService({ gate, store, audit, clock, directory, playbook, journal, crypto });
  const containment = new AutoContainment({ policy, directory, incidents, onError: options.onAlertError ?? (() => {}) });
  alertEngine.onRaised(containment.onRaised);
  const incidentJobs = new IncidentJobs({ store, clock, system, presence, journal, onError: options.onIncidentError ?? (() => {}) });
  // After dropping a key's cached state, a node acknowledges the key's open incidents (containment measures it).
  const acknowledge = (keyId: string | null) => void presence.acknowledge(keyId).catch(options.onIncidentError ?? (() => {}));
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
        acknowledge(event.id);
        break;
      case 'reset':
        authenticator.clear();
        directory.clear();
        keyring.clear();
        acknowledge(null);
        break;
    }
  });
  const keys = new KeyService({ gate, store, keyring, hsm, directory, lifecycle, uses, policy, onCommitted });
  const byok = new ByokService({
    gate,
    store,
    keyring,
    directory,
    lifecycle,
    uses,
    policy,
    onCommitted,
    ...(options.importWrappingKeyRotationMs === undefined ? {} : { wrappingKeyRotationMs: options.importWrappingKeyRotationMs }),
  });
  const principals = new PrincipalService({ gate, store, authenticator, directory, policy });
  const inventory = new InventoryService({ gate, store, policy });
  const attestationKey = new AttestationKey({ store, keyring, isSealed });
  const attestations = new AttestationService({
    gate,
    store,
    key: attestationKey,
    audit: auditService,
    inventory,
    policy,
    issuer: `urn:keyward:${options.audit?.node ?? hostname()}`,
  });
  return Object.freeze({
    sys: new SysService({
      gate,
      seal,
      store,
      keyring,
      directory,
      authenticator,
      auditSecrets,
      attestationKey,
      version: options.version,
      peers: options.sealPeers ?? null,
    }),
    backups: new BackupService({
      gate,
      store,
      seal,
      node: options.audit?.node ?? hostname(),
      version: options.version,
      onError: options.onBackupError ?? (() => {}),
    }),
    keys,
    byok,
    crypto,
    principals,
    approvals: new ApprovalService({ gate, store, clock, run: (ctx, approval) => runApproved(keys, principals, byok, ctx, approval) }),
    offboarding: new OffboardingService({
      gate,
      store,
      policy,
      lifecycle,
      authenticator,
      directory,
      keyring,
      uses,
      onCommitted,
    }),
    totp: new TotpService({ gate, store, keyring }),
    reports: new ReportService({ gate, store, directory }),
    inventory,
    audit: auditService,
    attestations,
    async ready() {
      await auditSecrets.load();
    },
    limits,
    scheduler,
    scheduledBackups,
    events: new EventService({ gate, store, hub, authenticator, authorizer, isSealed }),
    eventOptions,
    webhooks: new WebhookService({ gate, store, keyring }),
    dispatcher,
    metrics,
    alerts: alertService,
    alertEngine,
    policy: new PolicyService({ gate, policy, policies }),
    incidents,
    incidentJobs,
    refused: (request: Parameters<Gate['refused']>[0], error: unknown, code: string) => gate.refused(request, error, code),
    containment,
    async shutdown() {
      stopListening();
      await scheduler.stop();
      await scheduledBackups.stop();
      hub.close();
      await dispatcher.stop();
      await alertEngine.stop();
      await containment.idle();
      await incidentJobs.stop();
      await presence.leave().catch(() => {});
      await auditService.ticker.stop();
      await audit.idle();
      keyring.clear();
    },
  });
}
