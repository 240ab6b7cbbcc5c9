import type { KeywardClient } from '@keyward/client';
import {
  ALERT_STATES,
  ALERT_TYPES,
  type AlertList,
  type AlertListQuery,
  type AlertSubject,
  type AlertView,
  type ClassStandards,
  type PolicyStatusView,
} from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';
import { integerBetween } from '../option-parsers.js';
import { printable } from '../printable.js';
import { registerPolicyCommands } from './policy-command.js';

type ListOptions = Omit<AlertListQuery, 'limit'> & { limit?: number; all?: boolean };

/**
 * `keyward alerts list|show|ack|resolve`, `keyward policy status` (docs/alerts.md), and `policy test|explain` (policy-command.ts).
 *
 * @example
 * registerAlertCommands(program, ctx);
 */
export function registerAlertCommands(program: Command, ctx: CommandContext): void {
  const alerts = program.command('alerts').description('anomaly alerts: list, show, acknowledge, resolve');

  alerts
    .command('list')
    .description('list alerts, newest first (one page unless --all)')
    .addOption(new Option('--state <state>', 'only alerts in this state').choices(ALERT_STATES))
    .addOption(new Option('--type <type>', 'only alerts of this type').choices(ALERT_TYPES))
    .option('--key <name>', 'only alerts about this key (in the namespace)')
    .option('--limit <n>', 'page size (1–1000)', integerBetween(1, 1000))
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'fetch every page')
    .action(async (options: ListOptions, command: Command) => {
      const { all, ...query } = options;
      const client = await ctx.client(command);
      const list: AlertList = all === true ? { alerts: await allAlerts(client, query), nextCursor: null } : await client.listAlerts(query);
      ctx.print(command, list, (value) => renderAlertList(value.alerts));
      if (list.nextCursor !== null && ctx.options(command).json !== true) ctx.note(`more alerts: --cursor ${list.nextCursor} (or --all)`);
    });

  alerts
    .command('show')
    .description('show an alert: what happened, its evidence, and what to do next')
    .argument('<id>', 'alert id, as printed by alerts list')
    .action(async (id: string, _options: object, command: Command) => {
      ctx.print(command, await (await ctx.client(command)).getAlert(id), renderAlert);
    });

  alerts
    .command('ack')
    .description('acknowledge an open alert (admin): someone is on it')
    .argument('<id>', 'alert id')
    .option('--note <text>', 'a note kept with the alert')
    .action(async (id: string, options: { note?: string }, command: Command) => {
      ctx.print(command, await (await ctx.client(command)).acknowledgeAlert(id, options.note), renderAlert);
    });

  alerts
    .command('resolve')
    .description('resolve an alert (admin), saying why; a later occurrence raises a new one')
    .argument('<id>', 'alert id')
    .requiredOption('--note <text>', 'why it is resolved (required)')
    .action(async (id: string, options: { note: string }, command: Command) => {
      ctx.print(command, await (await ctx.client(command)).resolveAlert(id, options.note), renderAlert);
    });

  const policy = program.command('policy').description('the policies in force; Cedar policies tested and explained offline');
  policy
    .command('status')
    .description('show which policy file is in force, its digest, and why a newer one was refused')
    .action(async (_options: object, command: Command) => {
      ctx.print(command, await (await ctx.client(command)).policyStatus(), renderPolicyStatus);
    });
  registerPolicyCommands(policy, ctx);
}

async function allAlerts(client: KeywardClient, query: AlertListQuery): Promise<AlertView[]> {
  const alerts: AlertView[] = [];
  let cursor: string | null = null;
  do {
    const page = await client.listAlerts(cursor === null ? query : { ...query, cursor });
    alerts.push(...page.alerts);
    cursor = page.nextCursor ?? null;
  } while (cursor !== null);
  return alerts;
}

/** `default/payments v2 svc-billing 10.0.0.7`: the subject's fields that apply. */
export function describeSubject(s: AlertSubject): string {
  const parts: string[] = [];
  if (s.key !== null) parts.push(`${s.namespace ?? 'default'}/${s.key}${s.version === null ? '' : ` v${s.version}`}`);
  if (s.principal !== null) parts.push(s.principal);
  if (s.source !== null) parts.push(s.source);
  return parts.join(' ') || '-';
}

export function renderAlertList(alerts: readonly AlertView[]): string {
  if (alerts.length === 0) return 'no alerts\n';
  return formatTable(
    ['ID', 'TYPE', 'SEVERITY', 'STATE', 'COUNT', 'SUBJECT', 'LAST SEEN'],
    alerts.map((a) => [a.id, a.type, a.severity, a.state, String(a.count), describeSubject(a.subject), a.lastSeen]),
  );
}

export function renderAlert(a: AlertView): string {
  const pairs: Array<[string, string]> = [
    ['Alert ID', a.id],
    ['Type', a.type],
    ['Severity', a.severity],
    ['State', a.state],
    ['Summary', a.summary],
    ['Subject', describeSubject(a.subject)],
    ['Count', String(a.count)],
    ['First seen', a.firstSeen],
    ['Last seen', a.lastSeen],
    ['Raised', a.raisedAt],
  ];
  if (a.acknowledgedAt !== null) pairs.push(['Acknowledged', `${a.acknowledgedAt} by ${a.acknowledgedBy ?? '?'}`]);
  if (a.acknowledgeNote !== null) pairs.push(['Ack note', a.acknowledgeNote]);
  if (a.resolvedAt !== null) pairs.push(['Resolved', `${a.resolvedAt} by ${a.resolvedBy ?? '?'}`]);
  if (a.resolveNote !== null) pairs.push(['Resolution', a.resolveNote]);
  for (const [name, value] of Object.entries(a.evidence.facts)) pairs.push([`Fact ${name}`, String(value)]);
  let text = formatDetails(pairs);
  if (a.evidence.records.length > 0) {
    text += `\nEvidence (audit records):\n${formatTable(
      ['TIME', 'CHAIN', 'SEQ', 'ACTION', 'ACTOR', 'SOURCE', 'OUTCOME', 'ERROR'],
      a.evidence.records.map((r) => [
        r.time,
        r.chain,
        String(r.chainSeq),
        r.action,
        r.actor ?? '-',
        r.source,
        r.outcome,
        r.errorCode ?? '-',
      ]),
    )}`;
  }
  text += `\nNext steps:\n${a.nextSteps.map((step, i) => `  ${i + 1}. ${printable(step)}`).join('\n')}\n`;
  return text;
}

function renderPolicyStatus(s: PolicyStatusView): string {
  const details = formatDetails([
    ['Path', s.path],
    ['Source', s.source === 'file' ? 'file' : 'defaults (no file)'],
    ['Loaded', s.loadedAt],
    ['Digest', s.digest ?? '-'],
    ['Last error', s.lastError === null ? '-' : `${s.lastError} (${s.lastErrorAt ?? '?'}); the previous policy stays in force`],
    // A server older than the Cedar policies does not send them.
    ...(s.cedar === undefined
      ? []
      : ([
          ['Cedar directory', s.cedar.directory ?? '- (shipped policies only)'],
          ['Cedar files', s.cedar.files.length === 0 ? '-' : s.cedar.files.join(', ')],
          ['Cedar policies', s.cedar.policies.length === 0 ? '- (shipped policies only)' : s.cedar.policies.join(', ')],
          ['Cedar loaded', s.cedar.loadedAt],
          ['Cedar digest', s.cedar.digest ?? '-'],
          [
            'Cedar last error',
            s.cedar.lastError === null ? '-' : `${s.cedar.lastError} (${s.cedar.lastErrorAt ?? '?'}); the previous policies stay in force`,
          ],
        ] as [string, string][])),
  ]);
  // A server older than the class standards does not send them.
  if (s.classes === undefined) return details;
  return `${details}\nClass standards (docs/governance.md):\n${renderClassStandards(s.classes)}\nClass governance (reviews, unused keys, quorum approvals, offboarding):\n${renderClassGovernance(s.classes)}`;
}

/** One row per class: review interval, unused-key threshold, the operations held for approval, rotation on offboarding. */
export function renderClassGovernance(classes: ClassStandards): string {
  return formatTable(
    ['CLASS', 'REVIEW', 'UNUSED AFTER', 'QUORUM', 'ROTATE ON OFFBOARDING'],
    Object.entries(classes).map(([name, c]) => {
      const held = Object.entries(c.quorum ?? {}).filter(([, n]) => n > 0);
      return [
        name,
        c.reviewInterval ?? '-',
        c.unusedKeyThreshold ?? '-',
        held.length === 0 ? '-' : held.map(([op, n]) => `${op}=${n}`).join(','),
        c.rotateOnOffboarding ? 'yes' : 'no',
      ];
    }),
  );
}

/** One row per class; `-` where the policy sets no default or no limit. */
export function renderClassStandards(classes: ClassStandards): string {
  const or = (value: string | number | null) => (value === null ? '-' : String(value));
  return formatTable(
    ['CLASS', 'ROTATION', 'MAX ROTATION', 'MAX USES', 'ALGORITHMS', 'PROTECTION', 'DELETION', 'MIN DELETION', 'EXPORTABLE'],
    Object.entries(classes).map(([name, c]) => [
      name,
      or(c.rotationPeriod),
      or(c.maxRotationPeriod),
      or(c.maxUsesPerVersion),
      c.algorithms === null ? 'all' : c.algorithms.join(','),
      c.protection,
      `${c.deletionWindowDays}d`,
      `${c.minDeletionWindowDays}d`,
      c.exportable ? 'yes' : 'no',
    ]),
  );
}
