import { randomBytes } from 'node:crypto';
import { isPendingApproval, KeywardApiError, KeywardClient, type KeywardClientOptions } from '@keyward/client';
import type { BlastRadiusReport, IncidentStepView, IncidentView } from '@keyward/wire';
import { DrillWebhookListener } from './drill-webhook-listener.js';

export interface DrillOptions {
  /** Address, operator token and fetch; the namespace is the drill's own. */
  client: KeywardClientOptions;
  namespace: string;
  /** Where the drill's webhook receiver listens. */
  listen: { host: string; port: number };
  /** The URL Keyward must POST to, when it does not reach the receiver by its listening address. */
  webhookUrl: string | null;
  /** How long to wait for the signed deliveries. */
  webhookTimeoutMs: number;
}

export interface DrillCheck {
  name: string;
  pass: boolean;
  detail: string;
}

/** What a drill found, in the order it ran. */
export interface DrillReport {
  namespace: string;
  key: string;
  principal: string;
  incident: string | null;
  checks: DrillCheck[];
  passed: boolean;
  /** As the incident record measured them on the server. */
  timeToContainMs: number | null;
  timeToRekeyMs: number | null;
  /** As the drill saw them, from sending the declaration. */
  observed: { containMs: number | null; rekeyMs: number | null; alertMs: number | null };
  cleanup: string[];
}

/** Where the drill reports as it goes (the command prints; tests collect). */
export interface DrillOutput {
  progress(text: string): void;
  step(step: IncidentStepView): void;
  check(check: DrillCheck): void;
  cleanup(text: string): void;
}

/** The drill's traffic: what the blast radius must show, exactly. */
const SINGLE_ENCRYPTS = 3;
const BATCH_ENCRYPTS = 2;
const DATA_KEYS = 2;
const DECRYPTS = 3;
const EXPECTED_OPERATIONS: Readonly<Record<string, number>> = Object.freeze({
  'data-key': DATA_KEYS,
  decrypt: DECRYPTS,
  encrypt: SINGLE_ENCRYPTS + BATCH_ENCRYPTS,
});
const ALERT_EVENTS = ['version.compromised', 'key.rotated', 'incident.opened'] as const;
/** The drill key's class allows the minimum deletion window (API.md: 7 days). */
const DELETION_DAYS = 7;

const describe = (error: unknown): string =>
  error instanceof KeywardApiError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);

const operations = (byOperation: Record<string, number>): string =>
  Object.entries(byOperation)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([op, n]) => `${op} ${n}`)
    .join(', ') || 'none';

/**
 * `keyward drill compromise` (docs/incident-response.md, "Drills"): a
 * throwaway key in a drill namespace, traffic from a drill principal, a
 * declared compromise, and checks that containment, rotation, alerting, the
 * blast radius and recovery all do what the runbook says; then cleanup.
 * Every check is reported PASS or FAIL; nothing stops at the first failure.
 */
export async function runCompromiseDrill(options: DrillOptions, out: DrillOutput): Promise<DrillReport> {
  const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const report: DrillReport = {
    namespace: options.namespace,
    key: `drill-${suffix}`,
    principal: `drill-${suffix}`,
    incident: null,
    checks: [],
    passed: false,
    timeToContainMs: null,
    timeToRekeyMs: null,
    observed: { containMs: null, rekeyMs: null, alertMs: null },
    cleanup: [],
  };
  const operator = new KeywardClient({ ...options.client, namespace: options.namespace });
  const undo: Array<() => Promise<string>> = [];
  const check = (name: string, pass: boolean, detail: string) => {
    const result = { name, pass, detail };
    report.checks.push(result);
    out.check(result);
  };
  const attempt = async (name: string, body: () => Promise<{ pass: boolean; detail: string }>) => {
    try {
      const { pass, detail } = await body();
      check(name, pass, detail);
    } catch (error) {
      check(name, false, describe(error));
    }
  };
  const secret = randomBytes(32).toString('base64url');
  const listener = await DrillWebhookListener.start(secret, options.listen.host, options.listen.port);
  undo.push(async () => {
    await listener.close();
    return 'webhook receiver stopped';
  });
  try {
    // Setup: who runs it, the receiver's webhook, the key, the drill principal with a short-lived token.
    const self = await operator.self();
    const hookUrl = options.webhookUrl ?? listener.url;
    const hook = await operator.createWebhook({ url: hookUrl, events: [...ALERT_EVENTS], secret });
    undo.push(async () => {
      await operator.removeWebhook(hook.id);
      return `webhook ${hook.id} deleted`;
    });
    out.progress(`webhook ${hook.id} → ${hookUrl} (signatures checked with a fresh secret)`);
    const key = await operator.createKey({
      name: report.key,
      algorithm: 'aes-256-gcm',
      owner: 'keyward-drill',
      class: 'low',
      environment: 'test',
      description: 'compromise drill: throwaway key',
      deletionWindowDays: DELETION_DAYS,
    });
    undo.push(async () => {
      const scheduled = await operator.scheduleDeletion(report.key, { days: DELETION_DAYS });
      if (isPendingApproval(scheduled)) {
        return `deletion of key ${options.namespace}/${report.key} waits for quorum approval ${scheduled.approval.id} (the policy holds it for class low)`;
      }
      return `key ${options.namespace}/${report.key} scheduled for deletion on ${scheduled.deletionDate} (${DELETION_DAYS} days, the minimum window)`;
    });
    await operator.createPrincipal({ id: report.principal, kind: 'service', roles: ['key-user'], environments: ['test'] });
    const token = await operator.createToken(report.principal, { ttl: '1h', description: 'compromise drill' });
    undo.push(async () => {
      // Offboarding revokes the token, removes the grant and disables the principal for good.
      const { principal: self } = await operator.self();
      const done = await operator.offboardPrincipal(report.principal, { reassignTo: self.id, reason: 'compromise drill clean-up' });
      return `principal ${report.principal} offboarded: ${done.tokensRevoked} token(s) revoked, ${done.grantsRemoved} grant(s) removed`;
    });
    const grant = await operator.addGrant(report.key, {
      principal: report.principal,
      operations: ['encrypt', 'decrypt', 'data-key', 'rewrap'],
    });
    if (isPendingApproval(grant)) {
      throw new Error(
        `the grant to ${report.principal} waits for quorum approval ${grant.approval.id}; the policy holds grant changes for class low`,
      );
    }
    out.progress(
      `key ${options.namespace}/${report.key} (aes-256-gcm, class low, environment test); principal ${report.principal} (key-user, 1h token)`,
    );

    // Traffic from the drill principal: the blast radius must show exactly this.
    const drill = new KeywardClient({ ...options.client, namespace: options.namespace, token: token.token });
    const context = { drill: suffix };
    const plaintexts = Array.from({ length: SINGLE_ENCRYPTS + BATCH_ENCRYPTS }, (_, i) => new TextEncoder().encode(`drill record ${i}`));
    const ciphertexts: string[] = [];
    for (const plaintext of plaintexts.slice(0, SINGLE_ENCRYPTS))
      ciphertexts.push((await drill.encrypt(report.key, plaintext, { context })).ciphertext);
    for (const item of await drill.encryptBatch(
      report.key,
      plaintexts.slice(SINGLE_ENCRYPTS).map((plaintext) => ({ plaintext, context })),
    )) {
      if ('error' in item) throw new Error(`drill encrypt failed: ${item.error.code}`);
      ciphertexts.push(item.ciphertext);
    }
    const dataKeys: string[] = [];
    for (let i = 0; i < DATA_KEYS; i++) dataKeys.push((await drill.dataKey(report.key, { context, includePlaintext: false })).ciphertext);
    for (const ciphertext of ciphertexts.slice(0, DECRYPTS)) await drill.decrypt(report.key, ciphertext, { context });
    out.progress(
      `traffic as ${report.principal}: ${SINGLE_ENCRYPTS} encrypt + a batch of ${BATCH_ENCRYPTS}, ${DATA_KEYS} data-key, ${DECRYPTS} decrypt with version 1`,
    );

    // Declare, printing the playbook's steps as they happen.
    out.progress(`declaring version 1 of ${report.key} compromised`);
    const declaredAt = performance.now();
    const incident: IncidentView = await operator.declareIncident(
      { type: 'key_compromise', key: report.key, version: 1, reason: 'keyward drill compromise (simulated)' },
      {
        onStep: (step) => {
          const elapsed = Math.round(performance.now() - declaredAt);
          if (step.name === 'contain' && step.state !== 'running') report.observed.containMs = elapsed;
          if (step.name === 'rotate') report.observed.rekeyMs = elapsed;
          out.step(step);
        },
      },
    );
    report.incident = incident.id;
    report.timeToContainMs = incident.containment.timeToContainMs;
    report.timeToRekeyMs = incident.timeToRekeyMs;
    undo.push(async () => {
      const current = await operator.getIncident(incident.id);
      if (current.state === 'closed') return `incident ${incident.id} closed`;
      await operator.updateIncident(incident.id, {
        rootCause: 'compromise drill (simulated)',
        waiveRecovery: 'drill cleanup',
        state: 'closed',
      });
      return `incident ${incident.id} closed (recovery waived by the cleanup)`;
    });

    const c = incident.containment;
    check(
      'containment',
      c.containedAt !== null && !c.timedOut && incident.steps[0]?.state === 'done',
      c.containedAt !== null
        ? `version 1 compromised; ${c.nodes.filter((n) => n.expected).length} node(s) dropped it within ${c.timeToContainMs} ms`
        : `not confirmed: ${incident.steps[0]?.outcome ?? 'no contain step'}`,
    );

    await attempt('encrypt with the old version refused', async () => {
      const after = await drill.encrypt(report.key, new TextEncoder().encode('after the compromise'), { context });
      const state = (await operator.getKey(report.key)).versions?.find((v) => v.version === 1)?.state;
      return {
        pass: after.keyVersion !== 1 && state === 'compromised',
        detail: `version 1 is ${state}; encrypt now uses version ${after.keyVersion}`,
      };
    });

    await attempt('decrypt per policy', async () => {
      const refusal = async (fn: () => Promise<unknown>): Promise<string> => {
        try {
          await fn();
          return 'allowed';
        } catch (error) {
          if (error instanceof KeywardApiError) return error.code;
          throw error;
        }
      };
      const byDrill = await refusal(() => drill.decrypt(report.key, ciphertexts[0] as string, { context }));
      const rewrapByDrill = await refusal(() => drill.rewrap(report.key, ciphertexts[1] as string, { context }));
      // Built-in policy: only admins may recover data from a compromised version.
      const mayRecover = self.roles.includes('admin');
      let recovered = 'refused';
      try {
        const { plaintext } = await operator.decrypt(report.key, ciphertexts[0] as string, { context });
        recovered = new TextDecoder().decode(plaintext) === 'drill record 0' ? 'allowed' : 'wrong plaintext';
      } catch (error) {
        if (!(error instanceof KeywardApiError)) throw error;
      }
      return {
        pass: byDrill === 'invalid_state' && rewrapByDrill === 'invalid_state' && recovered === (mayRecover ? 'allowed' : 'refused'),
        detail: `${report.principal}: decrypt ${byDrill}, rewrap ${rewrapByDrill}; recovery decrypt by ${self.principal.id}: ${recovered}`,
      };
    });

    await attempt('rotation', async () => {
      const key = await operator.getKey(report.key);
      const v2 = key.versions?.find((v) => v.version === 2);
      return {
        pass: incident.rotatedTo === 2 && key.primaryVersion === 2 && v2?.state === 'active' && v2.trigger === 'event',
        detail: `version ${key.primaryVersion} is primary (${v2?.state}, trigger ${v2?.trigger})`,
      };
    });

    await attempt('alert delivery', async () => {
      const mine = (types: readonly string[]) => listener.deliveries.filter((d) => d.keyId === key.id && types.includes(d.type));
      const arrived = await listener.waitFor(() => ALERT_EVENTS.every((type) => mine([type]).length > 0), options.webhookTimeoutMs);
      const got = mine(ALERT_EVENTS);
      const invalid = got.filter((d) => !d.signatureValid).length;
      if (arrived) report.observed.alertMs = Math.round(Math.max(...got.map((d) => d.receivedAt)) - declaredAt);
      const missing = ALERT_EVENTS.filter((type) => mine([type]).length === 0);
      return {
        pass: arrived && invalid === 0,
        detail: arrived
          ? `${ALERT_EVENTS.join(', ')} received, ${invalid === 0 ? 'signatures valid' : `${invalid} with an INVALID signature`}, ${report.observed.alertMs} ms after the declaration`
          : `missing after ${options.webhookTimeoutMs} ms: ${missing.join(', ')}`,
      };
    });

    await attempt('blast radius matches the drill traffic', async () => {
      const radius = incident.blastRadius as BlastRadiusReport | null;
      if (radius === null || radius === undefined) return { pass: false, detail: 'no blast radius in the incident record' };
      const expected = operations(EXPECTED_OPERATIONS);
      const got = operations(radius.byOperation);
      const pass =
        radius.principals.length === 1 &&
        radius.principals[0] === report.principal &&
        radius.sources.length === 1 &&
        radius.uses.every((u) => u.principal === report.principal) &&
        got === expected &&
        radius.issued.ciphertexts === SINGLE_ENCRYPTS + BATCH_ENCRYPTS &&
        radius.issued.dataKeys === DATA_KEYS;
      return {
        pass,
        detail: `${radius.principals.join(', ') || 'no principal'} from ${radius.sources.join(', ') || 'no source'}: ${got}; ${radius.issued.ciphertexts} ciphertexts, ${radius.issued.dataKeys} data keys issued${pass ? '' : ` (expected ${report.principal} from one source: ${expected}; ${SINGLE_ENCRYPTS + BATCH_ENCRYPTS} ciphertexts, ${DATA_KEYS} data keys)`}`,
      };
    });

    await attempt('refused attempts listed after containment', async () => {
      const live = await operator.incidentBlastRadius(incident.id);
      const denied = live.afterContainment.denied.filter((d) => d.principal === report.principal);
      const summary = operations(Object.fromEntries(denied.map((d) => [`${d.operation} (${d.errorCode})`, d.count])));
      const pass =
        denied.length === 2 &&
        denied.every((d) => d.errorCode === 'invalid_state' && d.count === 1) &&
        denied.map((d) => d.operation).join(',') === 'decrypt,rewrap';
      return { pass, detail: `${report.principal}: ${summary}` };
    });

    await attempt('recovery', async () => {
      const items = [...ciphertexts, ...dataKeys].map((ciphertext) => ({ ciphertext, context }));
      const result = await operator.rewrapForIncident(incident.id, items);
      const failed = result.items.filter((i) => 'error' in i).length;
      const r = result.recovery;
      return {
        pass: failed === 0 && r.complete && r.remaining === 0,
        detail: `${items.length - failed} of ${items.length} ciphertexts and data keys rewrapped to version 2; ${r.remaining} left`,
      };
    });

    await attempt('incident closed', async () => {
      const closed = await operator.updateIncident(incident.id, {
        rootCause: 'compromise drill (simulated)',
        followUps: [{ action: 'review the drill times against the runbook targets', owner: self.principal.id, done: true }],
        state: 'closed',
      });
      return {
        pass: closed.state === 'closed',
        detail: `closed with its root cause; steps ${closed.steps.map((s) => `${s.name}:${s.state}`).join(' ')}`,
      };
    });
  } finally {
    for (const step of undo.reverse()) {
      try {
        const text = await step();
        report.cleanup.push(text);
        out.cleanup(text);
      } catch (error) {
        const text = `cleanup step failed: ${describe(error)}`;
        report.cleanup.push(text);
        out.cleanup(text);
      }
    }
  }
  report.passed = report.checks.length > 0 && report.checks.every((c) => c.pass);
  return report;
}
