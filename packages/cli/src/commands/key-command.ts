import {
  ALGORITHMS,
  type CreateKeyRequest,
  ENVIRONMENTS,
  KEY_CLASSES,
  KEY_PROTECTIONS,
  KEY_STATES,
  type KeyList,
  type KeyListQuery,
  type PatchKeyRequest,
  type RotateKeyRequest,
} from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { collectKeyValue, durationOrNone, integerBetween, noneToNull, parseDuration, parseTime } from '../option-parsers.js';
import { orPending } from '../render/render-approval.js';
import { renderKey, renderKeyList } from '../render/render-key.js';
import { UsageError } from '../usage-error.js';
import { registerKeyReportCommands } from './key-report-command.js';
import { registerKeyTransportCommands } from './key-transport-command.js';

interface CreateOptions {
  algorithm: CreateKeyRequest['algorithm'];
  owner: string;
  class?: CreateKeyRequest['class'];
  environment?: CreateKeyRequest['environment'];
  description?: string;
  tag?: Record<string, string>;
  rotationPeriod?: string;
  maxUses?: number;
  exportable?: boolean;
  protection?: CreateKeyRequest['protection'];
  deletionWindowDays?: number;
  prepublishPeriod?: string;
  originatorPeriod?: string;
}

interface UpdateOptions {
  owner?: string;
  class?: PatchKeyRequest['class'];
  environment?: PatchKeyRequest['environment'];
  description?: string;
  tag?: Record<string, string>;
  rotationPeriod?: string;
  maxUses?: number | 'none';
  deletionWindowDays?: number;
  prepublishPeriod?: string;
  originatorPeriod?: string;
  minDecryptionVersion?: number;
}

type ListOptions = Omit<KeyListQuery, 'q'> & { query?: string; all?: boolean };

/**
 * `keyward key create|list|show|update|rotate|enable|disable|deactivate-version|compromise-version|destroy-version|schedule-deletion|cancel-deletion|import-parameters|import|export`.
 *
 * @example
 * registerKeyCommand(program, ctx);
 */
export function registerKeyCommand(program: Command, ctx: CommandContext): void {
  const key = program.command('key').description('create, inspect and manage the life cycle of keys');
  const version = integerBetween(1, Number.MAX_SAFE_INTEGER);

  key
    .command('create')
    .description('create a key with version 1 active')
    .argument('<name>', 'key name: lowercase letters, digits, ".", "_", "-"')
    .addOption(new Option('--algorithm <algorithm>', 'key algorithm').choices(ALGORITHMS).makeOptionMandatory())
    .requiredOption('--owner <owner>', 'owning team or person')
    .addOption(new Option('--class <class>', 'key class (sets defaults and limits)').choices(KEY_CLASSES))
    .addOption(new Option('--environment <env>', 'environment').choices(ENVIRONMENTS))
    .option('--description <text>', 'what the key is for')
    .option('--tag <k=v>', 'tag (repeatable)', collectKeyValue)
    .option('--rotation-period <duration>', 'rotate automatically after e.g. 90d', parseDuration)
    .option('--max-uses <n>', 'rotate after this many uses of a version', version)
    .option('--exportable', 'allow the material to be exported (under policy)')
    .addOption(
      new Option(
        '--protection <protection>',
        'hsm: versions generated and used inside the PKCS#11 token (default: what the class requires)',
      ).choices(KEY_PROTECTIONS),
    )
    .option('--deletion-window-days <days>', 'days between scheduling deletion and destruction', integerBetween(7, 30))
    .option('--prepublish-period <duration>', 'publish the next version pre_active this long before it becomes primary', parseDuration)
    .option('--originator-period <duration>', 'a version stops encrypting and signing this long after activation', parseDuration)
    .action(async (name: string, options: CreateOptions, command: Command) => {
      const request: CreateKeyRequest = { name, algorithm: options.algorithm, owner: options.owner };
      if (options.class !== undefined) request.class = options.class;
      if (options.environment !== undefined) request.environment = options.environment;
      if (options.description !== undefined) request.description = options.description;
      if (options.tag !== undefined) request.tags = options.tag;
      if (options.rotationPeriod !== undefined) request.rotationPeriod = options.rotationPeriod;
      if (options.maxUses !== undefined) request.maxUsesPerVersion = options.maxUses;
      if (options.exportable === true) request.exportable = true;
      if (options.protection !== undefined) request.protection = options.protection;
      if (options.deletionWindowDays !== undefined) request.deletionWindowDays = options.deletionWindowDays;
      if (options.prepublishPeriod !== undefined) request.prepublishPeriod = options.prepublishPeriod;
      if (options.originatorPeriod !== undefined) request.originatorPeriod = options.originatorPeriod;
      const client = await ctx.client(command);
      ctx.print(command, await client.createKey(request), renderKey);
    });

  key
    .command('update')
    .description('change key metadata and life-cycle settings (durations accept "none" to clear)')
    .argument('<name>', 'key name')
    .option('--owner <owner>', 'new owner (key-admin)')
    .addOption(new Option('--class <class>', 'new class (key-admin)').choices(KEY_CLASSES))
    .addOption(new Option('--environment <env>', 'new environment (key-admin)').choices(ENVIRONMENTS))
    .option('--description <text>', 'what the key is for')
    .option('--tag <k=v>', 'replace the tags (repeatable)', collectKeyValue)
    .option('--rotation-period <duration|none>', 'rotate automatically after e.g. 90d', durationOrNone)
    .option('--max-uses <n|none>', 'rotate after this many uses of a version', (v: string) => (v === 'none' ? 'none' : version(v)))
    .option('--deletion-window-days <days>', 'days between scheduling deletion and destruction', integerBetween(7, 30))
    .option('--prepublish-period <duration|none>', 'publish the next version this long before it becomes primary', durationOrNone)
    .option('--originator-period <duration|none>', 'a version stops encrypting and signing this long after activation', durationOrNone)
    .option('--min-decryption-version <n>', 'versions below this refuse to decrypt and verify (reversible)', version)
    .action(async (name: string, options: UpdateOptions, command: Command) => {
      const request: PatchKeyRequest = {};
      if (options.owner !== undefined) request.owner = options.owner;
      if (options.class !== undefined) request.class = options.class;
      if (options.environment !== undefined) request.environment = options.environment;
      if (options.description !== undefined) request.description = options.description;
      if (options.tag !== undefined) request.tags = options.tag;
      if (options.rotationPeriod !== undefined) request.rotationPeriod = noneToNull(options.rotationPeriod);
      if (options.maxUses !== undefined) request.maxUsesPerVersion = noneToNull(options.maxUses);
      if (options.deletionWindowDays !== undefined) request.deletionWindowDays = options.deletionWindowDays;
      if (options.prepublishPeriod !== undefined) request.prepublishPeriod = noneToNull(options.prepublishPeriod);
      if (options.originatorPeriod !== undefined) request.originatorPeriod = noneToNull(options.originatorPeriod);
      if (options.minDecryptionVersion !== undefined) request.minDecryptionVersion = options.minDecryptionVersion;
      if (Object.keys(request).length === 0) throw new UsageError('key update: give at least one setting to change');
      const client = await ctx.client(command);
      ctx.print(command, await client.patchKey(name, request), orPending(renderKey));
    });

  key
    .command('list')
    .description('list keys, filtered (one page unless --all)')
    .option('--owner <owner>', 'only keys of this owner')
    .addOption(new Option('--class <class>', 'only keys of this class').choices(KEY_CLASSES))
    .addOption(new Option('--environment <env>', 'only keys of this environment').choices(ENVIRONMENTS))
    .addOption(new Option('--state <state>', 'only keys in this state').choices(KEY_STATES))
    .addOption(new Option('--algorithm <algorithm>', 'only keys of this algorithm').choices(ALGORITHMS))
    .option('--tag <k=v>', 'only keys with this tag', tagFilter)
    .option('--query <text>', 'search names and descriptions')
    .option('--limit <n>', 'page size (1-1000)', integerBetween(1, 1000))
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'fetch every page')
    .action(async (options: ListOptions, command: Command) => {
      const { query: text, all, ...filters } = options;
      const query: KeyListQuery = text === undefined ? filters : { ...filters, q: text };
      const client = await ctx.client(command);
      let list: KeyList;
      if (all === true) {
        const keys = [];
        for await (const found of client.iterateKeys(query)) keys.push(found);
        list = { keys, nextCursor: null };
      } else {
        list = await client.listKeys(query);
      }
      ctx.print(command, list, renderKeyList);
      if (list.nextCursor !== null && ctx.options(command).json !== true) ctx.note(`more keys: --cursor ${list.nextCursor} (or --all)`);
    });

  key
    .command('show')
    .description('show a key and its versions')
    .argument('<name>', 'key name')
    .action(async (name: string, _options: object, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.getKey(name), renderKey);
    });

  key
    .command('rotate')
    .description('add a new primary version; older versions keep decrypting and verifying')
    .argument('<name>', 'key name')
    .option('--reason <text>', 'why (recorded in the audit log)')
    .option('--activation-date <time>', 'create the version pre_active; it becomes primary at this RFC 3339 time', parseTime)
    .action(async (name: string, options: RotateKeyRequest, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.rotateKey(name, options), renderKey);
    });

  key
    .command('destroy-version')
    .description("erase a deactivated, non-primary version's material for good (its metadata stays)")
    .argument('<name>', 'key name')
    .argument('<version>', 'version number', version)
    .action(async (name: string, number: number, _options: object, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.destroyVersion(name, number), orPending(renderKey));
    });

  for (const [verb, description] of [
    ['enable', 'enable a disabled key'],
    ['disable', 'disable a key: it refuses every cryptographic operation'],
    ['cancel-deletion', 'cancel a scheduled deletion (the key returns disabled)'],
  ] as const) {
    key
      .command(verb)
      .description(description)
      .argument('<name>', 'key name')
      .action(async (name: string, _options: object, command: Command) => {
        const client = await ctx.client(command);
        const answer =
          verb === 'enable'
            ? await client.enableKey(name)
            : verb === 'disable'
              ? await client.disableKey(name)
              : await client.cancelDeletion(name);
        ctx.print(command, answer, orPending(renderKey));
      });
  }

  key
    .command('review')
    .description("record a review of the key (its owner or a key administrator); the next one falls due a class's review interval later")
    .argument('<name>', 'key name')
    .option('--note <text>', 'what the review found or decided (kept in the audit record)')
    .action(async (name: string, options: { note?: string }, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.reviewKey(name, options.note === undefined ? {} : { note: options.note }), renderKey);
    });

  key
    .command('deactivate-version')
    .description('deactivate a non-primary version: it may decrypt and verify, never encrypt or sign')
    .argument('<name>', 'key name')
    .argument('<version>', 'version number', version)
    .action(async (name: string, number: number, _options: object, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.deactivateVersion(name, number), renderKey);
    });

  key
    .command('compromise-version')
    .description('declare a version compromised (a primary version rotates at once)')
    .argument('<name>', 'key name')
    .argument('<version>', 'version number', version)
    .requiredOption('--reason <text>', 'what happened (recorded in the audit log)')
    .action(async (name: string, number: number, options: { reason: string }, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.compromiseVersion(name, number, { reason: options.reason }), renderKey);
    });

  key
    .command('schedule-deletion')
    .description('schedule the key for destruction (pending_deletion until then)')
    .argument('<name>', 'key name')
    .option('--days <days>', 'days until destruction (7-30; the key’s window by default)', integerBetween(7, 30))
    .action(async (name: string, options: { days?: number }, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(
        command,
        await client.scheduleDeletion(name, options.days === undefined ? {} : { days: options.days }),
        orPending(renderKey),
      );
    });

  registerKeyReportCommands(key, ctx);
  registerKeyTransportCommands(key, ctx);
}

/** `--tag k=v` of `key list` as the contract's `tag=k:v`. */
function tagFilter(value: string): string {
  const [entry] = Object.entries(collectKeyValue(value));
  return entry === undefined ? value : `${entry[0]}:${entry[1]}`;
}
