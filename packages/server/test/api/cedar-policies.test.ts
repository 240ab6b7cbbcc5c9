import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyDirectory } from '../../src/policy/cedar/policy-directory.js';
import { b64, Harness, type Response } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

const FORBID_ENCRYPT = `// Nobody encrypts with cedar-key any more.
@id("ops-retire-cedar-key")
forbid (principal, action == Keyward::Action::"crypto.encrypt", resource == Keyward::Key::"cedar-key");
`;

/**
 * The operator's policy directory on a running server: a policy written into
 * it applies to the next request after a reload, without a restart; a set
 * that does not parse or validate is refused whole and the previous policies
 * stay in force (docs/governance.md, "Cedar policies").
 */
describe.each(STORE_KINDS)('Cedar policy directory (%s)', (store) => {
  let h: Harness;
  let dir: string;
  let policies: PolicyDirectory;
  let user: string;

  const encrypt = () => h.call('POST', '/v1/keys/cedar-key/encrypt', { plaintext: b64('cedar plaintext') }, user);
  const reasonOf = async (r: Response) =>
    (await h.store.listAudit(0, 1_000_000)).find((a) => a.requestId === r.body.error.requestId)?.details.reason;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-cedar-'));
    policies = await PolicyDirectory.open(dir);
    h = await Harness.start({ store, policies });
    await h.createKey('cedar-key', 'aes-256-gcm', { environment: 'prod' });
    user = await h.principal('svc-cedar', ['key-user']);
    await h.grant('cedar-key', 'svc-cedar', ['encrypt']);
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with the shipped policies only; GET /v1/sys/policy shows the empty directory', async () => {
    expect((await encrypt()).status).toBe(200);
    const status = (await h.call('GET', '/v1/sys/policy')).body;
    expect(status.cedar).toMatchObject({ directory: dir, files: [], policies: [], digest: null, lastError: null, lastErrorAt: null });
  });

  it('a forbid written into the directory applies to the next request after a reload, naming the policy', async () => {
    expect((await encrypt()).status).toBe(200); // a cached allow
    writeFileSync(join(dir, 'retire.cedar'), FORBID_ENCRYPT);
    expect(await policies.reload()).toBeNull();
    const refused = await encrypt();
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    expect(await reasonOf(refused)).toBe('forbid ops-retire-cedar-key');
    const status = (await h.call('GET', '/v1/sys/policy')).body.cedar;
    expect(status).toMatchObject({ files: ['retire.cedar'], policies: ['ops-retire-cedar-key'], lastError: null });
    expect(status.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a broken file (syntax, or against the schema) is refused whole with its file and line; the previous policies stay', async () => {
    const before = (await h.call('GET', '/v1/sys/policy')).body.cedar;
    writeFileSync(join(dir, 'broken.cedar'), '@id("ops-broken")\npermit (principal, action, resource)\nwhen { 1 + };\n');
    expect((await policies.reload())?.message).toMatch(/^broken\.cedar:3: .*unexpected token/);
    expect((await encrypt()).status).toBe(403);
    let status = (await h.call('GET', '/v1/sys/policy')).body.cedar;
    expect(status).toMatchObject({ files: ['retire.cedar'], digest: before.digest, loadedAt: before.loadedAt });
    expect(status.lastError).toMatch(/^broken\.cedar:3: /);
    expect(status.lastErrorAt).not.toBeNull();

    writeFileSync(
      join(dir, 'broken.cedar'),
      '@id("ops-typo")\npermit (principal, action, resource is Keyward::Key)\nwhen { resource.colour == "red" };\n',
    );
    expect((await policies.reload())?.message).toMatch(/^broken\.cedar:3: .*attribute `colour` on entity type `Keyward::Key` not found/);
    expect((await encrypt()).status).toBe(403);
    status = (await h.call('GET', '/v1/sys/policy')).body.cedar;
    expect(status).toMatchObject({ files: ['retire.cedar'], policies: ['ops-retire-cedar-key'] });

    // A second file may not reuse a policy id, the shipped ones' included.
    writeFileSync(join(dir, 'broken.cedar'), '@id("keyward-admin")\npermit (principal, action, resource);\n');
    expect((await policies.reload())?.message).toBe('broken.cedar:1: policy id keyward-admin is already used (by a shipped policy)');
  });

  it('removing the files restores the shipped policies on the next request', async () => {
    unlinkSync(join(dir, 'broken.cedar'));
    unlinkSync(join(dir, 'retire.cedar'));
    expect(await policies.reload()).toBeNull();
    expect((await encrypt()).status).toBe(200);
    expect((await h.call('GET', '/v1/sys/policy')).body.cedar).toMatchObject({ files: [], policies: [], lastError: null });
  });
});
