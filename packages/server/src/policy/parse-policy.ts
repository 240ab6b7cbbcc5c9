import { KEY_CLASSES, type KeyClass, KeywardError } from '@keyward/wire';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { parseRecipients } from '../backup/recipients.js';
import { parseDuration } from '../keys/duration.js';
import { BACKUPS_DEFAULTS, type BackupsPolicy, DEFAULT_POLICY, deepFreeze, OIDC_DEFAULTS, type OidcPolicy, type Policy } from './policy.js';
import { POLICY_SCHEMA } from './policy-schema.js';

/** The largest policy file accepted (a policy is a page of YAML, not a data set). */
export const MAX_POLICY_BYTES = 1024 * 1024;

/** Why a policy file was refused: one message naming the field (and the line) at fault. */
export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

// Union types (`[string, null]`): in `classes:`, null is a value that turns a default or a limit off.
const ajv = new Ajv({
  allErrors: false,
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
  strict: true,
  allowUnionTypes: true,
});
const validate = ajv.compile(POLICY_SCHEMA);

type Path = Array<string | number>;

/** `['alerts', 'volume', 'factor']` → `alerts.volume.factor`; indexes as `[2]`. */
const dotted = (path: Path): string =>
  path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out === '' ? part : `${out}.${part}`), '');

/**
 * Parses and validates a policy file. Absent keys take their documented
 * defaults; anything wrong refuses the whole file with a {@link PolicyError}
 * such as `alerts.volume.factor: must be >= 1 (line 12)`.
 *
 * @example
 * const policy = parsePolicy('alerts:\n  volume:\n    factor: 5\n');
 */
export function parsePolicy(text: string): Policy {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) throw new PolicyError(`the file is larger than ${MAX_POLICY_BYTES} bytes`);
  const lineCounter = new LineCounter();
  // YAML 1.2 core schema: `yes`/`on` are strings, not booleans; duplicate keys and unknown tags are errors.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, strict: true, prettyErrors: true, version: '1.2' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) throw new PolicyError(`YAML: ${(problem.message.split('\n')[0] ?? '').trim()}`);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new PolicyError(`YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) data = {};

  const where = (path: Path, key?: string): string => {
    const offset = locate(doc.contents, path, key);
    return offset === null ? '' : ` (line ${lineCounter.linePos(offset).line})`;
  };
  const odd = nonJson(data, []);
  if (odd !== null)
    throw new PolicyError(
      `${odd.length === 0 ? 'the file' : dotted(odd)}: must be a plain YAML value (a mapping, list, string, number, boolean or null)${where(odd)}`,
    );
  if (!validate(data)) {
    const issue = validate.errors?.[0] as ErrorObject;
    const path = issue.instancePath
      .split('/')
      .slice(1)
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~')));
    throw new PolicyError(describe(issue, path) + where(path, extraKey(issue)));
  }
  const policy = merge(DEFAULT_POLICY, data) as Policy;
  if (policy.oidc !== null) policy.oidc = oidcWithDefaults(policy.oidc);
  if (policy.backups !== null) policy.backups = { ...BACKUPS_DEFAULTS, ...policy.backups };
  checkSemantics(policy, where);
  checkBackups(policy.backups, where);
  checkOidc(policy.oidc, where);
  checkClasses(policy, data, where);
  return deepFreeze(policy);
}

function extraKey(issue: ErrorObject): string | undefined {
  if (issue.keyword === 'additionalProperties') return String(issue.params.additionalProperty);
  return undefined;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'a mapping',
  array: 'a list',
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean (true or false)',
  null: 'null',
};

/** `string` → `a string`; a union such as `[string, null]` → `a string or null`. */
const typeNames = (types: unknown): string =>
  (Array.isArray(types) ? types : String(types).split(',')).map((type) => TYPE_NAMES[String(type)] ?? `a ${type}`).join(' or ');

/** What a setting with a pattern must look like, by the setting's name. */
const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  hours: 'must be HH:MM-HH:MM',
  issuer: 'must be an http(s) URL without a query or fragment',
  jwksUri: 'must be an http(s) URL',
  clockTolerance: 'must be seconds or minutes such as 30s or 2m',
  principalPrefix: 'must be lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit (or empty)',
  principalClaim: 'must be a claim name (letters, digits, _ : . / -)',
  groupsClaim: 'must be a claim name (letters, digits, _ : . / -)',
  identityFile: 'must be an absolute path',
};

function describe(issue: ErrorObject, path: Path): string {
  const field = (p: Path) => (p.length === 0 ? 'the file' : dotted(p));
  switch (issue.keyword) {
    case 'additionalProperties':
      return `${field([...path, String(issue.params.additionalProperty)])}: is not a known setting`;
    case 'required':
      return `${field([...path, String(issue.params.missingProperty)])}: is required`;
    case 'enum':
      return `${field(path)}: must be one of ${(issue.params.allowedValues as unknown[]).join(', ')}`;
    case 'pattern':
      if (path[0] === 'separationOfDuties') return `${field(path)}: must be a principal id (lowercase letters, digits, '.', '_', '-')`;
      return `${field(path)}: ${PATTERN_MESSAGES[String(path.at(-1))] ?? (path[0] === 'oidc' ? `must match ${issue.params.pattern}` : 'must be a duration such as 30s, 5m, 1h or 1d')}`;
    case 'type':
      return `${field(path)}: must be ${typeNames(issue.params.type)}`;
    case 'uniqueItems':
      return `${field(path)}: lists an item twice`;
    case 'minItems':
      return `${field(path)}: must list at least ${issue.params.limit} item${issue.params.limit === 1 ? '' : 's'}`;
    default:
      return `${field(path)}: ${issue.message ?? 'is invalid'}`;
  }
}

/** Rules a schema cannot say: a real time zone, a non-empty span of hours, one rule per class. */
function checkSemantics(policy: Policy, where: (path: Path, key?: string) => string): void {
  const offHours = policy.alerts.offHours;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: offHours.timezone });
  } catch {
    const path = ['alerts', 'offHours', 'timezone'];
    throw new PolicyError(
      `${dotted(path)}: unknown time zone '${offHours.timezone}' (use an IANA name such as Europe/Berlin, or UTC)${where(path)}`,
    );
  }
  const span = parseHours(offHours.hours);
  if (span === null) {
    const path = ['alerts', 'offHours', 'hours'];
    throw new PolicyError(`${dotted(path)}: must be HH:MM-HH:MM with different start and end, ending at 24:00 at the latest${where(path)}`);
  }
  const seen = new Set<string>();
  policy.incidents.autoContain.forEach((rule, i) => {
    if (seen.has(rule.class)) {
      const path = ['incidents', 'autoContain', i, 'class'];
      throw new PolicyError(`${dotted(path)}: class '${rule.class}' already has a rule; list all its alert types in one${where(path)}`);
    }
    seen.add(rule.class);
  });
}

const MIN_BACKUP_INTERVAL_MS = 3_600_000;

/** Scheduled backups run at most hourly, to recipients a manual backup would accept. */
function checkBackups(backups: BackupsPolicy | null, where: (path: Path, key?: string) => string): void {
  if (backups === null) return;
  if (parseDuration('backups.interval', backups.interval) < MIN_BACKUP_INTERVAL_MS) {
    throw new PolicyError(`backups.interval: must be at least 1h${where(['backups', 'interval'])}`);
  }
  try {
    parseRecipients(backups.recipients);
  } catch (error) {
    if (!(error instanceof KeywardError)) throw error;
    throw new PolicyError(`backups.${error.message}${where(['backups', 'recipients'])}`);
  }
}

/** An `oidc:` section as given, with its optional settings defaulted and its audience as a list. */
function oidcWithDefaults(given: OidcPolicy): OidcPolicy {
  const audience = given.audience as string[] | string;
  const groups = Object.fromEntries(
    Object.entries(given.groups).map(([name, g]) => [name, { roles: g.roles, environments: g.environments ?? null, teams: g.teams ?? [] }]),
  );
  return { ...OIDC_DEFAULTS, ...given, audience: typeof audience === 'string' ? [audience] : audience, groups };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const MAX_CLOCK_TOLERANCE_MS = 5 * 60_000;

/** `30s` or `2m` (zero allowed) → milliseconds; the schema has checked the form. */
export function clockToleranceMs(text: string): number {
  return Number(text.slice(0, -1)) * (text.endsWith('m') ? 60_000 : 1000);
}

/**
 * The issuer and its keys must be reached over https (plain http would let
 * anyone on the path swap the keys and mint admin tokens), except on loopback;
 * clock tolerance stays within five minutes.
 */
function checkOidc(oidc: OidcPolicy | null, where: (path: Path, key?: string) => string): void {
  if (oidc === null) return;
  for (const field of ['issuer', 'jwksUri'] as const) {
    const value = oidc[field];
    if (value === null) continue;
    const path = ['oidc', field];
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new PolicyError(`${dotted(path)}: is not a valid URL${where(path)}`);
    }
    if (url.protocol !== 'https:' && !LOOPBACK_HOSTS.has(url.hostname)) {
      throw new PolicyError(`${dotted(path)}: must use https (plain http only on loopback)${where(path)}`);
    }
    if (url.username !== '' || url.password !== '') throw new PolicyError(`${dotted(path)}: must not contain credentials${where(path)}`);
  }
  if (clockToleranceMs(oidc.clockTolerance) > MAX_CLOCK_TOLERANCE_MS) {
    const path = ['oidc', 'clockTolerance'];
    throw new PolicyError(`${dotted(path)}: must be at most 5m${where(path)}`);
  }
}

/**
 * Each class's defaults must meet its own limits, or every key created with
 * them would be refused. The error blames the setting the file gives (the
 * other one is a documented default the operator may not have in mind).
 */
function checkClasses(policy: Policy, given: unknown, where: (path: Path, key?: string) => string): void {
  for (const keyClass of KEY_CLASSES) {
    const problem = rotationProblem(policy, keyClass, given) ?? deletionWindowProblem(policy, keyClass, given);
    if (problem !== null) {
      const path = ['classes', keyClass, problem.field];
      throw new PolicyError(`${dotted(path)}: ${problem.message}${where(path)}`);
    }
  }
}

type ClassProblem = { field: string; message: string } | null;

/** A default rotationPeriod that is off, or longer than maxRotationPeriod. */
function rotationProblem(policy: Policy, keyClass: KeyClass, given: unknown): ClassProblem {
  const { rotationPeriod, maxRotationPeriod } = policy.classes[keyClass];
  if (maxRotationPeriod === null) return null;
  const max = parseDuration('maxRotationPeriod', maxRotationPeriod);
  if (rotationPeriod !== null && parseDuration('rotationPeriod', rotationPeriod) <= max) return null;
  const limit = `classes.${keyClass}.maxRotationPeriod (${maxRotationPeriod})`;
  if (inFile(given, ['classes', keyClass, 'rotationPeriod'])) {
    return {
      field: 'rotationPeriod',
      message: rotationPeriod === null ? `cannot be null (rotation off) while ${limit} is set` : `must be at most ${limit}`,
    };
  }
  const current = rotationPeriod === null ? 'is null (rotation off)' : `(${rotationPeriod}) is longer`;
  return {
    field: 'maxRotationPeriod',
    message: `the class's default rotationPeriod ${current}; set classes.${keyClass}.rotationPeriod too`,
  };
}

/** A default deletionWindowDays below minDeletionWindowDays. */
function deletionWindowProblem(policy: Policy, keyClass: KeyClass, given: unknown): ClassProblem {
  const { deletionWindowDays, minDeletionWindowDays } = policy.classes[keyClass];
  if (deletionWindowDays >= minDeletionWindowDays) return null;
  if (inFile(given, ['classes', keyClass, 'deletionWindowDays'])) {
    return {
      field: 'deletionWindowDays',
      message: `must be at least classes.${keyClass}.minDeletionWindowDays (${minDeletionWindowDays})`,
    };
  }
  return {
    field: 'minDeletionWindowDays',
    message: `is above the class's default deletionWindowDays (${deletionWindowDays}); raise classes.${keyClass}.deletionWindowDays too`,
  };
}

/** Whether the file itself sets the value at `path` (as opposed to leaving the default). */
function inFile(given: unknown, path: readonly string[]): boolean {
  let node = given;
  for (const step of path) {
    if (!isPlainObject(node) || !Object.hasOwn(node, step)) return false;
    node = node[step];
  }
  return true;
}

/** The path of the first value that is not plain JSON data (a `!!binary`, `!!set`, …), or null. */
function nonJson(value: unknown, path: Path): Path | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : path;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = nonJson(item, [...path, i]);
      if (found !== null) return found;
    }
    return null;
  }
  if (isPlainObject(value) && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      const found = nonJson(item, [...path, key]);
      if (found !== null) return found;
    }
    return null;
  }
  return path;
}

/** `08:00-18:00` → minutes from midnight `[480, 1080]`; null when start equals end or a time is past 24:00. */
export function parseHours(text: string): [number, number] | null {
  const match = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text);
  if (!match) return null;
  const [start, end] = [Number(match[1]) * 60 + Number(match[2]), Number(match[3]) * 60 + Number(match[4])];
  if (start >= 24 * 60 || end > 24 * 60 || start === end) return null;
  return [start, end];
}

/** Defaults overlaid with what the file gives: objects merge key by key, anything else (lists included) replaces. */
function merge(base: unknown, given: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(given)) return given === undefined ? structuredClone(base) : given;
  const out: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(base), ...Object.keys(given)])) out[key] = merge(base[key], given[key]);
  return out;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The source offset of the node at `path` (or of `key` inside it), for line numbers in errors. */
function locate(root: unknown, path: Path, key?: string): number | null {
  let node = root as Node | null;
  let offset: number | null = node?.range?.[0] ?? null;
  const steps = key === undefined ? path : [...path, key];
  for (const step of steps) {
    if (node === null || node === undefined) break;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === step);
      if (pair === undefined) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value as Node | null;
    } else if ('items' in node && Array.isArray(node.items) && typeof step === 'number') {
      node = (node.items[step] as Node | undefined) ?? null;
      offset = node?.range?.[0] ?? offset;
    } else break;
  }
  return offset;
}
