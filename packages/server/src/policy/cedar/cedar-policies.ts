import { createHash } from 'node:crypto';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { BUILTIN_POLICIES } from './builtin-policies.js';
import { CEDAR_SCHEMA } from './cedar-schema.js';

/** A set of Cedar policies refused whole; the message names the file and the line (`ops.cedar:3: …`). */
export class CedarPolicyError extends Error {
  override name = 'CedarPolicyError';
}

/** One policy of a set, where it came from. */
export interface CedarPolicy {
  /** Its `@id("…")` annotation, or `FILE:LINE` when it has none. */
  id: string;
  effect: 'permit' | 'forbid';
  /** `builtin` for the shipped policies, else the file's name. */
  source: string;
  line: number;
  text: string;
}

/** The shipped policies and the operator's, parsed and validated against the schema together. */
export interface CedarPolicies {
  /** Every policy by id: the shipped ones first. */
  readonly policies: ReadonlyMap<string, CedarPolicy>;
  /** The operator's files, in load order (empty when only the shipped policies are in force). */
  readonly files: readonly string[];
  /** SHA-256 (hex) over the operator's file names and contents; null when there are none. */
  readonly digest: string | null;
}

/** A policy file to compile: its name (for errors and reasons) and text. */
export interface CedarSource {
  name: string;
  text: string;
}

const BUILTIN = 'builtin';

const lineAt = (text: string, offset: number): number => text.slice(0, Math.max(0, offset)).split('\n').length;
const oneLine = (message: string): string => message.replace(/\s+/g, ' ').trim();

function describe(error: cedar.DetailedError): string {
  const label = error.sourceLocations?.find((l) => l.label !== null)?.label;
  return oneLine([error.message, label ? `(${label})` : '', error.help ? `(${error.help})` : ''].filter(Boolean).join(' '));
}

/** Splits one file into its policies, refusing it at the first syntax error. */
function splitSource(source: CedarSource): CedarPolicy[] {
  const parts = cedar.policySetTextToParts(source.text);
  if (parts.type === 'failure') {
    const first = parts.errors[0];
    const at = first?.sourceLocations?.[0]?.start;
    throw new CedarPolicyError(
      `${source.name}:${at === undefined ? 1 : lineAt(source.text, at)}: ${first ? describe(first) : 'cannot parse'}`,
    );
  }
  if (parts.policy_templates.length > 0)
    throw new CedarPolicyError(`${source.name}:1: policy templates are not supported; write static policies`);
  // The parts come in no particular order: place each at its own offset in the file (for lines and load order).
  const taken = new Set<number>();
  const placed = parts.policies.map((text) => {
    let offset = source.text.indexOf(text);
    while (offset !== -1 && taken.has(offset)) offset = source.text.indexOf(text, offset + 1);
    taken.add(offset);
    return { text, offset };
  });
  placed.sort((a, b) => a.offset - b.offset);
  const out: CedarPolicy[] = [];
  for (const { text, offset } of placed) {
    const line = lineAt(source.text, offset);
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') throw new CedarPolicyError(`${source.name}:${line}: ${json.errors.map(describe).join('; ')}`);
    const id = json.json.annotations?.id ?? `${source.name}:${line}`;
    if (id === null || id.length === 0) throw new CedarPolicyError(`${source.name}:${line}: @id needs a value`);
    out.push({ id, effect: json.json.effect, source: source.name, line, text });
  }
  return out;
}

/**
 * Validates `policies` strictly against {@link CEDAR_SCHEMA}; throws a
 * {@link CedarPolicyError} naming the file and line of the first error.
 */
export function validatePolicies(policies: ReadonlyMap<string, CedarPolicy>): void {
  if (policies.size === 0) return;
  const answer = cedar.validate({
    schema: CEDAR_SCHEMA,
    policies: { staticPolicies: Object.fromEntries([...policies].map(([id, p]) => [id, p.text])) },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type === 'failure') throw new CedarPolicyError(`schema: ${answer.errors.map(describe).join('; ')}`);
  const invalid = answer.validationErrors[0];
  if (invalid !== undefined) {
    const policy = policies.get(invalid.policyId);
    const at = invalid.error.sourceLocations?.[0]?.start;
    const line = policy === undefined ? 1 : policy.line + (at === undefined ? 0 : lineAt(policy.text, at) - 1);
    throw new CedarPolicyError(`${policy?.source ?? invalid.policyId}:${line}: ${describe(invalid.error)}`);
  }
}

let builtin: CedarPolicies | null = null;

/**
 * The shipped policies alone, split once per process. They are not validated
 * here (that costs a schema parse, a tenth of a second or more): cedar-equivalence.test.ts
 * validates them, and they never change at run time.
 */
export function builtinPolicies(): CedarPolicies {
  builtin ??= Object.freeze({
    policies: new Map(splitSource({ name: BUILTIN, text: BUILTIN_POLICIES }).map((p) => [p.id, p])),
    files: Object.freeze([]),
    digest: null,
  });
  return builtin;
}

/**
 * The shipped policies followed by `sources`, each source parsed and its
 * policies validated (strictly, against {@link CEDAR_SCHEMA}). All or
 * nothing: the first error refuses the whole set with a
 * {@link CedarPolicyError} naming the file and line.
 *
 * @example
 * const policies = compilePolicies([{ name: 'ops.cedar', text: 'forbid (principal, action, resource) when { context.hour < 6 };' }]);
 */
export function compilePolicies(sources: readonly CedarSource[]): CedarPolicies {
  const shipped = builtinPolicies();
  if (sources.length === 0) return shipped;
  const policies = new Map(shipped.policies);
  const added = new Map<string, CedarPolicy>();
  for (const source of sources) {
    for (const policy of splitSource(source)) {
      const previous = policies.get(policy.id);
      if (previous !== undefined) {
        throw new CedarPolicyError(
          `${policy.source}:${policy.line}: policy id ${policy.id} is already used (${previous.source === BUILTIN ? 'by a shipped policy' : `${previous.source}:${previous.line}`})`,
        );
      }
      policies.set(policy.id, policy);
      added.set(policy.id, policy);
    }
  }
  validatePolicies(added);
  const digest = sources.reduce((h, s) => h.update(`${s.name}\0${s.text.length}\0${s.text}`), createHash('sha256')).digest('hex');
  return Object.freeze({ policies, files: Object.freeze(sources.map((s) => s.name)), digest });
}
