import {
  ALGORITHMS,
  ENVIRONMENTS,
  type Environment,
  KEY_CLASSES,
  KEY_OPERATIONS,
  KEY_STATES,
  type KeyOperation,
  PRINCIPAL_KINDS,
  ROLES,
} from '@keyward/wire';
import { parse as parseYaml } from 'yaml';
import { ACTIONS, type Action } from '../actions.js';
import type { AuthorizationRequest } from '../authorizer.js';
import { CedarAuthorizer, type Explanation } from './cedar-authorizer.js';
import type { CedarPolicies } from './cedar-policies.js';

/** A fixture file that cannot be read as documented (docs/governance.md, "Testing policies"); the message names the file and case. */
export class FixtureError extends Error {
  override name = 'FixtureError';
}

/** One case: the inputs of a decision and what it must be. */
export interface FixtureCase {
  name: string;
  request: AuthorizationRequest;
  expect: 'allow' | 'deny';
  /** A policy id that must be among those that decided. */
  policy: string | null;
}

/** When a case gives no `time`: a Tuesday at noon UTC, inside any business hours. */
export const DEFAULT_TIME = '2026-06-02T12:00:00Z';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function strings(where: string, value: unknown, allowed?: readonly string[]): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new FixtureError(`${where}: expected a list of strings`);
  for (const v of value as string[]) {
    if (allowed !== undefined && !allowed.includes(v)) throw new FixtureError(`${where}: '${v}' is not one of ${allowed.join(', ')}`);
  }
  return value as string[];
}

function text(where: string, value: unknown, allowed?: readonly string[]): string {
  if (typeof value !== 'string' || value.length === 0) throw new FixtureError(`${where}: expected a string`);
  if (allowed !== undefined && !allowed.includes(value)) throw new FixtureError(`${where}: '${value}' is not one of ${allowed.join(', ')}`);
  return value;
}

function only(where: string, value: Json, keys: readonly string[]): void {
  const unknown = Object.keys(value).find((k) => !keys.includes(k));
  if (unknown !== undefined) throw new FixtureError(`${where}: unknown field '${unknown}' (expected ${keys.join(', ')})`);
}

/**
 * One case's inputs as an authorization request. Fields left out take the
 * documented defaults: a principal of kind `user` with no roles or teams in
 * every environment; a key owned by nobody in particular, class `standard`,
 * environment `prod`, algorithm `aes-256-gcm`, state `enabled`, no tags, no grants.
 */
export function caseRequest(where: string, c: Json): AuthorizationRequest {
  const p = c.principal;
  if (typeof p === 'string') throw new FixtureError(`${where}.principal: expected an object with at least an id`);
  if (!isObject(p)) throw new FixtureError(`${where}.principal: is required`);
  only(`${where}.principal`, p, ['id', 'kind', 'roles', 'environments', 'teams']);
  const principal = {
    id: text(`${where}.principal.id`, p.id),
    kind: (p.kind === undefined ? 'user' : text(`${where}.principal.kind`, p.kind, PRINCIPAL_KINDS)) as (typeof PRINCIPAL_KINDS)[number],
    roles: (p.roles === undefined ? [] : strings(`${where}.principal.roles`, p.roles, ROLES)) as (typeof ROLES)[number][],
    environments: (p.environments === undefined
      ? [...ENVIRONMENTS]
      : strings(`${where}.principal.environments`, p.environments, ENVIRONMENTS)) as Environment[],
    teams: p.teams === undefined ? [] : strings(`${where}.principal.teams`, p.teams),
    createdAt: '1970-01-01T00:00:00.000Z',
    disabled: false,
    offboardedAt: null,
    tokenId: '',
    via: 'token' as const,
    secondFactor: false,
  };
  const action = text(`${where}.action`, c.action, ACTIONS) as Action;
  const time = c.time === undefined ? DEFAULT_TIME : c.time instanceof Date ? c.time.toISOString() : text(`${where}.time`, c.time);
  const now = new Date(time);
  if (Number.isNaN(now.getTime())) throw new FixtureError(`${where}.time: '${time}' is not an RFC 3339 time`);
  const request: AuthorizationRequest = { principal, action, now };
  if (c.environment !== undefined) request.environment = text(`${where}.environment`, c.environment, ENVIRONMENTS) as Environment;
  if (c.key !== undefined) {
    if (!isObject(c.key)) throw new FixtureError(`${where}.key: expected an object`);
    const k = c.key;
    only(`${where}.key`, k, ['name', 'owner', 'class', 'environment', 'algorithm', 'state', 'tags']);
    const tags = k.tags === undefined ? {} : k.tags;
    if (!isObject(tags) || Object.values(tags).some((v) => typeof v !== 'string'))
      throw new FixtureError(`${where}.key.tags: expected a map of strings`);
    const record = {
      id: 'fixture',
      namespace: 'default',
      name: k.name === undefined ? 'fixture-key' : text(`${where}.key.name`, k.name),
      owner: k.owner === undefined ? '-' : text(`${where}.key.owner`, k.owner),
      class: k.class === undefined ? 'standard' : text(`${where}.key.class`, k.class, KEY_CLASSES),
      environment: k.environment === undefined ? 'prod' : text(`${where}.key.environment`, k.environment, ENVIRONMENTS),
      algorithm: k.algorithm === undefined ? 'aes-256-gcm' : text(`${where}.key.algorithm`, k.algorithm, ALGORITHMS),
      state: k.state === undefined ? 'enabled' : text(`${where}.key.state`, k.state, KEY_STATES),
      tags: tags as Record<string, string>,
    };
    const grants = c.grants === undefined ? [] : c.grants;
    if (!Array.isArray(grants)) throw new FixtureError(`${where}.grants: expected a list`);
    request.key = {
      // Only the fields the authorizer reads; the rest of a stored key plays no part in a decision.
      record: record as unknown as NonNullable<AuthorizationRequest['key']>['record'],
      grants: grants.map((g: unknown, i) => {
        const at = `${where}.grants[${i}]`;
        if (!isObject(g)) throw new FixtureError(`${at}: expected an object`);
        only(at, g, ['principal', 'operations']);
        return {
          id: `grant-${i}`,
          keyId: 'fixture',
          principal: text(`${at}.principal`, g.principal),
          operations: strings(`${at}.operations`, g.operations, KEY_OPERATIONS) as KeyOperation[],
          createdAt: '1970-01-01T00:00:00.000Z',
          createdBy: '-',
        };
      }),
    };
  } else if (c.grants !== undefined) {
    throw new FixtureError(`${where}.grants: grants need a key`);
  }
  return request;
}

/**
 * Reads a fixture file (YAML, or JSON, which is YAML too): `cases:`, a list
 * of cases, each with `name`, `principal`, `action`, `key` (with `grants`)
 * or `environment`, `time`, `expect` (`allow` or `deny`) and optionally
 * `policy`, the id of a policy that must be among those that decided.
 *
 * @example
 * const cases = parseFixture('roles.yaml', 'cases:\n  - name: admin\n    principal: { id: root, roles: [admin] }\n    action: key.list\n    expect: allow\n');
 */
export function parseFixture(file: string, source: string): FixtureCase[] {
  let doc: unknown;
  try {
    doc = parseYaml(source);
  } catch (error) {
    throw new FixtureError(`${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!isObject(doc) || !Array.isArray(doc.cases)) throw new FixtureError(`${file}: expected a map with a list 'cases'`);
  only(file, doc, ['cases']);
  return doc.cases.map((c: unknown, i) => {
    const where = `${file}: cases[${i}]`;
    if (!isObject(c)) throw new FixtureError(`${where}: expected an object`);
    only(where, c, ['name', 'principal', 'action', 'key', 'grants', 'environment', 'time', 'expect', 'policy']);
    return {
      name: c.name === undefined ? `case ${i + 1}` : text(`${where}.name`, c.name),
      request: caseRequest(where, c),
      expect: text(`${where}.expect`, c.expect, ['allow', 'deny']) as 'allow' | 'deny',
      policy: c.policy === undefined ? null : text(`${where}.policy`, c.policy),
    };
  });
}

/** How one case went. */
export interface CaseResult {
  file: string;
  name: string;
  passed: boolean;
  expected: string;
  explanation: Explanation;
}

/** Evaluates each case against `policies`, offline. */
export function runFixture(policies: CedarPolicies, file: string, cases: readonly FixtureCase[]): CaseResult[] {
  const authorizer = new CedarAuthorizer({ policies: { current: () => policies } });
  return cases.map((c) => {
    const explanation = authorizer.explain(c.request);
    const decided = explanation.allowed ? 'allow' : 'deny';
    const byPolicy = c.policy === null || explanation.policies.includes(c.policy);
    return {
      file,
      name: c.name,
      passed: decided === c.expect && byPolicy,
      expected: c.policy === null ? c.expect : `${c.expect} by ${c.policy}`,
      explanation,
    };
  });
}

/**
 * One request in the fixture format (YAML or JSON; `name`, `expect` and
 * `policy` are allowed and ignored), for `keyward policy explain --case FILE`.
 */
export function parseCase(file: string, source: string): AuthorizationRequest {
  let doc: unknown;
  try {
    doc = parseYaml(source);
  } catch (error) {
    throw new FixtureError(`${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!isObject(doc)) throw new FixtureError(`${file}: expected one case (a map with principal, action, …)`);
  only(file, doc, ['name', 'principal', 'action', 'key', 'grants', 'environment', 'time', 'expect', 'policy']);
  return caseRequest(file, doc);
}

/** The decision on `request` under `policies`, with the policies that decided and those that failed. */
export function explainRequest(policies: CedarPolicies, request: AuthorizationRequest): Explanation {
  return new CedarAuthorizer({ policies: { current: () => policies } }).explain(request);
}
