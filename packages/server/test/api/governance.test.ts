import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PolicyError, parsePolicy } from '../../src/policy/parse-policy.js';
import { FixedPolicy } from '../../src/policy/policy-file.js';
import { Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The defaults (critical: quorum 2 for destroy, schedule-deletion and downgrade), plus a quorum of 1 on grant changes of `standard` keys. */
const POLICY = new FixedPolicy(
  parsePolicy(`classes:
  standard:
    quorum:
      grantChange: 1
`),
);

/**
 * Owners and reviews, offboarding, and quorum approvals through the real
 * REST app on each store (docs/governance.md).
 */
describe.each(STORE_KINDS)('governance (%s)', (store) => {
  let h: Harness;

  beforeEach(async () => {
    h = await Harness.start({ store, policy: POLICY });
  });
  afterEach(async () => {
    await h.close();
  });

  const key = async (name: string): Promise<Json> => {
    const r = await h.call('GET', `/v1/keys/${name}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const records = async (action: string) => (await h.store.listAudit(0, 100_000)).filter((r) => r.action === action);

  describe('reviews', () => {
    it('a key is due for review its class interval after creation, and again after each review', async () => {
      const created = await h.createKey('rev-critical', 'aes-256-gcm', { class: 'critical', owner: 'team-sec' });
      expect(created.lastReviewedAt).toBeNull();
      expect(created.nextReviewAt).toBe(new Date(Date.parse(created.createdAt) + 90 * DAY).toISOString());
      const low = await h.createKey('rev-low', 'aes-256-gcm', { class: 'low' });
      expect(low.nextReviewAt).toBeNull();

      const member = await h.principal('sec-member', [], { teams: ['team-sec'] });
      const stranger = await h.principal('stranger', ['key-user']);
      h.clock.advance(10 * DAY);
      expect((await h.call('POST', '/v1/keys/rev-critical/review', { note: 'x' }, stranger)).status).toBe(403);
      const reviewed = await h.call('POST', '/v1/keys/rev-critical/review', { note: 'still needed by checkout' }, member);
      expect(reviewed.status, JSON.stringify(reviewed.body)).toBe(200);
      expect(reviewed.body.lastReviewedAt).toBe(h.clock.now().toISOString());
      expect(reviewed.body.nextReviewAt).toBe(new Date(h.clock.now().getTime() + 90 * DAY).toISOString());
      const [record] = (await records('key.review')).filter((r) => r.outcome === 'success');
      expect(record).toMatchObject({
        actor: 'sec-member',
        key: 'rev-critical',
        outcome: 'success',
        details: { note: 'still needed by checkout' },
      });

      expect((await h.call('POST', '/v1/keys/rev-critical/review', { note: 'x', extra: 1 })).status).toBe(400);
      expect((await h.call('POST', '/v1/keys/nope/review', {})).status).toBe(404);
    });
  });

  describe('offboarding', () => {
    it('revokes every credential, removes grants, reassigns owned keys with a review due now, rotates exportable keys the class says to', async () => {
      const alice = await h.principal('alice', ['key-user'], { teams: ['team-x'] });
      const alice2 = (await h.call('POST', '/v1/principals/alice/tokens', {})).body.token as string;
      await h.principal('heir', ['key-admin']);
      await h.createKey('owned-high', 'aes-256-gcm', { owner: 'alice', class: 'high', exportable: true });
      await h.createKey('owned-standard', 'aes-256-gcm', { owner: 'alice', class: 'standard' });
      await h.createKey('granted-high', 'aes-256-gcm', { owner: 'bob', class: 'high', exportable: true });
      await h.createKey('team-owned', 'aes-256-gcm', { owner: 'team-x', class: 'high', exportable: true });
      await h.grant('granted-high', 'alice', ['encrypt', 'decrypt']);
      expect((await h.call('POST', '/v1/keys/granted-high/encrypt', { plaintext: 'aGk=' }, alice)).status).toBe(200);

      h.clock.advance(DAY);
      const r = await h.call('POST', '/v1/principals/alice/offboard', { reassignTo: 'heir', reason: 'left the company' });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toEqual({
        principal: 'alice',
        offboardedAt: h.clock.now().toISOString(),
        reassignedTo: 'heir',
        tokensRevoked: 2,
        grantsRemoved: 1,
        keysReassigned: ['owned-high', 'owned-standard'],
        keysRotated: ['granted-high', 'owned-high'],
      });

      // Every credential stops at once.
      for (const token of [alice, alice2]) expect((await h.call('GET', '/v1/auth/self', undefined, token)).status).toBe(401);
      const principal = (await h.call('GET', '/v1/principals/alice')).body;
      expect(principal).toMatchObject({ disabled: true, offboardedAt: h.clock.now().toISOString() });
      // No key is left with the offboarded owner; the new owner has a review due now.
      expect((await h.call('GET', '/v1/keys?owner=alice')).body.keys).toEqual([]);
      for (const name of ['owned-high', 'owned-standard']) {
        const k = await key(name);
        expect(k.owner).toBe('heir');
        expect(k.nextReviewAt).toBe(h.clock.now().toISOString());
      }
      expect((await key('owned-high')).primaryVersion).toBe(2);
      expect((await key('granted-high')).primaryVersion).toBe(2);
      expect((await key('owned-standard')).primaryVersion).toBe(1);
      expect((await key('team-owned')).primaryVersion).toBe(1);
      expect((await h.call('GET', '/v1/keys/granted-high/grants')).body.grants).toEqual([]);
      const [record] = await records('principal.offboard');
      expect(record).toMatchObject({
        actor: 'admin',
        outcome: 'success',
        details: { principal: 'alice', reassignTo: 'heir', tokensRevoked: 2, grantsRemoved: 1, reason: 'left the company' },
      });

      // A review done by the new owner's side clears the review the offboarding asked for.
      h.clock.advance(HOUR);
      const reviewed = await h.call('POST', '/v1/keys/owned-standard/review', {});
      expect(reviewed.body.nextReviewAt).toBe(new Date(h.clock.now().getTime() + 365 * DAY).toISOString());

      expect((await h.call('POST', '/v1/principals/alice/offboard', { reassignTo: 'heir' })).status).toBe(409);
    });

    it('refuses bad requests precisely and changes nothing', async () => {
      const alice = await h.principal('alice', ['key-user']);
      const keyAdmin = await h.principal('ka', ['key-admin']);
      await h.principal('gone', []);
      await h.call('POST', '/v1/principals/gone/offboard', { reassignTo: 'ka' });
      await h.createKey('a-key', 'aes-256-gcm', { owner: 'alice' });
      const cases: Array<[string, unknown, string | null, number, RegExp]> = [
        ['alice', { reassignTo: 'nobody' }, h.adminToken, 400, /^reassignTo: principal 'nobody' does not exist/],
        ['alice', { reassignTo: 'gone' }, h.adminToken, 400, /^reassignTo: principal 'gone' is disabled/],
        ['alice', { reassignTo: 'alice' }, h.adminToken, 400, /^reassignTo: must be another/],
        ['alice', {}, h.adminToken, 400, /reassignTo/],
        ['alice', { reassignTo: 'ka', extra: true }, h.adminToken, 400, /extra/],
        ['admin', { reassignTo: 'ka' }, h.adminToken, 400, /^id: a principal cannot offboard itself/],
        ['nobody', { reassignTo: 'ka' }, h.adminToken, 404, /nobody/],
        ['alice', { reassignTo: 'ka' }, keyAdmin, 403, /not allowed/],
      ];
      for (const [id, body, token, status, message] of cases) {
        const r = await h.call('POST', `/v1/principals/${id}/offboard`, body, token);
        expect(r.status, `${id} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).toBe(status);
        expect(r.body.error.message).toMatch(message);
      }
      expect((await h.call('GET', '/v1/auth/self', undefined, alice)).status).toBe(200);
      expect((await key('a-key')).owner).toBe('alice');
    });
  });

  describe('quorum approvals', () => {
    let requester: string;
    let approverA: string;
    let approverB: string;

    beforeEach(async () => {
      requester = await h.principal('ops', ['key-admin']);
      approverA = await h.principal('appr-a', ['approver']);
      approverB = await h.principal('appr-b', ['approver']);
      await h.createKey('crown', 'aes-256-gcm', { class: 'critical', owner: 'team-sec' });
      expect((await h.call('POST', '/v1/keys/crown/rotate', {}, requester)).status).toBe(200);
      expect((await h.call('POST', '/v1/keys/crown/versions/1/deactivate', undefined, requester)).status).toBe(200);
    });

    const destroyV1 = async (token: string) => {
      const r = await h.call('POST', '/v1/keys/crown/versions/1/destroy', undefined, token);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return r.body.approval as Json;
    };
    const vote = (id: string, decision: 'approve' | 'deny', token: string, comment?: string) =>
      h.call('POST', `/v1/approvals/${id}/${decision}`, comment === undefined ? undefined : { comment }, token);
    const versionState = async (n: number) => (await key('crown')).versions.find((v: Json) => v.version === n).state as string;

    it('holds a destroy until two distinct approvers approve, then runs it exactly once as the requester', async () => {
      const approval = await destroyV1(requester);
      expect(approval).toMatchObject({
        state: 'pending',
        rule: 'destroyVersion',
        key: 'crown',
        keyClass: 'critical',
        environment: 'prod',
        operation: { type: 'destroyVersion', version: 1 },
        requester: 'ops',
        required: 2,
        approvals: [],
        expiresAt: new Date(h.clock.now().getTime() + 24 * HOUR).toISOString(),
      });
      expect(await versionState(1)).toBe('deactivated');

      // Nobody approves their own request, and only approvers vote.
      expect((await vote(approval.id, 'approve', requester)).status).toBe(403);
      expect((await vote(approval.id, 'approve', h.adminToken)).status).toBe(403);

      const first = await vote(approval.id, 'approve', approverA, 'checked the ticket');
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body).toMatchObject({ state: 'pending', approvals: [{ principal: 'appr-a', comment: 'checked the ticket' }] });
      expect((await vote(approval.id, 'approve', approverA)).status).toBe(409);
      expect(await versionState(1)).toBe('deactivated');

      const second = await vote(approval.id, 'approve', approverB);
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      expect(second.body).toMatchObject({ state: 'executed', executedAt: h.clock.now().toISOString(), error: null });
      expect(await versionState(1)).toBe('destroyed');
      expect((await vote(approval.id, 'approve', await h.principal('appr-c', ['approver']))).status).toBe(409);

      const destroys = (await records('version.destroy')).filter((r) => r.outcome === 'success');
      expect(destroys).toHaveLength(2);
      const [held, ran] = destroys;
      expect(held).toMatchObject({
        actor: 'ops',
        keyVersion: 1,
        details: { approval: approval.id, held: 'classes.critical.quorum.destroyVersion' },
      });
      expect(ran).toMatchObject({ actor: 'ops', keyVersion: 1, details: { approval: approval.id, approvedBy: 'appr-a,appr-b' } });
      expect((await records('approval.vote')).map((r) => [r.actor, r.outcome, r.details.state])).toEqual([
        ['ops', 'denied', undefined],
        ['admin', 'denied', undefined],
        ['appr-a', 'success', 'pending'],
        ['appr-a', 'error', undefined],
        ['appr-b', 'success', 'approved'],
        ['appr-c', 'error', undefined],
      ]);
      const listed = await h.call('GET', '/v1/approvals?state=executed', undefined, approverA);
      expect(listed.body.approvals.map((a: Json) => a.id)).toEqual([approval.id]);
    });

    it('concurrent final approvals run the operation once', async () => {
      const approverC = await h.principal('appr-c', ['approver']);
      const approval = await destroyV1(requester);
      expect((await vote(approval.id, 'approve', approverA)).status).toBe(200);
      const results = await Promise.all([vote(approval.id, 'approve', approverB), vote(approval.id, 'approve', approverC)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      const ran = (await records('version.destroy')).filter((r) => r.outcome === 'success' && r.details.approvedBy !== undefined);
      expect(ran).toHaveLength(1);
    });

    it('no role bypasses the quorum; each sensitive operation the class names is held', async () => {
      const approval = await destroyV1(h.adminToken);
      expect(approval.requester).toBe('admin');
      const deletion = await h.call('POST', '/v1/keys/crown/schedule-deletion', { days: 30 }, requester);
      expect(deletion.status).toBe(202);
      expect(deletion.body.approval).toMatchObject({ rule: 'scheduleDeletion', operation: { type: 'scheduleDeletion', days: 30 } });
      const downgrade = await h.call('PATCH', '/v1/keys/crown', { class: 'standard' }, requester);
      expect(downgrade.status).toBe(202);
      expect(downgrade.body.approval).toMatchObject({
        rule: 'downgrade',
        operation: { type: 'downgrade', from: 'critical', to: 'standard' },
      });
      expect((await key('crown')).class).toBe('critical');
      expect((await key('crown')).state).toBe('enabled');
      // An upgrade and a quorum of 0 (critical: disable) run at once.
      expect((await h.call('POST', '/v1/keys/crown/disable', undefined, requester)).status).toBe(200);
      await h.createKey('plain', 'aes-256-gcm', { class: 'low' });
      const upgrade = await h.call('PATCH', '/v1/keys/plain', { class: 'high', rotationPeriod: '90d', deletionWindowDays: 30 }, requester);
      expect(upgrade.status, JSON.stringify(upgrade.body)).toBe(200);

      // The downgrade runs once approved, exactly as asked.
      await vote(downgrade.body.approval.id, 'approve', approverA);
      const done = await vote(downgrade.body.approval.id, 'approve', approverB);
      expect(done.body.state).toBe('executed');
      expect((await key('crown')).class).toBe('standard');
    });

    it('grant changes are held where the class says so and run after approval', async () => {
      await h.createKey('std', 'aes-256-gcm', { class: 'standard' });
      await h.principal('svc', ['key-user']);
      const held = await h.call('POST', '/v1/keys/std/grants', { principal: 'svc', operations: ['encrypt'] }, requester);
      expect(held.status, JSON.stringify(held.body)).toBe(202);
      expect((await h.call('GET', '/v1/keys/std/grants')).body.grants).toEqual([]);
      const done = await vote(held.body.approval.id, 'approve', approverA);
      expect(done.body.state).toBe('executed');
      const grants = (await h.call('GET', '/v1/keys/std/grants')).body.grants;
      expect(grants).toMatchObject([{ principal: 'svc', operations: ['encrypt'] }]);
      const removal = await h.call('DELETE', `/v1/keys/std/grants/${grants[0].id}`, undefined, requester);
      expect(removal.status).toBe(202);
      expect((await vote(removal.body.approval.id, 'approve', approverB)).body.state).toBe('executed');
      expect((await h.call('GET', '/v1/keys/std/grants')).body.grants).toEqual([]);
    });

    it('expired requests, denials and withdrawals never run', async () => {
      const expiring = await destroyV1(requester);
      await vote(expiring.id, 'approve', approverA);
      h.clock.advance(24 * HOUR);
      const late = await vote(expiring.id, 'approve', approverB);
      expect(late.status).toBe(409);
      expect(late.body.error.message).toMatch(/expired/);
      expect((await h.call('GET', `/v1/approvals/${expiring.id}`, undefined, approverB)).body.state).toBe('expired');

      const denied = await destroyV1(requester);
      const no = await vote(denied.id, 'deny', approverA, 'no ticket');
      expect(no.body).toMatchObject({ state: 'denied', denial: { principal: 'appr-a', comment: 'no ticket' } });
      expect((await vote(denied.id, 'approve', approverB)).status).toBe(409);

      const withdrawn = await destroyV1(requester);
      expect((await vote(withdrawn.id, 'deny', requester)).body).toMatchObject({ state: 'denied', denial: { principal: 'ops' } });
      expect(await versionState(1)).toBe('deactivated');
    });

    it('an approval fails, and runs nothing, when its requester was offboarded meanwhile', async () => {
      await h.principal('heir', ['key-admin']);
      const approval = await destroyV1(requester);
      expect((await h.call('POST', '/v1/principals/ops/offboard', { reassignTo: 'heir' })).status).toBe(200);
      await vote(approval.id, 'approve', approverA);
      const done = await vote(approval.id, 'approve', approverB);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ state: 'failed', error: { code: 'forbidden' } });
      expect(await versionState(1)).toBe('deactivated');
    });

    it('approvers act only in their environments; bad requests are refused precisely', async () => {
      const devApprover = await h.principal('appr-dev', ['approver'], { environments: ['dev'] });
      const approval = await destroyV1(requester);
      expect((await vote(approval.id, 'approve', devApprover)).status).toBe(403);
      expect((await h.call('GET', '/v1/approvals', undefined, devApprover)).body.approvals).toEqual([]);
      expect((await h.call('GET', `/v1/approvals/${approval.id}`, undefined, devApprover)).status).toBe(403);
      const both = await h.principal('both', ['key-admin', 'approver']);
      const own = await destroyV1(both);
      const selfVote = await vote(own.id, 'approve', both);
      expect(selfVote.status).toBe(403);
      expect(selfVote.body.error.message).toBe("'both' requested this operation and cannot approve it");
      const keyUser = await h.principal('user', ['key-user']);
      expect((await h.call('GET', '/v1/approvals', undefined, keyUser)).status).toBe(403);
      expect((await h.call('GET', '/v1/approvals?state=maybe')).status).toBe(400);
      expect((await h.call('GET', '/v1/approvals/not-a-uuid')).status).toBe(400);
      expect((await h.call('GET', '/v1/approvals/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await vote(approval.id, 'approve', approverA, 'x'.repeat(2000))).status).toBe(400);
      expect((await h.call('GET', '/v1/approvals?cursor=bogus')).status).toBe(400);
    });
  });
});

describe('the policy file: governance rules', () => {
  it('takes quorum, review, unused-key and offboarding rules per class, and an approval TTL', () => {
    const policy = parsePolicy(`approvals:
  ttl: 4h
classes:
  high:
    quorum:
      disable: 1
    reviewInterval: 30d
    unusedKeyThreshold: null
    rotateOnOffboarding: false
`);
    expect(policy.approvals.ttl).toBe('4h');
    expect(policy.classes.high).toMatchObject({
      quorum: { scheduleDeletion: 0, destroyVersion: 0, disable: 1, downgrade: 0, grantChange: 0, export: 0 },
      reviewInterval: '30d',
      unusedKeyThreshold: null,
      rotateOnOffboarding: false,
    });
    expect(policy.classes.critical.quorum.destroyVersion).toBe(2);
  });

  it.each([
    ['classes:\n  high:\n    quorum:\n      destroy: 1\n', /^classes\.high\.quorum\.destroy: is not a known setting \(line 4\)$/],
    ['classes:\n  high:\n    quorum:\n      disable: 10\n', /^classes\.high\.quorum\.disable: must be <= 9 \(line 4\)$/],
    ['classes:\n  low:\n    reviewInterval: 2w\n', /^classes\.low\.reviewInterval: /],
    ['approvals:\n  ttl: 0h\n', /^approvals\.ttl: /],
  ])('refuses %j whole, naming the setting', (text, message) => {
    expect(() => parsePolicy(text)).toThrow(PolicyError);
    expect(() => parsePolicy(text)).toThrow(message);
  });
});
