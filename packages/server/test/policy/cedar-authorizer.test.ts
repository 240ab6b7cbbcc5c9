import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuthorizationRequest } from '../../src/policy/authorizer.js';
import { CedarAuthorizer, type CedarPolicySource } from '../../src/policy/cedar/cedar-authorizer.js';
import { builtinPolicies, type CedarPolicies, compilePolicies } from '../../src/policy/cedar/cedar-policies.js';
import { PolicyDirectory } from '../../src/policy/cedar/policy-directory.js';
import { aPrincipal, keyRecord, requestArb } from './support/cedar-arbitraries.js';

const swappable = (initial: CedarPolicies) => {
  let current = initial;
  const source: CedarPolicySource = { current: () => current };
  return { source, set: (next: CedarPolicies) => (current = next) };
};

const NIGHT_FORBID = compilePolicies([
  {
    name: 'night.cedar',
    text: `@id("ops-no-service-decrypt-at-night")
forbid (principal, action == Keyward::Action::"crypto.decrypt", resource)
when { principal.kind == "service" && (context.hour < 8 || context.hour >= 18 || ["sat", "sun"].contains(context.weekday)) };`,
  },
]);

describe('CedarAuthorizer decision cache', () => {
  it('a warm cache never answers differently from an uncached evaluation, whatever input changed (property)', () => {
    const cached = new CedarAuthorizer({ policies: { current: () => NIGHT_FORBID } });
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 2, maxLength: 8 }), (requests) => {
        for (const request of [...requests, ...requests]) {
          const decision = cached.authorize(request);
          const fresh = cached.explain(request);
          expect({ allowed: decision.allowed, reason: decision.reason }).toEqual({ allowed: fresh.allowed, reason: fresh.reason });
        }
      }),
      { numRuns: 300 },
    );
    expect(cached.cached).toBeGreaterThan(0);
  });

  it('is bounded: the least recently used decision goes first', () => {
    const authorizer = new CedarAuthorizer({ cacheSize: 3 });
    const principal = aPrincipal({ id: 'a', kind: 'user', roles: ['admin'], environments: ['dev'] });
    for (const action of ['key.list', 'key.read', 'audit.read', 'audit.verify', 'policy.read'] as const)
      authorizer.authorize({ principal, action });
    expect(authorizer.cached).toBe(3);
  });

  it('each input of the decision is in the cache key: time of day, grants, key attributes, principal attributes', () => {
    const authorizer = new CedarAuthorizer({ policies: { current: () => NIGHT_FORBID } });
    const record = keyRecord({ name: 'k', owner: 'team-ops', environment: 'prod' });
    const grants = [{ id: 'g', keyId: record.id, principal: 'svc', operations: ['decrypt' as const], createdAt: '', createdBy: '' }];
    const principal = aPrincipal({ id: 'svc', kind: 'service', roles: ['key-user'], environments: ['prod'] });
    const base: AuthorizationRequest = {
      principal,
      action: 'crypto.decrypt',
      key: { record, grants },
      now: new Date('2026-06-02T10:00:00Z'),
    };
    expect(authorizer.authorize(base).allowed).toBe(true);
    expect(authorizer.authorize({ ...base, now: new Date('2026-06-02T22:00:00Z') })).toMatchObject({
      allowed: false,
      reason: 'forbid ops-no-service-decrypt-at-night',
    });
    expect(authorizer.authorize({ ...base, now: new Date('2026-06-06T10:00:00Z') }).allowed).toBe(false); // a Saturday
    expect(
      authorizer.authorize({ ...base, principal: { ...principal, kind: 'user' }, now: new Date('2026-06-02T22:00:00Z') }).allowed,
    ).toBe(true);
    expect(authorizer.authorize({ ...base, key: { record, grants: [] } }).allowed).toBe(false);
    expect(authorizer.authorize({ ...base, key: { record: { ...record, environment: 'dev' }, grants } }).allowed).toBe(false);
    expect(authorizer.authorize({ ...base, principal: { ...principal, roles: [] } }).allowed).toBe(false);
    expect(authorizer.authorize(base).allowed).toBe(true);
  });

  it('the same principal and key objects asked again: the decision follows the hour, the grants array and the policies', () => {
    const { source, set } = swappable(NIGHT_FORBID);
    const authorizer = new CedarAuthorizer({ policies: source });
    const record = keyRecord({ name: 'k', owner: 'team-ops', environment: 'prod' });
    const granted = [{ id: 'g', keyId: record.id, principal: 'svc', operations: ['decrypt' as const], createdAt: '', createdBy: '' }];
    const principal = Object.freeze(aPrincipal({ id: 'svc', kind: 'service', roles: ['key-user'], environments: ['prod'] }));
    const key = { record, grants: granted };
    const at = (iso: string): AuthorizationRequest => ({ principal, action: 'crypto.decrypt', key, now: new Date(iso) });
    expect(authorizer.authorize(at('2026-06-02T17:00:00Z')).allowed).toBe(true);
    expect(authorizer.authorize(at('2026-06-02T17:59:59.999Z')).allowed).toBe(true);
    // The next hour, same objects: the night forbid applies at once.
    expect(authorizer.authorize(at('2026-06-02T18:00:00Z'))).toMatchObject({
      allowed: false,
      reason: 'forbid ops-no-service-decrypt-at-night',
    });
    expect(authorizer.authorize(at('2026-06-02T10:00:00Z')).allowed).toBe(true);
    // Same record and principal, the grant revoked (a new grants array, as the key directory makes on any change).
    expect(authorizer.authorize({ ...at('2026-06-02T10:00:00Z'), key: { record, grants: [] } }).allowed).toBe(false);
    expect(authorizer.authorize({ ...at('2026-06-02T10:00:00Z'), key: { record, grants: granted } }).allowed).toBe(true);
    // Another action on the same pair is decided for itself.
    expect(authorizer.authorize({ ...at('2026-06-02T10:00:00Z'), action: 'crypto.encrypt' }).allowed).toBe(false);
    // The policies change: the pair's earlier decisions no longer apply.
    set(
      compilePolicies([
        { name: 'closed.cedar', text: '@id("closed") forbid (principal, action == Keyward::Action::"crypto.decrypt", resource);' },
      ]),
    );
    expect(authorizer.authorize(at('2026-06-02T10:00:00Z'))).toMatchObject({ allowed: false, reason: 'forbid closed' });
    set(NIGHT_FORBID);
    expect(authorizer.authorize(at('2026-06-02T10:00:00Z')).allowed).toBe(true);
    // An invalid time matches no remembered hour: Cedar decides it (and cannot: denied).
    expect(authorizer.authorize({ principal, action: 'crypto.decrypt', key, now: new Date(Number.NaN) })).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('the policies could not decide'),
    });
    expect(authorizer.authorize(at('2026-06-02T10:00:00Z')).allowed).toBe(true);
  });

  it('is dropped when the policies change: the next decision follows the new set', () => {
    const { source, set } = swappable(builtinPolicies());
    const authorizer = new CedarAuthorizer({ policies: source });
    const record = keyRecord({ name: 'k', owner: 'x', environment: 'prod' });
    const principal = aPrincipal({ id: 'svc', kind: 'service', roles: ['key-user'], environments: ['prod'] });
    const grants = [{ id: 'g', keyId: record.id, principal: 'svc', operations: ['decrypt' as const], createdAt: '', createdBy: '' }];
    const request: AuthorizationRequest = {
      principal,
      action: 'crypto.decrypt',
      key: { record, grants },
      now: new Date('2026-06-02T23:00:00Z'),
    };
    expect(authorizer.authorize(request).allowed).toBe(true);
    set(NIGHT_FORBID);
    expect(authorizer.authorize(request).allowed).toBe(false);
    expect(authorizer.cached).toBe(1);
    set(builtinPolicies());
    expect(authorizer.authorize(request).allowed).toBe(true);
  });

  it('explain names the permits, the forbids and the policies that failed to evaluate', () => {
    // Valid against the schema, but overflows (a runtime error) from 02:00 on: Cedar skips a policy that errors.
    const overflowing = compilePolicies([
      {
        name: 'overflow.cedar',
        text: '@id("ops-overflow")\nforbid (principal, action, resource) when { context.hour * 9223372036854775807 > 0 };',
      },
    ]);
    const authorizer = new CedarAuthorizer({ policies: { current: () => overflowing } });
    const principal = aPrincipal({ id: 'root', kind: 'user', roles: ['admin'], environments: ['prod'] });
    const key = { record: keyRecord({ name: 'k', owner: 'x', environment: 'prod' }), grants: [] };
    const skipped = authorizer.explain({ principal, action: 'key.read', key, now: new Date('2026-06-02T02:00:00Z') });
    expect(skipped.allowed).toBe(true);
    expect(skipped.policies).toEqual(['keyward-admin']);
    expect(skipped.errors).toEqual([expect.stringMatching(/^ops-overflow: .*overflow/)]);
    expect(skipped.reason).toMatch(/^permit keyward-admin \(policies that failed and were skipped: ops-overflow: /);
    const applied = authorizer.explain({ principal, action: 'key.read', key, now: new Date('2026-06-02T01:00:00Z') });
    expect(applied).toMatchObject({ allowed: false, reason: 'forbid ops-overflow', policies: ['ops-overflow'], errors: [] });
  });
});

describe('operator policies', () => {
  it('a permit widens what the shipped policies allow, but cannot undo a shipped forbid (environments)', () => {
    const widened = compilePolicies([
      {
        name: 'auditors.cedar',
        text: '@id("ops-auditor-usage")\npermit (principal, action == Keyward::Action::"alert.acknowledge", resource)\nwhen { principal.roles.contains("auditor") };',
      },
    ]);
    const authorizer = new CedarAuthorizer({ policies: { current: () => widened } });
    const auditor = aPrincipal({ id: 'aud', kind: 'user', roles: ['auditor'], environments: ['dev'] });
    expect(new CedarAuthorizer().authorize({ principal: auditor, action: 'alert.acknowledge' }).allowed).toBe(false);
    expect(authorizer.authorize({ principal: auditor, action: 'alert.acknowledge' })).toMatchObject({
      allowed: true,
      reason: 'permit ops-auditor-usage',
    });
    expect(authorizer.authorize({ principal: auditor, action: 'alert.acknowledge', environment: 'prod' })).toMatchObject({
      allowed: false,
      reason: "'aud' is not scoped to environment prod",
    });
  });
});

describe('PolicyDirectory', () => {
  it('refuses to open on an invalid set, naming the file and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-cedar-open-'));
    try {
      writeFileSync(join(dir, 'a.cedar'), '// fine\n@id("ok")\nforbid (principal, action, resource) when { context.hour == 3 };\n');
      writeFileSync(join(dir, 'b.cedar'), '\n\npermit (principal, action, resource) when { principal.rank > 2 };\n');
      writeFileSync(join(dir, 'notes.txt'), 'not a policy');
      await expect(PolicyDirectory.open(dir)).rejects.toThrow(
        `cedar policies in ${dir}: b.cedar:3: for policy \`b.cedar:3\`, attribute \`rank\` on entity type \`Keyward::Principal\` not found`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing directory at start has no policies; one that disappears after holding policies is refused', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'kw-cedar-gone-')), 'policies');
    const directory = await PolicyDirectory.open(dir);
    expect(directory.status()).toMatchObject({ files: [], lastError: null });
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.cedar'), '@id("ops-a")\nforbid (principal, action == Keyward::Action::"sys.seal", resource);\n');
    expect(await directory.reload()).toBeNull();
    rmSync(dir, { recursive: true });
    expect((await directory.reload())?.message).toMatch(/the directory is missing/);
    expect(directory.status()).toMatchObject({ files: ['a.cedar'], policies: ['ops-a'] });
  });

  it('watch reloads when a file is added, without a signal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-cedar-watch-'));
    const directory = await PolicyDirectory.open(dir);
    const results: (Error | null)[] = [];
    const stop = directory.watch((error) => results.push(error), 20);
    try {
      await new Promise((r) => setTimeout(r, 60));
      writeFileSync(join(dir, 'a.cedar'), '@id("ops-a")\nforbid (principal, action == Keyward::Action::"sys.seal", resource);\n');
      await expect.poll(() => directory.status().policies, { timeout: 5_000 }).toEqual(['ops-a']);
      expect(results).toContain(null);
    } finally {
      stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
