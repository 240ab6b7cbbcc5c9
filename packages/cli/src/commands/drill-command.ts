import { type Command, InvalidArgumentError } from 'commander';
import type { CommandContext } from '../command-context.js';
import { type DrillReport, runCompromiseDrill } from '../drill/compromise-drill.js';
import { ExitCode } from '../exit-code.js';
import { clientOptions } from '../global-options.js';
import { integerBetween } from '../option-parsers.js';
import { printable } from '../printable.js';

interface DrillCommandOptions {
  drillNamespace: string;
  listen: { host: string; port: number };
  webhookUrl?: string;
  webhookTimeout: number;
}

const NAMESPACE = /^[a-z0-9][a-z0-9._-]{0,127}$/;

function parseNamespace(value: string): string {
  if (!NAMESPACE.test(value)) throw new InvalidArgumentError(`expected a namespace matching ${NAMESPACE.source}`);
  return value;
}

/** `HOST:PORT`, `[v6]:PORT` or `PORT` (on 127.0.0.1); port 0 picks a free one. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]+)):(\d{1,5})$|^(\d{1,5})$/.exec(value);
  const port = Number(match?.[3] ?? match?.[4]);
  if (match === null || !Number.isInteger(port) || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:0');
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port };
}

/**
 * `keyward drill compromise`: rehearses the key-compromise playbook on a
 * throwaway key, checks every step, prints time to contain and time to
 * re-key, and cleans up (docs/incident-response.md, "Drills"). Exits 3 when
 * a check fails.
 *
 * @example
 * registerDrillCommand(program, ctx);
 */
export function registerDrillCommand(program: Command, ctx: CommandContext): void {
  const drill = program.command('drill').description('rehearse incident response against the real server, then clean up');

  drill
    .command('compromise')
    .description(
      'create a throwaway key and principal in a drill namespace, generate traffic, declare a compromise and check containment, rotation, alert delivery, blast radius and recovery; print the times; clean up',
    )
    .option('--drill-namespace <namespace>', 'namespace of the throwaway key', parseNamespace, 'keyward-drill')
    .option('--listen <host:port>', "where the drill's webhook receiver listens", parseListen, { host: '127.0.0.1', port: 0 })
    .option('--webhook-url <url>', 'URL the server must POST to, when it does not reach the receiver at its listening address')
    .option('--webhook-timeout <seconds>', 'how long to wait for the signed deliveries', integerBetween(1, 600), 20)
    .action(async (options: DrillCommandOptions, command: Command) => {
      const json = ctx.options(command).json === true;
      const say = (text: string) => (json ? ctx.io.stderr : ctx.io.stdout).write(`${printable(text)}\n`);
      say(`compromise drill in namespace ${options.drillNamespace}`);
      const report = await runCompromiseDrill(
        {
          client: await clientOptions(ctx.options(command), ctx.io),
          namespace: options.drillNamespace,
          listen: options.listen,
          webhookUrl: options.webhookUrl ?? null,
          webhookTimeoutMs: options.webhookTimeout * 1000,
        },
        {
          progress: (text) => say(`  setup     ${text}`),
          step: (step) => say(`  step      ${step.name.padEnd(13)} ${step.state.padEnd(9)} ${step.outcome}`),
          check: (check) => say(`${check.pass ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`),
          cleanup: (text) => say(`  cleanup   ${text}`),
        },
      );
      if (json) ctx.io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else ctx.io.stdout.write(summary(report));
      if (!report.passed) ctx.fail(ExitCode.Refused);
    });
}

function summary(r: DrillReport): string {
  const ms = (value: number | null) => (value === null ? 'unknown' : `${value} ms`);
  const passed = r.checks.filter((c) => c.pass).length;
  return [
    '',
    `time to contain: ${ms(r.timeToContainMs)} (declared → every node dropped version 1; the drill saw it after ${ms(r.observed.containMs)})`,
    `time to re-key:  ${ms(r.timeToRekeyMs)} (declared → version 2 primary; the drill saw it after ${ms(r.observed.rekeyMs)})`,
    `alert delivered: ${ms(r.observed.alertMs)} after the declaration`,
    r.passed
      ? `drill PASSED: ${passed} of ${r.checks.length} checks`
      : `drill FAILED: ${r.checks.length - passed} of ${r.checks.length} checks failed`,
    '',
  ].join('\n');
}
