import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyFile } from '../../src/policy/policy-file.js';
import { ManualClock } from '../../src/service/clock.js';
import { Harness } from '../support/harness.js';
import { OidcIssuer } from '../support/oidc-issuer.js';
import { STORE_KINDS } from '../support/stores.js';

/** The policy's `oidc:` section for `issuer`, with extra top-level YAML after it. */
function policyYaml(issuer: OidcIssuer, options: { groups?: string; extra?: string; jwksUri?: string } = {}): string {
  return [
    'oidc:',
    `  issuer: ${issuer.issuer}`,
    `  audience: ${issuer.audience}`,
    ...(options.jwksUri === undefined ? [] : [`  jwksUri: ${options.jwksUri}`]),
    '  groups:',
    options.groups ??
      [
        '    kms-admins: { roles: [admin] }',
        '    kms-auditors: { roles: [auditor] }',
        '    kms-dev: { roles: [key-admin], environments: [dev], teams: [team-dev] }',
      ].join('\n'),
    options.extra ?? '',
  ].join('\n');
}

describe.each(STORE_KINDS)('OIDC people (%s)', (store) => {
  let h: Harness;
  let issuer: OidcIssuer;
  let dir: string;
  let file: PolicyFile;

  const clock = () => h.clock.now();
  /** Rewrites the policy file and reloads it (as the watcher or SIGHUP would). */
  async function setPolicy(text: string): Promise<void> {
    writeFileSync(join(dir, 'policy.yaml'), text);
    expect(await file.reload()).toBeNull();
  }
  const refused = (r: { status: number; body: any }) => {
    expect(r.status, JSON.stringify(r.body)).toBe(401);
    expect(r.body.error.code).toBe('unauthenticated');
    return r.body.error.message as string;
  };

  beforeAll(async () => {
    issuer = await OidcIssuer.start();
    dir = mkdtempSync(join(tmpdir(), 'kw-oidc-'));
    writeFileSync(join(dir, 'policy.yaml'), policyYaml(issuer));
    file = await PolicyFile.open(join(dir, 'policy.yaml'), { clock: new ManualClock('2026-06-01T00:00:00.000Z') });
    h = await Harness.start({ store, policy: file });
  });
  afterAll(async () => {
    await h.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a valid token maps its groups to roles, environments and teams; the audit record names the OIDC principal', async () => {
    const token = await issuer.token('alice', ['kms-dev', 'unmapped-group'], clock());
    const self = await h.call('GET', '/v1/auth/self', undefined, token);
    expect(self.status, JSON.stringify(self.body)).toBe(200);
    expect(self.body.principal).toMatchObject({ id: 'oidc-alice', kind: 'user', environments: ['dev'], teams: ['team-dev'] });
    expect(self.body.roles).toEqual(['key-admin']);
    // key-admin in dev: creates a dev key, not a prod one.
    const dev = await h.call(
      'POST',
      '/v1/keys',
      { name: 'oidc-dev-key', algorithm: 'aes-256-gcm', owner: 'team-dev', environment: 'dev' },
      token,
    );
    expect(dev.status, JSON.stringify(dev.body)).toBe(201);
    const prod = await h.call('POST', '/v1/keys', { name: 'oidc-prod-key', algorithm: 'aes-256-gcm', owner: 'team-dev' }, token);
    expect(prod.status).toBe(403);
    const records = await h.store.listAudit(0, 100_000);
    const created = records.find((r) => r.action === 'key.create' && r.key === 'oidc-dev-key');
    expect(created).toMatchObject({ actor: 'oidc-alice', outcome: 'success' });
  });

  it('an admin acts at admin level only with a second factor in amr; reads need none', async () => {
    const plain = await issuer.token('root', ['kms-admins'], clock(), { claims: { amr: ['pwd'] } });
    expect((await h.call('GET', '/v1/keys', undefined, plain)).status).toBe(200);
    expect((await h.call('GET', '/v1/sys/policy', undefined, plain)).status).toBe(200);
    const message = refused(await h.call('POST', '/v1/keys', { name: 'root-key', algorithm: 'aes-256-gcm', owner: 'team-x' }, plain));
    expect(message).toContain('second factor is required');
    const records = await h.store.listAudit(0, 100_000);
    expect(records.at(-1)).toMatchObject({
      actor: 'oidc-root',
      action: 'key.create',
      outcome: 'denied',
      errorCode: 'unauthenticated',
      details: { secondFactor: 'missing' },
    });

    const strong = await issuer.token('root', ['kms-admins'], clock(), { claims: { amr: ['pwd', 'otp'] } });
    const created = await h.call('POST', '/v1/keys', { name: 'root-key', algorithm: 'aes-256-gcm', owner: 'team-x' }, strong);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // amr values outside oidc.secondFactorAmr do not count.
    const odd = await issuer.token('root', ['kms-admins'], clock(), { claims: { amr: ['pwd', 'kba'] } });
    refused(await h.call('POST', '/v1/keys/root-key/rotate', {}, odd));
  });

  it('refuses a wrong issuer, a wrong audience, an expired or not-yet-valid token', async () => {
    const now = clock();
    expect(
      refused(
        await h.call(
          'GET',
          '/v1/auth/self',
          undefined,
          await issuer.token('a', ['kms-auditors'], now, { claims: { iss: 'http://127.0.0.1:1' } }),
        ),
      ),
    ).toContain('iss');
    expect(
      refused(
        await h.call(
          'GET',
          '/v1/auth/self',
          undefined,
          await issuer.token('a', ['kms-auditors'], now, { claims: { aud: 'someone-else' } }),
        ),
      ),
    ).toContain('aud');
    expect(
      refused(await h.call('GET', '/v1/auth/self', undefined, await issuer.token('a', ['kms-auditors'], now, { expiresIn: -60 }))),
    ).toContain('expired');
    const nbf = Math.floor(now.getTime() / 1000) + 3600;
    expect(
      refused(await h.call('GET', '/v1/auth/self', undefined, await issuer.token('a', ['kms-auditors'], now, { claims: { nbf } }))),
    ).toContain('nbf');
    // A token valid for the real clock but not for Keyward's: the injected clock decides.
    h.clock.advance(10 * 60_000);
    refused(await h.call('GET', '/v1/auth/self', undefined, await issuer.token('a', ['kms-auditors'], now)));
  });

  it('refuses a bad signature, an unknown kid and alg none', async () => {
    const forged = await issuer.token('a', ['kms-admins'], clock(), { rogue: true });
    expect(refused(await h.call('GET', '/v1/auth/self', undefined, forged))).toContain('signature');
    const unknownKid = await issuer.token('a', ['kms-admins'], clock(), { rogue: true, kid: 'not-in-the-jwks' });
    expect(refused(await h.call('GET', '/v1/auth/self', undefined, unknownKid))).toContain('matches');
    refused(await h.call('GET', '/v1/auth/self', undefined, issuer.unsecured('a', ['kms-admins'], clock())));
    // A signature cut off a valid token, and a payload swapped under a valid signature.
    const valid = await issuer.token('a', ['kms-auditors'], clock());
    const [head, body, signature] = valid.split('.');
    refused(await h.call('GET', '/v1/auth/self', undefined, `${head}.${body}.`));
    const admin = (await issuer.token('a', ['kms-admins'], clock())).split('.')[1];
    refused(await h.call('GET', '/v1/auth/self', undefined, `${head}.${admin}.${signature}`));
  });

  it('refuses a person in no mapped group, a subject that cannot be a principal id, and an offboarded principal', async () => {
    expect(refused(await h.call('GET', '/v1/auth/self', undefined, await issuer.token('bob', ['elsewhere'], clock())))).toContain(
      'no group',
    );
    refused(await h.call('GET', '/v1/auth/self', undefined, await issuer.token('bob', [], clock())));
    expect(
      refused(await h.call('GET', '/v1/auth/self', undefined, await issuer.token('Bob@Example', ['kms-auditors'], clock()))),
    ).toContain('cannot be mapped');
    expect((await h.call('POST', '/v1/principals', { id: 'oidc-carol', kind: 'user' })).status).toBe(201);
    const carol = await issuer.token('carol', ['kms-auditors'], clock());
    expect((await h.call('GET', '/v1/auth/self', undefined, carol)).status).toBe(200);
    // Offboarding the stored principal of the person's id locks the person out at once.
    expect((await h.call('POST', '/v1/principals/oidc-carol/offboard', { reassignTo: 'admin' })).status).toBe(200);
    expect(refused(await h.call('GET', '/v1/auth/self', undefined, carol))).toContain('disabled');
  });

  it("an OIDC person's held operation runs, once approved, as the identity that asked (not stored, so not refused as unknown)", async () => {
    const token = await issuer.token('erin', ['kms-dev'], clock(), { expiresIn: 3600 });
    expect(
      (
        await h.call('POST', '/v1/keys', {
          name: 'oidc-crown',
          algorithm: 'aes-256-gcm',
          owner: 'team-dev',
          class: 'critical',
          environment: 'dev',
        })
      ).status,
    ).toBe(201);
    const held = await h.call('POST', '/v1/keys/oidc-crown/schedule-deletion', { days: 30 }, token);
    expect(held.status, JSON.stringify(held.body)).toBe(202);
    expect(held.body.approval.requester).toBe('oidc-erin');
    for (const id of ['oidc-appr-a', 'oidc-appr-b']) {
      expect((await h.call('POST', '/v1/principals', { id, kind: 'user', roles: ['approver'] })).status).toBe(201);
      const approver = (await h.call('POST', `/v1/principals/${id}/tokens`, {})).body.token as string;
      expect((await h.call('POST', `/v1/approvals/${held.body.approval.id}/approve`, undefined, approver)).status).toBe(200);
    }
    const done = await h.call('GET', `/v1/approvals/${held.body.approval.id}`);
    expect(done.body).toMatchObject({ state: 'executed', error: null });
    expect((await h.call('GET', '/v1/keys/oidc-crown')).body.state).toBe('pending_deletion');
    const ran = (await h.store.listAudit(0, 100_000)).filter(
      (r) => r.action === 'key.schedule-deletion' && r.outcome === 'success' && r.details.approvedBy !== undefined,
    );
    expect(ran).toMatchObject([{ actor: 'oidc-erin', key: 'oidc-crown' }]);
  });

  it('follows the policy file: a reload changes the mapping, mfa: off, and no oidc: section means no JWTs', async () => {
    const token = await issuer.token('dana', ['kms-auditors'], clock(), { expiresIn: 3600 });
    expect((await h.call('GET', '/v1/auth/self', undefined, token)).body.roles).toEqual(['auditor']);
    await setPolicy(policyYaml(issuer, { groups: '    kms-auditors: { roles: [admin] }' }));
    expect((await h.call('GET', '/v1/auth/self', undefined, token)).body.roles).toEqual(['admin']);
    refused(await h.call('POST', '/v1/keys', { name: 'dana-key', algorithm: 'aes-256-gcm', owner: 'team-x' }, token));
    await setPolicy(policyYaml(issuer, { groups: '    kms-auditors: { roles: [admin] }', extra: 'mfa:\n  admin: "off"' }));
    expect((await h.call('POST', '/v1/keys', { name: 'dana-key', algorithm: 'aes-256-gcm', owner: 'team-x' }, token)).status).toBe(201);
    await setPolicy('version: 1\n');
    refused(await h.call('GET', '/v1/auth/self', undefined, token));
    // Keyward tokens are unaffected throughout.
    expect((await h.call('GET', '/v1/auth/self')).status).toBe(200);
    await setPolicy(policyYaml(issuer));
  });

  it('an issuer whose keys cannot be fetched refuses with 401 and a log line, not a 500; it recovers', async () => {
    await setPolicy(policyYaml(issuer, { jwksUri: 'http://127.0.0.1:1/jwks' }));
    const token = await issuer.token('erin', ['kms-auditors'], clock(), { expiresIn: 3600 });
    expect(refused(await h.call('GET', '/v1/auth/self', undefined, token))).toContain('cannot be fetched');
    expect(h.logs.some((line) => line.includes("the OIDC issuer's keys (JWKS) cannot be fetched"))).toBe(true);

    // An issuer whose discovery document cannot be fetched.
    await setPolicy(policyYaml(issuer).replace(`issuer: ${issuer.issuer}`, 'issuer: http://127.0.0.1:1'));
    expect(refused(await h.call('GET', '/v1/auth/self', undefined, token))).toContain('cannot be reached to discover its keys');
    expect(h.logs.some((line) => line.includes('cannot be reached to discover its keys'))).toBe(true);

    // Discovery (no jwksUri) against an issuer whose JWKS endpoint fails.
    issuer.jwksStatus = 500;
    await setPolicy(policyYaml(issuer));
    expect(refused(await h.call('GET', '/v1/auth/self', undefined, token))).toContain('cannot be fetched');
    issuer.jwksStatus = 200;
    await setPolicy(`${policyYaml(issuer)}\n# reloaded\n`);
    expect((await h.call('GET', '/v1/auth/self', undefined, token)).status).toBe(200);
  });

  it('never records or logs the bearer JWTs (checked again on close)', async () => {
    const token = await issuer.token('frank', ['kms-auditors'], clock());
    expect((await h.call('GET', '/v1/auth/self', undefined, token)).status).toBe(200);
    const haystack = `${h.logs.join('\n')}\n${JSON.stringify(await h.store.listAudit(0, 100_000))}`;
    expect(haystack).not.toContain(token);
    expect(haystack).not.toContain(token.split('.')[2]);
  });
});
