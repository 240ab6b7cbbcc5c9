import type { KeywardClient } from '@keyward/client';
import { ENVIRONMENTS, KEY_CLASSES, REPORT_FORMATS, type ReportFormat, type ReportQuery } from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { renderCompliance, renderInventory } from '../render/render-report.js';
import { writeOutput } from '../write-output.js';

interface ReportOptions extends ReportQuery {
  format?: ReportFormat;
  out?: string;
}

type Kind = 'inventory' | 'compliance';

const RENDER: Readonly<Record<Kind, (client: KeywardClient, query: ReportQuery) => Promise<string>>> = {
  inventory: async (client, query) => renderInventory(await client.inventoryReport(query)),
  compliance: async (client, query) => renderCompliance(await client.complianceReport(query)),
};

/**
 * `keyward report inventory|compliance`: the namespace's key inventory and
 * compliance findings (docs/governance.md, "Reports"). Without `--format`:
 * a table, or the JSON answer under `--json`; with it, the server's CSV or
 * Markdown as is.
 *
 * @example
 * registerReportCommand(program, ctx);
 */
export function registerReportCommand(program: Command, ctx: CommandContext): void {
  const report = program.command('report').description('inventory and compliance reports of the namespace');
  const describe: Record<Kind, string> = {
    inventory: 'every key in your environments: owner, class, age, next rotation, last use, findings',
    compliance: "keys with findings, counts per kind of finding, and each owner's open findings",
  };
  for (const kind of ['inventory', 'compliance'] as const) {
    report
      .command(kind)
      .description(describe[kind])
      .addOption(new Option('--format <format>', 'json, csv (RFC 4180) or markdown, as the server renders it').choices(REPORT_FORMATS))
      .option('--out <file>', 'write to FILE (mode 0600) instead of stdout')
      .addOption(new Option('--environment <env>', 'only keys of this environment').choices(ENVIRONMENTS))
      .option('--owner <owner>', 'only keys of this owner')
      .addOption(new Option('--class <class>', 'only keys of this class').choices(KEY_CLASSES))
      .action(async (options: ReportOptions, command: Command) => {
        const client = await ctx.client(command);
        const query: ReportQuery = {};
        if (options.environment !== undefined) query.environment = options.environment;
        if (options.owner !== undefined) query.owner = options.owner;
        if (options.class !== undefined) query.class = options.class;
        const format = options.format ?? (ctx.options(command).json === true ? 'json' : null);
        let text: string;
        if (format === null) text = await RENDER[kind](client, query);
        else if (format === 'json') {
          const answer = kind === 'inventory' ? await client.inventoryReport(query) : await client.complianceReport(query);
          text = `${JSON.stringify(answer, null, 2)}\n`;
        } else text = await client.reportText(kind, format, query);
        await writeOutput(options.out, text, ctx.io);
      });
  }
}
