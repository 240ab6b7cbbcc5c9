import { ENVIRONMENTS, KEY_OPERATIONS, ROLES } from '@keyward/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACTIONS } from '../../src/policy/actions.js';
import type { AuthorizationRequest } from '../../src/policy/authorizer.js';
import { CedarAuthorizer } from '../../src/policy/cedar/cedar-authorizer.js';
import { builtinPolicies, validatePolicies } from '../../src/policy/cedar/cedar-policies.js';
import { BuiltinAuthorizer } from './builtin-authorizer.js';
import { aPrincipal, keyRecord, principalArb, requestArb } from './support/cedar-arbitraries.js';

const builtin = new BuiltinAuthorizer();

describe('the shipped Cedar policies decide as the built-in authorizer did', () => {
  it('for any principal, action, key, grants, environment and time (property)', () => {
    const cedar = new CedarAuthorizer();
    fc.assert(
      fc.property(requestArb, (request) => {
        const expected = builtin.authorize(request);
        const decided = cedar.authorize(request);
        expect(decided.allowed, `${request.action}: builtin says ${expected.reason}; cedar says ${decided.reason}`).toBe(expected.allowed);
        // An allow names the permits that decided.
        if (decided.allowed) expect(decided.reason).toMatch(/^permit keyward-[a-z-]+/);
      }),
      { numRuns: 4000 },
    );
  });

  it('for every role alone and every action, on an owned, granted key in and out of the principal environments (exhaustive)', () => {
    const cedar = new CedarAuthorizer();
    const record = keyRecord({ name: 'k', owner: 'team-ops', environment: 'staging' });
    const grant = (operations: (typeof KEY_OPERATIONS)[number][]) => ({
      id: 'g',
      keyId: record.id,
      principal: 'team-ops',
      operations,
      createdAt: record.createdAt,
      createdBy: 'admin',
    });
    let compared = 0;
    for (const role of ROLES) {
      for (const environments of [[...ENVIRONMENTS], ['dev' as const]]) {
        const principal = {
          id: 'alice',
          kind: 'user' as const,
          roles: [role],
          environments,
          teams: ['team-ops'],
          createdAt: '',
          disabled: false,
          tokenId: '',
          offboardedAt: null,
          via: 'token' as const,
          secondFactor: false,
        };
        for (const action of ACTIONS) {
          for (const key of [
            undefined,
            { record, grants: [] },
            { record, grants: [grant(['verify'])] },
            { record, grants: [grant([...KEY_OPERATIONS])] },
          ]) {
            const request: AuthorizationRequest = {
              principal,
              action,
              ...(key === undefined ? { environment: 'staging' as const } : { key }),
            };
            expect(cedar.authorize(request).allowed, `${role} ${action} ${JSON.stringify(key?.grants)}`).toBe(
              builtin.authorize(request).allowed,
            );
            compared += 1;
          }
        }
      }
    }
    expect(compared).toBe(ROLES.length * 2 * ACTIONS.length * 4);
  });

  it('refuses outside the principal environments with the documented reason; auth.self is always allowed', () => {
    const cedar = new CedarAuthorizer();
    fc.assert(
      fc.property(principalArb, (principal) => {
        const decision = cedar.authorize({ principal, action: 'auth.self' });
        expect(decision.allowed).toBe(true);
        expect(decision.policies).toContain('keyward-self');
      }),
    );
    const principal = aPrincipal({ id: 'ops', kind: 'user', roles: ['admin'], environments: ['dev'] });
    expect(cedar.authorize({ principal, action: 'key.create', environment: 'prod' })).toEqual({
      allowed: false,
      reason: "'ops' is not scoped to environment prod",
      policies: ['keyward-environment-scope'],
    });
    expect(cedar.authorize({ principal, action: 'key.create', environment: 'dev' })).toEqual({
      allowed: true,
      reason: 'permit keyward-admin',
      policies: ['keyward-admin'],
    });
    expect(cedar.authorize({ principal: { ...principal, roles: [] }, action: 'key.create', environment: 'dev' }).reason).toBe(
      "no policy permits 'ops' to key.create",
    );
  });
});

describe('the shipped policies', () => {
  it('validate strictly against the schema, each with its @id', () => {
    const shipped = builtinPolicies();
    expect(() => validatePolicies(shipped.policies)).not.toThrow();
    expect([...shipped.policies.values()].every((p) => p.id.startsWith('keyward-') && p.source === 'builtin')).toBe(true);
    expect(shipped.policies.size).toBe(10 + KEY_OPERATIONS.length);
  });
});
