import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

/**
 * `keyward key review`, `keyward principal offboard` and `keyward approval …`
 * against a real server with the default policy (critical keys: a quorum of
 * 2 to destroy a version).
 */
describe('keyward governance commands against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  const as = (token: string) => (args: string[]) => keyward(args, { env: { ...env, KEYWARD_TOKEN: token } });
  let admin: ReturnType<typeof as>;

  const token = async (id: string, role: string): Promise<string> => {
    expect((await admin(['principal', 'create', id, '--kind', 'user', '--role', role])).code).toBe(0);
    const issued = await admin(['token', 'create', id, '--json']);
    expect(issued.code, issued.stderr).toBe(0);
    return JSON.parse(issued.stdout).token as string;
  };

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_NAMESPACE: 'cli-governance' };
    admin = as(server.token);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('a held destroy is listed, approved by two approvers and runs; review and offboard print what they did', async () => {
    const ops = as(await token('cli-ops', 'key-admin'));
    const a = as(await token('cli-appr-a', 'approver'));
    const b = as(await token('cli-appr-b', 'approver'));
    expect(
      (await admin(['key', 'create', 'cli-crown', '--algorithm', 'aes-256-gcm', '--owner', 'cli-ops', '--class', 'critical'])).code,
    ).toBe(0);
    expect((await ops(['key', 'rotate', 'cli-crown'])).code).toBe(0);
    expect((await ops(['key', 'deactivate-version', 'cli-crown', '1'])).code).toBe(0);

    const held = await ops(['key', 'destroy-version', 'cli-crown', '1']);
    expect(held.code, held.stderr).toBe(0);
    expect(held.stdout).toMatch(/^held for approval: 2 approver\(s\) must approve before it runs$/m);
    const id = /^approve with: keyward approval approve ([0-9a-f-]{36})$/m.exec(held.stdout)?.[1] as string;
    expect(id).toBeDefined();

    const listed = await a(['approval', 'list', '--state', 'pending']);
    expect(listed.stdout).toMatch(new RegExp(`^${id} +pending +cli-crown +destroy version 1 +cli-ops +0/2 `, 'm'));
    const self = await ops(['approval', 'approve', id]);
    expect(self.code).not.toBe(0);
    expect(self.stderr).toMatch(/forbidden/);
    expect((await a(['approval', 'approve', id, '--comment', 'ticket SEC-1'])).stdout).toMatch(/^State: +pending$/m);
    const done = await b(['approval', 'approve', id]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^State: +executed$/m);
    expect(done.stdout).toMatch(/^Approvals: +2 of 2: cli-appr-a at \S+ \(ticket SEC-1\); cli-appr-b at \S+$/m);
    const shown = await admin(['key', 'show', 'cli-crown', '--json']);
    expect(JSON.parse(shown.stdout).versions.find((v: { version: number }) => v.version === 1).state).toBe('destroyed');

    const reviewed = await ops(['key', 'review', 'cli-crown', '--note', 'still used']);
    expect(reviewed.code, reviewed.stderr).toBe(0);
    expect(reviewed.stdout).toMatch(/^Last reviewed: +\d{4}-/m);

    await token('cli-heir', 'key-admin');
    const offboarded = await admin(['principal', 'offboard', 'cli-ops', '--reassign-to', 'cli-heir', '--reason', 'moved teams']);
    expect(offboarded.code, offboarded.stderr).toBe(0);
    expect(offboarded.stdout).toMatch(/^Tokens revoked: +1$/m);
    expect(offboarded.stdout).toMatch(/^Keys reassigned: +cli-governance\/cli-crown$/m);
    const refused = await ops(['key', 'show', 'cli-crown']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unauthenticated|disabled|revoked/);
  });
});
