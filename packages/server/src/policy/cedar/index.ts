/**
 * The Cedar policy engine without the server: what `keyward policy test` and
 * `keyward policy explain` use offline. Imports nothing native (no store
 * drivers), so the CLI can load it (`@keyward/server/cedar`).
 */
export type { AuthorizationRequest as AuthorizationRequestOf } from '../authorizer.js';
export type { Explanation } from './cedar-authorizer.js';
export { CedarAuthorizer } from './cedar-authorizer.js';
export { type CedarPolicies, CedarPolicyError, compilePolicies } from './cedar-policies.js';
export { CEDAR_SCHEMA } from './cedar-schema.js';
export { readPolicyDirectory } from './policy-directory.js';
export {
  type CaseResult,
  caseRequest,
  DEFAULT_TIME,
  explainRequest,
  type FixtureCase,
  FixtureError,
  parseCase,
  parseFixture,
  runFixture,
} from './policy-fixtures.js';
