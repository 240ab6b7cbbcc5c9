import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { HttpMetrics } from './http-metrics.js';
import { JobMetrics } from './job-metrics.js';
import { present } from './label-cache.js';
import { OperationMetrics } from './operation-metrics.js';

/** What the seal gauges read at scrape time (SealStatus has these and more). */
export type SealSource = () => { sealed: boolean; initialized: boolean };

/** The slice of the audit log the audit metrics use (audit/audit-log.ts). */
export interface AuditSource {
  onWrite(listener: (records: number, seconds: number, ok: boolean) => void): void;
  readonly backlog: number;
}

/** Open alerts by type, read at scrape time. */
export type OpenAlertsSource = () => Promise<ReadonlyArray<{ type: string; count: number }>>;

export interface MetricsOptions {
  /** prom-client's process metrics (CPU, memory, event-loop lag, GC), prefixed `keyward_`. Default true. */
  processMetrics?: boolean;
}

/** Group commits of audit records: ~120 µs on SQLite with full sync, more on a remote PostgreSQL. */
const AUDIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** How long a scrape waits for the open-alerts source (Prometheus' default scrape timeout is 10 s). */
const SOURCE_TIMEOUT_MS = 5_000;

/**
 * Keyward's Prometheus metrics (docs/metrics.md). Each instance owns its own
 * registry, so several servers in one process (tests, a cluster in a test)
 * never share counters. Counters are fed by small hooks at the seams — the
 * REST app, the gate, the services that commit life-cycle changes, the
 * scheduler, the webhook dispatcher, the audit log — and gauges read their
 * sources at scrape time, so a scrape shows the state as it is, sealed or
 * not. No label ever carries a key name, principal, token or payload.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly http: HttpMetrics;
  readonly operations: OperationMetrics;
  readonly jobs: JobMetrics;
  #seal: SealSource | null = null;
  #openAlerts: OpenAlertsSource | null = null;
  readonly #alertsRaised: Counter;
  readonly #alertsRaisedByType = new Map<string, Counter.Internal>();
  readonly #auditDuration: Histogram;
  readonly #auditWrites: Counter;
  readonly #auditRecords: Counter;
  readonly #info: Gauge;
  readonly #auditBacklog: Gauge;
  readonly #alertsOpen: Gauge;
  readonly #sourceErrors: Counter;
  #audit: AuditSource | null = null;
  #scrape: Promise<unknown> = Promise.resolve();

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.http = new HttpMetrics(this.registry);
    this.operations = new OperationMetrics(this.registry);
    this.jobs = new JobMetrics(this.registry);
    this.#info = new Gauge({
      name: 'keyward_info',
      help: 'Always 1; the version label names the running release.',
      labelNames: ['version'],
      registers,
    });
    const sealed: Gauge = new Gauge({
      name: 'keyward_sealed',
      help: '1 while Keyward is sealed or not initialized (it refuses every key operation), else 0.',
      registers,
      collect: () => {
        if (this.#seal !== null) sealed.set(this.#seal().sealed ? 1 : 0);
      },
    });
    const initialized: Gauge = new Gauge({
      name: 'keyward_initialized',
      help: '1 once a root key exists, else 0.',
      registers,
      collect: () => {
        if (this.#seal !== null) initialized.set(this.#seal().initialized ? 1 : 0);
      },
    });
    this.#auditDuration = new Histogram({
      name: 'keyward_audit_write_duration_seconds',
      help: 'Duration of audit group commits (one transaction for every record queued meanwhile).',
      buckets: AUDIT_BUCKETS,
      registers,
    });
    this.#auditWrites = new Counter({
      name: 'keyward_audit_writes_total',
      help: 'Audit group commits by outcome (committed, failed); the requests of a failed commit fail too.',
      labelNames: ['outcome'],
      registers,
    });
    this.#auditRecords = new Counter({
      name: 'keyward_audit_records_total',
      help: 'Audit records in group commits, by outcome (committed, failed).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['committed', 'failed']) {
      present(this.#auditWrites.labels(outcome));
      present(this.#auditRecords.labels(outcome));
    }
    this.#auditBacklog = new Gauge({
      name: 'keyward_audit_backlog',
      help: 'Audit records waiting for their group commit (queued or being written); requests wait for them.',
      registers,
      collect: () => {
        if (this.#audit !== null) this.#auditBacklog.set(this.#audit.backlog);
      },
    });
    this.#sourceErrors = new Counter({
      name: 'keyward_metrics_source_errors_total',
      help: 'Scrapes in which a metric source failed (that metric is then absent from the scrape), by source.',
      labelNames: ['source'],
      registers,
    });
    present(this.#sourceErrors.labels('alerts'));
    this.#alertsOpen = new Gauge({ name: 'keyward_alerts_open', help: 'Open alerts by type.', labelNames: ['type'], registers });
    this.#alertsRaised = new Counter({
      name: 'keyward_alerts_raised_total',
      help: 'Alerts raised, by type.',
      labelNames: ['type'],
      registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'keyward_' });
  }

  /** Connects the scrape-time sources; `createKeyward` calls it once. */
  connect(sources: { version: string; seal: SealSource; audit: AuditSource }): void {
    // One Metrics per Keyward: two would mix their counters and fight over the gauges.
    if (this.#seal !== null) throw new Error('these metrics are already connected to a Keyward');
    this.#info.set({ version: sources.version }, 1);
    this.#seal = sources.seal;
    this.#audit = sources.audit;
    sources.audit.onWrite((records, seconds, ok) => {
      const outcome = ok ? 'committed' : 'failed';
      this.#auditDuration.observe(seconds);
      this.#auditWrites.inc({ outcome });
      this.#auditRecords.inc({ outcome }, records);
    });
  }

  /** Where `keyward_alerts_open` comes from; without a source (the default) the gauge has no series. */
  setOpenAlertsSource(source: OpenAlertsSource | null): void {
    this.#openAlerts = source;
  }

  /** Before the registry renders, so that a failing source is counted in the same scrape. */
  async #readOpenAlerts(): Promise<void> {
    this.#alertsOpen.reset();
    if (this.#openAlerts === null) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      // A source that never answers must not hold up this scrape and every one after it.
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('open-alerts source timed out')), SOURCE_TIMEOUT_MS);
      });
      const open = await Promise.race([this.#openAlerts(), late]);
      for (const { type, count } of open) this.#alertsOpen.set({ type }, count);
    } catch {
      this.#alertsOpen.reset();
      this.#sourceErrors.inc({ source: 'alerts' });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Counts one raised alert of `type` (a name from a closed set, never data from a request). */
  alertRaised(type: string): void {
    let child = this.#alertsRaisedByType.get(type);
    if (child === undefined) {
      child = this.#alertsRaised.labels(type);
      this.#alertsRaisedByType.set(type, child);
    }
    child.inc();
  }

  /** The `Content-Type` of {@link text} (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format, sources read now. Concurrent scrapes run one after another. */
  text(): Promise<string> {
    const scrape = this.#scrape.then(() => this.#render());
    this.#scrape = scrape.catch(() => {});
    return scrape;
  }

  async #render(): Promise<string> {
    // Scrapes are serialized (text()), so no other scrape resets the alerts gauge between this read and the render.
    await this.#readOpenAlerts();
    // prom-client 15 writes NaN (event-loop lag before its first sample) as `Nan`; the format says `NaN`.
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }
}
