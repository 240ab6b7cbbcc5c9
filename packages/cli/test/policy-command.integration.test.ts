import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

const EXAMPLES = join(REPO_ROOT, 'docs', 'cedar-examples');
const FIXTURES = join(REPO_ROOT, 'docs', 'cedar-fixtures');

/** `keyward policy test|explain`: offline, no server, as an operator's CI runs them. */
describe('keyward policy test and explain', () => {
  let dir: string;
  beforeAll(async () => {
    await buildCli();
    dir = mkdtempSync(join(tmpdir(), 'kw-policy-test-'));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the shipped fixtures of the built-in roles pass against the shipped policies', async () => {
    const out = await keyward(['policy', 'test', FIXTURES]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('29 passed, 0 failed');
    expect(lines.slice(0, -1).every((l) => l.startsWith('PASS  builtin-roles.yaml: '))).toBe(true);
    expect(out.stdout).toContain(
      'PASS  builtin-roles.yaml: admin scoped to dev cannot create a prod key: deny by keyward-environment-scope\n',
    );
  });

  it('the shipped examples pass their fixtures', async () => {
    const out = await keyward(['policy', 'test', EXAMPLES]);
    expect([out.code, out.stderr]).toEqual([0, '']);
    expect(out.stdout).toContain(
      'PASS  no-critical-export.yaml: nobody exports a critical key, admin included: deny by ops-no-critical-export\n',
    );
    expect(out.stdout).toContain(
      'PASS  service-business-hours.yaml: not on a Saturday at noon: deny by ops-service-decrypt-business-hours\n',
    );
    expect(out.stdout).toContain('PASS  no-cross-environment.yaml: the same member cannot use a prod key');
    expect(out.stdout.trim().split('\n').at(-1)).toBe('12 passed, 0 failed');
  });

  it('a failing case prints FAIL with what was expected and what decided, and exits 3; --json gives every result', async () => {
    const fixtures = join(dir, 'failing');
    rmSync(fixtures, { recursive: true, force: true });
    mkdirSync(fixtures);
    writeFileSync(
      join(fixtures, 'wrong.json'),
      JSON.stringify({
        cases: [
          { name: 'right', principal: { id: 'aud', roles: ['auditor'] }, action: 'audit.read', expect: 'allow' },
          { name: 'wrong', principal: { id: 'aud', roles: ['auditor'] }, action: 'key.rotate', key: { owner: 'x' }, expect: 'allow' },
          {
            name: 'wrong policy',
            principal: { id: 'root', roles: ['admin'] },
            action: 'key.list',
            expect: 'allow',
            policy: 'keyward-auditor',
          },
        ],
      }),
    );
    const out = await keyward(['policy', 'test', fixtures]);
    expect(out.code).toBe(3);
    expect(out.stdout).toBe(
      'PASS  wrong.json: right: allow by keyward-auditor\n' +
        'FAIL  wrong.json: wrong: expected allow, got deny (no policy permits)\n' +
        'FAIL  wrong.json: wrong policy: expected allow by keyward-auditor, got allow by keyward-admin\n' +
        '1 passed, 2 failed\n',
    );
    const json = await keyward(['--json', 'policy', 'test', fixtures]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout).map((r: { passed: boolean }) => r.passed)).toEqual([true, false, false]);
  });

  it('--policies takes the policies from another directory; a broken policy exits 2 naming its file and line', async () => {
    const withExamples = await keyward(['policy', 'test', FIXTURES, '--policies', EXAMPLES]);
    expect(withExamples.code).toBe(0);
    const broken = join(dir, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'ok.cedar'), '@id("ops-ok")\nforbid (principal, action == Keyward::Action::"sys.seal", resource);\n');
    writeFileSync(join(broken, 'typo.cedar'), '\n@id("ops-typo")\nforbid (principal, action, resource)\nwhen { principal.team == "x" };\n');
    const out = await keyward(['policy', 'test', FIXTURES, '--policies', broken]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(
      /^error: policies in .*broken: typo\.cedar:4: for policy `ops-typo`, attribute `team` on entity type `Keyward::Principal` not found/,
    );
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a fixture that does not follow the format exits 2 naming the file, case and field', async () => {
    const bad = join(dir, 'bad-fixture');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'a.yaml'), 'cases:\n  - principal: { id: x, roles: [superuser] }\n    action: key.list\n    expect: allow\n');
    const out = await keyward(['policy', 'test', bad]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(
      "a.yaml: cases[0].principal.roles: 'superuser' is not one of admin, key-admin, key-user, auditor, approver",
    );
  });

  it('explain: the decision and the policies that decided, from flags or a case file', async () => {
    const night = await keyward([
      'policy',
      'explain',
      '--policies',
      EXAMPLES,
      '--principal',
      'billing',
      '--kind',
      'service',
      '--roles',
      'key-user',
      '--action',
      'crypto.decrypt',
      '--key',
      'invoices',
      '--grant',
      'billing:encrypt,decrypt',
      '--time',
      '2026-06-02T22:00:00Z',
    ]);
    expect([night.code, night.stderr]).toEqual([0, '']);
    expect(night.stdout).toBe(
      'Decision: deny\nReason:   forbid ops-service-decrypt-business-hours\nDecided by: ops-service-decrypt-business-hours\n',
    );
    const file = join(dir, 'case.json');
    writeFileSync(
      file,
      JSON.stringify({ principal: { id: 'ops', roles: ['admin'], environments: ['dev'] }, action: 'key.create', environment: 'prod' }),
    );
    const fromFile = await keyward(['--json', 'policy', 'explain', '--case', file]);
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toEqual({
      allowed: false,
      reason: "'ops' is not scoped to environment prod",
      policies: ['keyward-environment-scope'],
      errors: [],
    });
    const missing = await keyward(['policy', 'explain', '--principal', 'x']);
    expect(missing.code).toBe(2);
  });
});
