import { ALGORITHMS, ENVIRONMENTS, KEY_CLASSES, KEY_OPERATIONS, KEY_STATES, PRINCIPAL_KINDS, ROLES } from '@keyward/wire';
import fc from 'fast-check';
import { ACTIONS } from '../../../src/policy/actions.js';
import type { AuthorizationRequest } from '../../../src/policy/authorizer.js';
import type { Principal } from '../../../src/service/context.js';
import type { GrantRecord, KeyRecord } from '../../../src/store/records.js';

/** Few names, so owners, grants and teams often meet. */
const IDS = ['alice', 'svc-a', 'team-ops', 'team-pay', 'nobody'] as const;
const TEAMS = ['team-ops', 'team-pay', 'team-x'] as const;

export const principalArb: fc.Arbitrary<Principal> = fc.record({
  id: fc.constantFrom('alice', 'svc-a'),
  kind: fc.constantFrom(...PRINCIPAL_KINDS),
  roles: fc.subarray([...ROLES]),
  environments: fc.subarray([...ENVIRONMENTS]),
  teams: fc.subarray([...TEAMS]),
  createdAt: fc.constant('2026-01-01T00:00:00.000Z'),
  disabled: fc.constant(false),
  offboardedAt: fc.constant(null),
  tokenId: fc.constant('tok'),
  via: fc.constantFrom('token' as const, 'oidc' as const),
  secondFactor: fc.boolean(),
});

/** A principal as the authenticator makes one from a token (tests give what matters). */
export function aPrincipal(fields: Pick<Principal, 'id' | 'kind' | 'roles' | 'environments'> & Partial<Principal>): Principal {
  return { teams: [], createdAt: '', disabled: false, tokenId: '', offboardedAt: null, via: 'token', secondFactor: false, ...fields };
}

export function keyRecord(fields: Pick<KeyRecord, 'name' | 'owner' | 'environment'> & Partial<KeyRecord>): KeyRecord {
  return {
    id: `id-${fields.name}`,
    namespace: 'default',
    algorithm: 'aes-256-gcm',
    usage: 'encrypt',
    state: 'enabled',
    class: 'standard',
    description: '',
    tags: {},
    rotationPeriod: null,
    maxUsesPerVersion: null,
    nextRotationAt: null,
    primaryVersion: 1,
    exportable: false,
    deletionWindowDays: 30,
    deletionDate: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    minDecryptionVersion: 1,
    prepublishPeriod: null,
    originatorPeriod: null,
    nextCheckAt: null,
    lastReviewedAt: null,
    reviewDueAt: null,
    protection: 'software',
    ...fields,
  };
}

const keyArb = fc
  .record({
    name: fc.constantFrom('k1', 'k2'),
    owner: fc.constantFrom(...IDS, 'team-x'),
    environment: fc.constantFrom(...ENVIRONMENTS),
    class: fc.constantFrom(...KEY_CLASSES),
    algorithm: fc.constantFrom(...ALGORITHMS),
    state: fc.constantFrom(...KEY_STATES),
    tags: fc.dictionary(fc.constantFrom('team', 'tier'), fc.constantFrom('a', 'b')),
  })
  .map((fields) => keyRecord(fields));

const grantArb: fc.Arbitrary<GrantRecord> = fc.record({
  id: fc.constant('g'),
  keyId: fc.constant('k'),
  principal: fc.constantFrom(...IDS, 'team-x'),
  operations: fc.subarray([...KEY_OPERATIONS]),
  createdAt: fc.constant('2026-01-01T00:00:00.000Z'),
  createdBy: fc.constant('admin'),
});

/** Any request: a principal, any action, a key with grants or none, an environment asked for or none, any time. */
export const requestArb: fc.Arbitrary<AuthorizationRequest> = fc
  .record({
    principal: principalArb,
    action: fc.constantFrom(...ACTIONS),
    key: fc.option(fc.record({ record: keyArb, grants: fc.array(grantArb, { maxLength: 4 }) }), { nil: undefined }),
    environment: fc.option(fc.constantFrom(...ENVIRONMENTS), { nil: undefined }),
    now: fc.date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2026-12-31T23:59:59Z'), noInvalidDate: true }),
  })
  .map(({ key, environment, ...rest }) => {
    const request: AuthorizationRequest = { ...rest };
    if (key !== undefined) request.key = key;
    if (environment !== undefined) request.environment = environment;
    return request;
  });
