import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeywardClient } from '../../sdk/src/index.js';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

const CHECKS = [
  'containment',
  'encrypt with the old version refused',
  'decrypt per policy',
  'rotation',
  'alert delivery',
  'blast radius matches the drill traffic',
  'refused attempts listed after containment',
  'recovery',
  'incident closed',
];

/** `keyward drill compromise` as an operator runs it: a real CLI process against a real server process. */
describe('keyward drill compromise against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  let admin: KeywardClient;

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
    admin = new KeywardClient({ address: server.url, token: server.token, namespace: 'keyward-drill' });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('passes every check, prints time to contain and time to re-key, and cleans up', async () => {
    const run = await keyward(['drill', 'compromise'], { env });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).toBe('');
    for (const name of CHECKS) expect(run.stdout).toMatch(new RegExp(`^PASS  ${name}: `, 'm'));
    expect(run.stdout).not.toMatch(/^FAIL/m);
    expect(run.stdout).toMatch(/^time to contain: \d+ ms \(declared → every node dropped version 1/m);
    expect(run.stdout).toMatch(/^time to re-key: +\d+ ms \(declared → version 2 primary/m);
    expect(run.stdout).toMatch(/^drill PASSED: 9 of 9 checks$/m);
    // Shown in the CI log: the times of this run.
    console.info(
      run.stdout
        .split('\n')
        .filter((line) => line.startsWith('time to '))
        .join('\n'),
    );
    for (const step of ['contain', 'rotate', 'notify', 'blast_radius', 'recovery']) {
      expect(run.stdout).toMatch(new RegExp(`^  step +${step} +`, 'm'));
    }
    // The blast radius line names the drill traffic exactly.
    expect(run.stdout).toMatch(
      /^PASS {2}blast radius matches the drill traffic: drill-\S+ from \S+: data-key 2, decrypt 3, encrypt 5; 5 ciphertexts, 2 data keys issued$/m,
    );

    // Cleanup, as printed and as the server shows it.
    const key = /^ {2}cleanup +key keyward-drill\/(drill-\S+) scheduled for deletion on \S+ \(7 days, the minimum window\)$/m.exec(
      run.stdout,
    )?.[1];
    expect(key).toBeDefined();
    const principal = /^ {2}cleanup +principal (drill-\S+) offboarded: 1 token\(s\) revoked, 1 grant\(s\) removed$/m.exec(run.stdout)?.[1];
    expect(principal).toBeDefined();
    expect(await admin.getPrincipal(principal as string)).toMatchObject({ disabled: true, offboardedAt: expect.any(String) });
    expect(run.stdout).toMatch(/^ {2}cleanup +webhook \S+ deleted$/m);
    const shown = await admin.getKey(key as string);
    expect(shown).toMatchObject({ state: 'pending_deletion', primaryVersion: 2 });
    expect((await admin.listWebhooks()).webhooks).toEqual([]);
    const { grants } = await admin.listGrants(key as string);
    expect(grants).toEqual([]);
    const [incident] = (await admin.listIncidents({ key: key as string })).incidents;
    expect(incident).toMatchObject({ state: 'closed', rootCause: 'compromise drill (simulated)', recovery: { complete: true } });
  });

  it('--json prints the report; each run uses its own key', async () => {
    const run = await keyward(['drill', 'compromise', '--json', '--drill-namespace', 'drill-json'], { env });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ namespace: 'drill-json', passed: true, incident: expect.any(String) });
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual(CHECKS);
    expect(report.timeToContainMs).toEqual(expect.any(Number));
    expect(report.timeToRekeyMs).toEqual(expect.any(Number));
    expect(run.stderr).toMatch(/^PASS {2}containment: /m);
  });

  it('a drill that cannot reach its receiver fails the alert check and still cleans up', async () => {
    const run = await keyward(['drill', 'compromise', '--webhook-url', 'http://127.0.0.1:9/nobody', '--webhook-timeout', '2'], { env });
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^FAIL {2}alert delivery: missing after 2000 ms: version\.compromised, key\.rotated, incident\.opened$/m);
    expect(run.stdout).toMatch(/^drill FAILED: 1 of 9 checks failed$/m);
    expect(run.stdout).toMatch(/^ {2}cleanup +webhook \S+ deleted$/m);
  });
});
