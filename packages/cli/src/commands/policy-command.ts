import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
// Types only here: the engine (a 4 MB WebAssembly module) is loaded by the two commands that use it, not by every CLI run.
import type { AuthorizationRequestOf, CaseResult, CedarPolicies, Explanation } from '@keyward/server/cedar';
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';
import { printable } from '../printable.js';
import { UsageError } from '../usage-error.js';

const FIXTURE = /\.(ya?ml|json)$/;

/** The shipped policies plus every `*.cedar` file of `dir`; a broken policy is a usage error naming its file and line. */
const engine = () => import('@keyward/server/cedar');

async function loadPolicies(dir: string | undefined): Promise<CedarPolicies> {
  const { CedarPolicyError, compilePolicies, readPolicyDirectory } = await engine();
  try {
    if (dir === undefined) return compilePolicies([]);
    const sources = await readPolicyDirectory(dir);
    if (sources === null) throw new UsageError(`${dir}: no such directory`);
    return compilePolicies(sources);
  } catch (error) {
    if (error instanceof CedarPolicyError) throw new UsageError(`policies in ${dir ?? '(shipped)'}: ${error.message}`);
    throw error;
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${path}: cannot read (${String((error as { code?: unknown }).code ?? 'error')})`);
  }
}

const decided = (e: Explanation): string =>
  `${e.allowed ? 'allow' : 'deny'}${e.policies.length > 0 ? ` by ${e.policies.join(', ')}` : ' (no policy permits)'}`;

function renderResults(results: readonly CaseResult[]): string {
  const lines = results.map(
    (r) =>
      `${r.passed ? 'PASS' : 'FAIL'}  ${printable(r.file)}: ${printable(r.name)}: ${r.passed ? decided(r.explanation) : `expected ${r.expected}, got ${decided(r.explanation)}`}` +
      (r.explanation.errors.length > 0 ? `\n      errors: ${printable(r.explanation.errors.join('; '))}` : ''),
  );
  const failed = results.filter((r) => !r.passed).length;
  return `${lines.join('\n')}\n${results.length - failed} passed, ${failed} failed\n`;
}

function renderExplanation(e: Explanation): string {
  const lines = [`Decision: ${e.allowed ? 'allow' : 'deny'}`, `Reason:   ${printable(e.reason)}`];
  lines.push(`Decided by: ${e.policies.length === 0 ? '-' : e.policies.join(', ')}`);
  for (const error of e.errors) lines.push(`Skipped (error): ${printable(error)}`);
  return `${lines.join('\n')}\n`;
}

interface ExplainOptions {
  case?: string;
  policies?: string;
  principal?: string;
  kind?: string;
  roles?: string;
  environments?: string;
  teams?: string;
  action?: string;
  key?: string;
  owner?: string;
  class?: string;
  keyEnvironment?: string;
  algorithm?: string;
  state?: string;
  tag?: string[];
  grant?: string[];
  environment?: string;
  time?: string;
}

const list = (value: string | undefined): string[] | undefined =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);

/** A case from the flags of `policy explain`, in the fixture format. */
function caseFromFlags(o: ExplainOptions): Record<string, unknown> {
  const principal: Record<string, unknown> = { id: o.principal };
  if (o.kind !== undefined) principal.kind = o.kind;
  if (o.roles !== undefined) principal.roles = list(o.roles);
  if (o.environments !== undefined) principal.environments = list(o.environments);
  if (o.teams !== undefined) principal.teams = list(o.teams);
  const c: Record<string, unknown> = { principal, action: o.action };
  if (o.key !== undefined) {
    const key: Record<string, unknown> = { name: o.key };
    if (o.owner !== undefined) key.owner = o.owner;
    if (o.class !== undefined) key.class = o.class;
    if (o.keyEnvironment !== undefined) key.environment = o.keyEnvironment;
    if (o.algorithm !== undefined) key.algorithm = o.algorithm;
    if (o.state !== undefined) key.state = o.state;
    if (o.tag !== undefined) {
      key.tags = Object.fromEntries(
        o.tag.map((t) => {
          const at = t.indexOf('=');
          if (at <= 0) throw new UsageError(`--tag: expected NAME=VALUE, got '${t}'`);
          return [t.slice(0, at), t.slice(at + 1)];
        }),
      );
    }
    c.key = key;
    if (o.grant !== undefined) {
      c.grants = o.grant.map((g) => {
        const [who, ops] = g.split(':');
        if (!who || ops === undefined) throw new UsageError(`--grant: expected PRINCIPAL:OP[,OP…], got '${g}'`);
        return { principal: who, operations: list(ops) };
      });
    }
  } else if (o.grant !== undefined) throw new UsageError('--grant needs --key');
  if (o.environment !== undefined) c.environment = o.environment;
  if (o.time !== undefined) c.time = o.time;
  return c;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * `keyward policy test DIR` and `keyward policy explain`: Cedar policies
 * checked offline, with no server (docs/governance.md, "Cedar policies").
 *
 * @example
 * registerPolicyCommands(program.command('policy'), ctx);
 */
export function registerPolicyCommands(policy: Command, ctx: CommandContext): void {
  policy
    .command('test')
    .description('run the fixture files (*.yaml, *.yml, *.json) of DIR against the shipped policies plus the *.cedar files of DIR')
    .argument('<dir>', 'directory of fixture files (and, without --policies, of the policies under test)')
    .option('--policies <dir>', 'take the *.cedar files from this directory instead of DIR')
    .action(async (dir: string, options: { policies?: string }, command: Command) => {
      const { FixtureError, parseFixture, runFixture } = await engine();
      const policies = await loadPolicies(options.policies ?? dir);
      let names: string[];
      try {
        names = (await readdir(dir)).filter((n) => FIXTURE.test(n)).sort();
      } catch (error) {
        throw new UsageError(`${dir}: cannot read (${String((error as { code?: unknown }).code ?? 'error')})`);
      }
      if (names.length === 0) throw new UsageError(`${dir}: no fixture files (*.yaml, *.yml, *.json)`);
      const results: CaseResult[] = [];
      for (const name of names) {
        try {
          results.push(...runFixture(policies, name, parseFixture(name, await readText(join(dir, name)))));
        } catch (error) {
          if (error instanceof FixtureError) throw new UsageError(error.message);
          throw error;
        }
      }
      if (results.length === 0) throw new UsageError(`${dir}: the fixture files hold no cases`);
      if (results.some((r) => !r.passed)) ctx.fail(ExitCode.Refused);
      ctx.print(command, results, renderResults);
    });

  policy
    .command('explain')
    .description('decide one request offline and show which policies decided it (and any that failed to evaluate)')
    .option('--case <file>', 'the request as one fixture case (JSON or YAML); flags are not combined with it')
    .option('--policies <dir>', 'add the *.cedar files of this directory to the shipped policies')
    .option('--principal <id>', 'principal id')
    .option('--kind <kind>', 'principal kind: user, service or team (default user)')
    .option('--roles <list>', 'comma-separated roles (default none)')
    .option('--environments <list>', 'comma-separated environments of the principal (default all four)')
    .option('--teams <list>', 'comma-separated teams of the principal')
    .option('--action <action>', 'the action, e.g. crypto.decrypt or key.create')
    .option('--key <name>', 'the key acted on (omit for requests about no key)')
    .option('--owner <owner>', "the key's owner")
    .option('--class <class>', "the key's class (default standard)")
    .option('--key-environment <env>', "the key's environment (default prod)")
    .option('--algorithm <name>', "the key's algorithm (default aes-256-gcm)")
    .option('--state <state>', "the key's state (default enabled)")
    .option('--tag <name=value>', 'a key tag (repeatable)', collect)
    .option('--grant <principal:ops>', 'a grant on the key, e.g. svc-a:encrypt,decrypt (repeatable)', collect)
    .option('--environment <env>', 'the environment acted in, for requests about no key')
    .option('--time <rfc3339>', 'when the request is made (default a Tuesday at noon UTC)')
    .action(async (options: ExplainOptions, command: Command) => {
      const { caseRequest, explainRequest, FixtureError, parseCase } = await engine();
      const policies = await loadPolicies(options.policies);
      let request: AuthorizationRequestOf;
      try {
        if (options.case !== undefined) {
          if (options.principal !== undefined || options.action !== undefined)
            throw new UsageError('give --case FILE or the request flags, not both');
          request = parseCase(options.case, await readText(options.case));
        } else {
          if (options.principal === undefined || options.action === undefined)
            throw new UsageError('give --principal and --action (or --case FILE)');
          request = caseRequest('request', caseFromFlags(options));
        }
      } catch (error) {
        if (error instanceof FixtureError) throw new UsageError(error.message);
        throw error;
      }
      ctx.print(command, explainRequest(policies, request), renderExplanation);
    });
}
