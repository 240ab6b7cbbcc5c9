import type { KeywardClient } from '@keyward/client';
import {
  INCIDENT_STATES,
  type IncidentFollowUp,
  type IncidentListQuery,
  type IncidentRewrapResponse,
  type IncidentView,
  type PatchIncidentRequest,
} from '@keyward/wire';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';
import { collect, integerBetween, parseDuration } from '../option-parsers.js';
import { printable } from '../printable.js';
import { readInput } from '../read-input.js';
import { renderBlastRadius, renderIncident, renderIncidentList, renderStepLine } from '../render/render-incident.js';
import { UsageError } from '../usage-error.js';
import { writeOutput } from '../write-output.js';

interface CompromiseOptions {
  reason: string;
  version?: number;
  raiseMinDecryptionVersionAfter?: string;
}

interface UpdateOptions {
  rootCause?: string;
  followUp?: string[];
  owner?: string;
  due?: string;
  done?: number[];
  waiveRecovery?: string;
  close?: boolean;
}

const DUE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2}))?$/;

function parseDue(value: string): string {
  if (!DUE.test(value) || Number.isNaN(Date.parse(value)))
    throw new InvalidArgumentError('expected a date such as 2026-07-01 or an RFC 3339 time');
  return value;
}

function collectIndex(value: string, previous: number[] = []): number[] {
  return [...previous, integerBetween(1, 100)(value)];
}

/**
 * `keyward incident compromise|list|show|blast-radius|update|rewrap`: the
 * key-compromise playbook and the incident record (docs/incident-response.md).
 *
 * @example
 * registerIncidentCommand(program, ctx);
 */
export function registerIncidentCommand(program: Command, ctx: CommandContext): void {
  const incident = program.command('incident').description('declare a key compromise (the playbook) and follow the incident to its close');

  incident
    .command('compromise')
    .description(
      'declare a key version compromised and run the playbook: contain, rotate, notify, blast radius, recovery; prints the steps as they happen, then the blast radius',
    )
    .argument('<key>', 'key name (in --namespace)')
    .requiredOption('--reason <text>', 'why: what was exposed, how it was found')
    .option('--version <n>', 'the compromised version (default: the primary version)', integerBetween(1, 2 ** 31))
    .option(
      '--raise-min-decryption-version-after <duration>',
      'after this grace period (e.g. 7d) the version stops decrypting for good (minDecryptionVersion rises above it)',
      parseDuration,
    )
    .action(async (key: string, options: CompromiseOptions, command: Command) => {
      const client = await ctx.client(command);
      const json = ctx.options(command).json === true;
      const out = (text: string) => (json ? ctx.io.stderr.write(text) : ctx.io.stdout.write(text));
      out(`declaring version ${options.version ?? '(primary)'} of key '${printable(key)}' compromised\n`);
      const declared = await client.declareIncident(
        {
          type: 'key_compromise',
          key,
          reason: options.reason,
          ...(options.version !== undefined ? { version: options.version } : {}),
          ...(options.raiseMinDecryptionVersionAfter !== undefined
            ? { raiseMinDecryptionVersionAfter: options.raiseMinDecryptionVersionAfter }
            : {}),
        },
        { onStep: (step) => out(renderStepLine(step)) },
      );
      ctx.print(command, declared, (value) => {
        const report = value.blastRadius;
        return `\n${renderIncident(value)}\nBlast radius:\n${report ? renderBlastRadius(report) : 'not available (the step failed)\n'}`;
      });
      if (declared.containment.timedOut) {
        ctx.note('WARNING: not every node acknowledged dropping the version in time; see Nodes above and check those nodes.');
      }
    });

  incident
    .command('list')
    .description('incidents of the namespace, newest first')
    .addOption(new Option('--state <state>', 'only open or closed incidents').choices(INCIDENT_STATES))
    .option('--key <name>', 'only incidents of this key')
    .option('--limit <n>', 'page size (server default 100)', integerBetween(1, 1000))
    .option('--cursor <cursor>', 'nextCursor of the previous page')
    .option('--all', 'follow nextCursor to the end')
    .action(async (options: IncidentListQuery & { all?: boolean }, command: Command) => {
      const client = await ctx.client(command);
      const query: IncidentListQuery = {};
      if (options.state !== undefined) query.state = options.state;
      if (options.key !== undefined) query.key = options.key;
      if (options.limit !== undefined) query.limit = options.limit;
      if (options.cursor !== undefined) query.cursor = options.cursor;
      const page = options.all === true ? await allIncidents(client, query) : await client.listIncidents(query);
      ctx.print(command, page, (value) => renderIncidentList(value.incidents));
    });

  incident
    .command('show')
    .description('an incident: containment per node, steps, recovery progress, root cause and follow-ups')
    .argument('<id>', 'incident id')
    .action(async (id: string, _options: object, command: Command) => {
      ctx.print(command, await (await ctx.client(command)).getIncident(id), renderIncident);
    });

  incident
    .command('blast-radius')
    .description('who used the version, from where and for what, recounted from the audit trail now')
    .argument('<id>', 'incident id')
    .action(async (id: string, _options: object, command: Command) => {
      ctx.print(command, await (await ctx.client(command)).incidentBlastRadius(id), renderBlastRadius);
    });

  incident
    .command('update')
    .description('record the root cause and follow-ups, waive recovery, or close the incident')
    .argument('<id>', 'incident id')
    .option('--root-cause <text>', 'what went wrong')
    .option('--follow-up <action>', 'add a follow-up action (repeatable; needs --owner)', collect)
    .option('--owner <owner>', 'owner of the follow-ups added')
    .option('--due <date>', 'due date of the follow-ups added (2026-07-01 or an RFC 3339 time)', parseDue)
    .option('--done <n>', 'mark follow-up number N (as listed by show) done (repeatable)', collectIndex)
    .option('--waive-recovery <reason>', 'close the recovery step without re-encrypting everything; say why')
    .option('--close', 'close the incident (needs a root cause, and recovery complete or waived)')
    .action(async (id: string, options: UpdateOptions, command: Command) => {
      if (options.followUp !== undefined && options.owner === undefined) throw new UsageError('--follow-up needs --owner');
      if ((options.owner !== undefined || options.due !== undefined) && options.followUp === undefined) {
        throw new UsageError('--owner and --due describe follow-ups added with --follow-up');
      }
      const client = await ctx.client(command);
      const patch: PatchIncidentRequest = {};
      if (options.rootCause !== undefined) patch.rootCause = options.rootCause;
      if (options.followUp !== undefined || options.done !== undefined) {
        patch.followUps = await followUps(client, id, options);
      }
      if (options.waiveRecovery !== undefined) patch.waiveRecovery = options.waiveRecovery;
      if (options.close === true) patch.state = 'closed';
      if (Object.keys(patch).length === 0)
        throw new UsageError('nothing to update: give --root-cause, --follow-up, --done, --waive-recovery or --close');
      ctx.print(command, await client.updateIncident(id, patch), renderIncident);
    });

  incident
    .command('rewrap')
    .description(
      "re-encrypt stored ciphertexts under the key's primary version: one ciphertext a line in, one a line out in the same order; progress on stderr",
    )
    .argument('<id>', 'incident id')
    .option('--in <file>', 'ciphertexts, one a line (default stdin)')
    .option('--out <file>', 'write the new ciphertexts here (default stdout)')
    .action(async (id: string, options: { in?: string; out?: string }, command: Command) => {
      const text = new TextDecoder().decode(await readInput(options.in, ctx.io));
      const ciphertexts = text
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== '');
      if (ciphertexts.length === 0) throw new UsageError('no ciphertexts given (one a line on stdin or in --in FILE)');
      const client = await ctx.client(command);
      const results: IncidentRewrapResponse['items'] = [];
      let last: IncidentRewrapResponse | null = null;
      for (let at = 0; at < ciphertexts.length; at += 1000) {
        last = await client.rewrapForIncident(
          id,
          ciphertexts.slice(at, at + 1000).map((ciphertext) => ({ ciphertext })),
        );
        results.push(...last.items);
      }
      let failed = 0;
      const lines = results.map((item, i) => {
        if ('error' in item) {
          failed++;
          ctx.note(`line ${i + 1}: ${item.error.code}: ${item.error.message.replace(/^items\[\d+\]: /, '')}`);
          return '';
        }
        return item.ciphertext;
      });
      await writeOutput(options.out, `${lines.join('\n')}\n`, ctx.io);
      const r = last?.recovery;
      if (r !== undefined) {
        ctx.note(
          `rewrapped ${results.length - failed} of ${results.length}; recovery: ${r.remaining} of ${r.ciphertextsIssued + r.dataKeysIssued} issued still to rewrap${r.complete ? ' (complete)' : ''}`,
        );
      }
      if (failed > 0) ctx.fail(ExitCode.Refused);
    });
}

/** The incident's follow-ups with those added and those marked done. */
async function followUps(client: KeywardClient, id: string, options: UpdateOptions): Promise<IncidentFollowUp[]> {
  const current: IncidentView = await client.getIncident(id);
  const list = current.followUps.map((f) => ({ ...f }));
  for (const n of options.done ?? []) {
    const item = list[n - 1];
    if (item === undefined) throw new UsageError(`--done ${n}: the incident has ${list.length} follow-ups`);
    item.done = true;
  }
  for (const action of options.followUp ?? []) {
    list.push({ action, owner: options.owner as string, done: false, ...(options.due !== undefined ? { due: options.due } : {}) });
  }
  return list;
}

async function allIncidents(client: KeywardClient, query: IncidentListQuery): Promise<{ incidents: IncidentView[]; nextCursor: null }> {
  const incidents: IncidentView[] = [];
  for await (const incident of client.iterateIncidents(query)) incidents.push(incident);
  return { incidents, nextCursor: null };
}
