import type { KeywardClient } from '@keyward/client';
import { EVENT_TYPES, type EventType, type KeyEventView, type WebhookDeliveryView, type WebhookView } from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';
import { collectChoice, integerBetween } from '../option-parsers.js';
import { printable } from '../printable.js';
import { readInput, readStdin } from '../read-input.js';
import { UsageError } from '../usage-error.js';

/**
 * `keyward events tail` and `keyward webhook create|list|remove|deliveries`.
 *
 * @example
 * registerEventCommands(program, ctx);
 */
export function registerEventCommands(program: Command, ctx: CommandContext): void {
  const events = program.command('events').description('key events (created, rotated, compromised, deleted, …)');

  events
    .command('tail')
    .description('print key events as they happen (one line each; --json: one JSON object per line) until interrupted')
    .option('--from <id>', 'start after this event id (resume); default: only new events', integerBetween(0, Number.MAX_SAFE_INTEGER))
    .addOption(new Option('--type <type>', `only this type (repeatable): ${EVENT_TYPES.join(', ')}`).argParser(collectChoice(EVENT_TYPES)))
    .action(async (options: { from?: number; type?: EventType[] }, command: Command) => {
      const client = await ctx.client(command);
      const json = ctx.options(command).json === true;
      const stream = client.events({
        ...(options.from !== undefined ? { from: options.from } : {}),
        ...(options.type !== undefined ? { types: options.type } : {}),
      });
      for await (const event of stream) ctx.io.stdout.write(json ? `${JSON.stringify(event)}\n` : renderEventLine(event));
    });

  const webhook = program.command('webhook').description('deliver key events to an HTTP endpoint, signed with a shared secret');

  webhook
    .command('create')
    .description('register a webhook; the signing secret is read from --secret-file, a hidden prompt, or the first line of stdin')
    .requiredOption('--url <url>', 'http or https URL that receives POSTed events')
    .addOption(
      new Option('--event <type>', `event type to deliver (repeatable): ${EVENT_TYPES.join(', ')}`)
        .argParser(collectChoice(EVENT_TYPES))
        .makeOptionMandatory(),
    )
    .option('--secret-file <file>', 'read the signing secret (16–256 characters) from FILE; never pass it as an argument')
    .action(async (options: { url: string; event: EventType[]; secretFile?: string }, command: Command) => {
      const secret = await readWebhookSecret(ctx, options.secretFile);
      const client = await ctx.client(command);
      const created = await client.createWebhook({ url: options.url, events: options.event, secret });
      ctx.print(command, created, renderWebhook);
    });

  webhook
    .command('list')
    .description('list webhooks with their delivery state')
    .action(async (_options: object, command: Command) => {
      const webhooks = await allWebhooks(await ctx.client(command));
      ctx.print(command, { webhooks }, (value) => renderWebhookList(value.webhooks));
    });

  webhook
    .command('remove')
    .description('remove a webhook and its delivery log')
    .argument('<id>', 'webhook id, as printed by webhook create or webhook list')
    .action(async (id: string, _options: object, command: Command) => {
      await (await ctx.client(command)).removeWebhook(id);
      ctx.print(command, { id, removed: true }, () => `removed webhook ${id}\n`);
    });

  webhook
    .command('deliveries')
    .description('delivery attempts of a webhook, newest first')
    .argument('<id>', 'webhook id')
    .option('--limit <n>', 'at most this many attempts (default 20)', integerBetween(1, 1000))
    .action(async (id: string, options: { limit?: number }, command: Command) => {
      const page = await (await ctx.client(command)).webhookDeliveries(id, { limit: options.limit ?? 20 });
      ctx.print(command, page, (value) => renderDeliveries(value.deliveries));
    });
}

/** The signing secret: from a file, a hidden prompt, or the first non-empty line of stdin. Never from argv. */
async function readWebhookSecret(ctx: CommandContext, file: string | undefined): Promise<string> {
  let text: string;
  if (file !== undefined) text = new TextDecoder().decode(await readInput(file, ctx.io));
  else if (ctx.io.stdinIsTTY) text = await ctx.io.readSecret('Webhook signing secret (input hidden): ');
  else text = new TextDecoder().decode(await readStdin(ctx.io));
  const secret = text
    .split(/\r?\n/)
    .find((line) => line.trim() !== '')
    ?.trim();
  if (secret === undefined) throw new UsageError('no webhook secret given (use --secret-file, the prompt, or stdin)');
  return secret;
}

async function allWebhooks(client: KeywardClient): Promise<WebhookView[]> {
  const webhooks: WebhookView[] = [];
  let cursor: string | null = null;
  do {
    const page = await client.listWebhooks(cursor === null ? {} : { cursor });
    webhooks.push(...page.webhooks);
    cursor = page.nextCursor ?? null;
  } while (cursor !== null);
  return webhooks;
}

function renderEventLine(e: KeyEventView): string {
  const version = e.version === null ? '-' : `v${e.version}`;
  const subject = e.key === null ? '-' : `${e.namespace ?? 'default'}/${e.key}`;
  return `${printable(`${e.id}  ${e.time}  ${e.type}  ${subject}  ${version}  ${JSON.stringify(e.data)}`)}\n`;
}

function renderWebhook(w: WebhookView): string {
  return formatDetails([
    ['Webhook ID', w.id],
    ['URL', w.url],
    ['Events', w.events.join(',')],
    ['State', w.state],
    ['Failure', w.failureReason ?? '-'],
    ['Cursor', String(w.cursor)],
    ['Last delivery', w.lastDeliveryAt ?? '-'],
    ['Next attempt', w.nextAttemptAt ?? '-'],
    ['Created', w.createdAt],
    ['Created by', w.createdBy],
  ]);
}

function renderWebhookList(webhooks: readonly WebhookView[]): string {
  if (webhooks.length === 0) return 'no webhooks\n';
  return formatTable(
    ['ID', 'URL', 'EVENTS', 'STATE', 'LAST DELIVERY'],
    webhooks.map((w) => [w.id, w.url, w.events.join(','), w.state, w.lastDeliveryAt ?? '-']),
  );
}

function renderDeliveries(deliveries: readonly WebhookDeliveryView[]): string {
  if (deliveries.length === 0) return 'no deliveries\n';
  return formatTable(
    ['TIME', 'EVENT', 'TYPE', 'ATTEMPT', 'RESULT', 'MS', 'NEXT RETRY'],
    deliveries.map((d) => [
      d.time,
      String(d.eventId),
      d.eventType,
      String(d.attempt),
      d.status !== null ? `HTTP ${d.status}` : (d.error ?? 'error'),
      String(d.durationMs),
      d.nextRetryAt ?? '-',
    ]),
  );
}
