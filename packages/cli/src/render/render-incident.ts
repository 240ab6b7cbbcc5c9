import type { BlastRadiusReport, IncidentRecovery, IncidentStepView, IncidentView } from '@keyward/wire';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';
import { printable } from '../printable.js';

const ms = (value: number | null): string => (value === null ? '-' : `${value} ms`);

/**
 * One playbook step on one line, as `incident compromise` prints it while
 * the playbook runs.
 *
 * @example
 * io.stdout.write(renderStepLine(step)); // "contain        done       version 1 compromised: … (12 ms)"
 */
export function renderStepLine(step: IncidentStepView): string {
  const took = step.durationMs === null ? '' : ` (${step.durationMs} ms)`;
  return `${printable(`${step.name.padEnd(29)} ${step.state.padEnd(10)} ${step.outcome}${took}`)}\n`;
}

function recoveryText(r: IncidentRecovery): string {
  const issued = r.ciphertextsIssued + r.dataKeysIssued;
  const rewrapped = r.rewrappedBeforeIncident + r.rewrappedSinceIncident;
  const state = r.waived !== null ? `waived (${r.waived})` : r.complete ? 'complete' : `${r.remaining} left`;
  return `${rewrapped} of ${issued} ciphertexts and data keys rewrapped; ${state}`;
}

/**
 * An incident: what, containment per node, the steps, recovery and follow-ups.
 *
 * @example
 * io.stdout.write(renderIncident(await client.getIncident(id)));
 */
export function renderIncident(incident: IncidentView): string {
  const c = incident.containment;
  const containment =
    c.containedAt !== null
      ? `${c.containedAt} (${ms(c.timeToContainMs)} after the declaration)${c.timedOut ? '; the wait had timed out' : ''}`
      : c.timedOut
        ? `not confirmed: a node did not acknowledge within ${c.timeoutMs} ms`
        : 'in progress';
  const details = formatDetails([
    ['Incident', incident.id],
    ['Type', incident.type],
    ['State', incident.state],
    ['Key', `${incident.namespace}/${incident.key} version ${incident.version}`],
    ['Reason', incident.reason],
    [
      'Declared',
      `${incident.declaredAt} by ${incident.declaredBy}${incident.origin === 'alert' ? ` (alert ${incident.alertId}, ${incident.alertType})` : ''}`,
    ],
    ['Contained', containment],
    ['Time to contain', ms(c.timeToContainMs)],
    ['Re-keyed', incident.rotatedTo === null ? 'not needed' : `version ${incident.rotatedTo} at ${incident.rekeyedAt}`],
    ['Time to re-key', ms(incident.timeToRekeyMs)],
    ['Recovery', recoveryText(incident.recovery)],
    [
      'Min decrypt raise',
      incident.recovery.minDecryptionVersionRaisedAt !== null
        ? `done at ${incident.recovery.minDecryptionVersionRaisedAt}`
        : (incident.recovery.raiseMinDecryptionVersionAt ?? '-'),
    ],
    ['Root cause', incident.rootCause ?? '-'],
    ['Closed', incident.closedAt === null ? '-' : `${incident.closedAt} by ${incident.closedBy}`],
  ]);
  const nodes = formatTable(
    ['NODE', 'WAITED FOR', 'ACKNOWLEDGED', 'DELAY'],
    c.nodes.map((n) => [n.node, n.expected ? 'yes' : 'no', n.ackedAt ?? 'no', ms(n.delayMs)]),
  );
  const steps = formatTable(
    ['STEP', 'STATE', 'FINISHED', 'OUTCOME'],
    incident.steps.map((s) => [s.name, s.state, s.finishedAt ?? '-', s.outcome]),
  );
  const followUps =
    incident.followUps.length === 0
      ? 'no follow-ups\n'
      : formatTable(
          ['#', 'DONE', 'OWNER', 'DUE', 'ACTION'],
          incident.followUps.map((f, i) => [String(i + 1), f.done ? 'yes' : 'no', f.owner, f.due ?? '-', f.action]),
        );
  return `${details}\nNodes:\n${nodes}\nSteps:\n${steps}\nFollow-ups:\n${followUps}`;
}

/**
 * Incidents as a table, newest first.
 *
 * @example
 * io.stdout.write(renderIncidentList(incidents));
 */
export function renderIncidentList(incidents: readonly IncidentView[]): string {
  if (incidents.length === 0) return 'no incidents\n';
  return formatTable(
    ['ID', 'STATE', 'KEY', 'VERSION', 'DECLARED', 'CONTAINED', 'RECOVERY'],
    incidents.map((i) => [
      i.id,
      i.state,
      i.key,
      String(i.version),
      i.declaredAt,
      i.containment.containedAt === null ? (i.containment.timedOut ? 'timed out' : '-') : ms(i.containment.timeToContainMs),
      i.recovery.waived !== null ? 'waived' : i.recovery.complete ? 'complete' : `${i.recovery.remaining} left`,
    ]),
  );
}

/**
 * A blast radius: who used the version from where for what, what was issued
 * under it, and what happened after containment.
 *
 * @example
 * io.stdout.write(renderBlastRadius(await client.incidentBlastRadius(id)));
 */
export function renderBlastRadius(report: BlastRadiusReport): string {
  const head = formatDetails([
    ['Key', `${report.namespace}/${report.key} version ${report.version}`],
    ['Counted', `${report.from} to ${report.generatedAt} (declared ${report.declaredAt})`],
    ['Principals', report.principals.length === 0 ? '-' : report.principals.join(', ')],
    ['Sources', report.sources.length === 0 ? '-' : report.sources.join(', ')],
    ['First use', report.firstUseAt ?? '-'],
    ['Last use', report.lastUseAt ?? '-'],
    [
      'By operation',
      Object.entries(report.byOperation)
        .map(([op, count]) => `${op} ${count}`)
        .join(', ') || '-',
    ],
    [
      'Issued under it',
      `${report.issued.ciphertexts} ciphertexts, ${report.issued.dataKeys} data keys, ${report.issued.signatures} signatures, ${report.issued.macs} MACs`,
    ],
  ]);
  const uses = (rows: BlastRadiusReport['uses']) =>
    rows.length === 0
      ? 'none\n'
      : formatTable(
          ['PRINCIPAL', 'SOURCE', 'OPERATION', 'COUNT', 'FIRST', 'LAST'],
          rows.map((u) => [u.principal, u.source, u.operation, String(u.count), u.firstAt, u.lastAt]),
        );
  const denied =
    report.afterContainment.denied.length === 0
      ? 'none\n'
      : formatTable(
          ['PRINCIPAL', 'SOURCE', 'OPERATION', 'ERROR', 'COUNT', 'FIRST', 'LAST'],
          report.afterContainment.denied.map((d) => [
            d.principal ?? '-',
            d.source,
            d.operation,
            d.errorCode,
            String(d.count),
            d.firstAt,
            d.lastAt,
          ]),
        );
  return `${head}\nUses before the declaration:\n${uses(report.uses)}\nUses after containment (allowed by policy):\n${uses(report.afterContainment.uses)}\nRefused after containment:\n${denied}`;
}
