import type { AlertList, AlertView, PolicyStatusView } from '@keyward/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { describeSubject, renderAlert, renderAlertList } from '../src/commands/alert-command.js';
import { buildCli, keyward } from './support/keyward-process.js';

describe('keyward alerts and policy commands against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  const run = (args: string[]) => keyward(args, { env });

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
  }, 120_000);
  afterAll(async () => server?.stop());

  it('alerts list: empty at first, as a table and as JSON', async () => {
    const table = await run(['alerts', 'list', '--state', 'open']);
    expect([table.code, table.stdout, table.stderr]).toEqual([0, 'no alerts\n', '']);
    const json = await run(['--json', 'alerts', 'list', '--all']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout) as AlertList).toEqual({ alerts: [], nextCursor: null });
  });

  it('policy status: the defaults when DATA/policy.yaml does not exist', async () => {
    const out = await run(['policy', 'status']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/Source: +defaults \(no file\)\n/);
    expect(out.stdout).toContain(`${server.dataDir}/policy.yaml`);
    // The class standards in force, one row per class ('-': no default or no limit).
    expect(out.stdout).toContain('Class standards (docs/governance.md):\n');
    expect(out.stdout).toMatch(/\ncritical +90d +90d +- +all +software +30d +30d +no\n/);
    expect(out.stdout).toMatch(/\nlow +- +- +- +all +software +7d +7d +yes\n/);
    expect(out.stdout).toContain('Class governance (reviews, unused keys, quorum approvals, offboarding):\n');
    expect(out.stdout).toMatch(/\ncritical +90d +90d +scheduleDeletion=2,destroyVersion=2,downgrade=2,export=2 +yes\n/);
    expect(out.stdout).toMatch(/\nlow +- +- +- +no\n/);
    // The Cedar policy directory: DATA/policies, absent, so only the shipped policies.
    expect(out.stdout).toMatch(new RegExp(`\\nCedar directory: +${server.dataDir}/policies\\n`));
    expect(out.stdout).toMatch(/\nCedar policies: +- \(shipped policies only\)\n/);
    expect(out.stdout).toMatch(/\nCedar last error: +-\n/);
    const json = JSON.parse((await run(['--json', 'policy', 'status'])).stdout) as PolicyStatusView;
    expect(json).toMatchObject({ source: 'defaults', digest: null, lastError: null });
    expect(json.cedar).toMatchObject({ directory: `${server.dataDir}/policies`, files: [], policies: [], digest: null, lastError: null });
    expect(json.classes.high).toEqual({
      rotationPeriod: '180d',
      maxRotationPeriod: '180d',
      maxUsesPerVersion: null,
      algorithms: null,
      protection: 'software',
      deletionWindowDays: 30,
      minDeletionWindowDays: 14,
      exportable: true,
      reviewInterval: '180d',
      unusedKeyThreshold: '180d',
      quorum: { scheduleDeletion: 0, destroyVersion: 0, disable: 0, downgrade: 0, grantChange: 0, export: 0 },
      rotateOnOffboarding: true,
    });
  });

  it('refusals and usage errors have their exit codes', async () => {
    const missing = await run(['alerts', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('not_found');
    expect((await run(['alerts', 'resolve', '00000000-0000-4000-8000-000000000000'])).code).toBe(2); // --note is required
    expect((await run(['alerts', 'list', '--state', 'closed'])).code).toBe(2);
    const bad = await run(['alerts', 'ack', 'not-an-id']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('params.id');
  });
});

describe('alert rendering', () => {
  const alert: AlertView = {
    id: '6f1c2a8e-0000-4000-8000-000000000001',
    type: 'invalid_ciphertext_burst',
    severity: 'high',
    state: 'acknowledged',
    summary: '5 or more ciphertexts for key \u001b[2Jpayments were refused',
    subject: { namespace: 'default', key: 'payments', version: null, principal: null, source: null },
    firstSeen: '2026-06-01T10:00:00.000Z',
    lastSeen: '2026-06-01T10:00:04.000Z',
    count: 5,
    evidence: {
      facts: { inWindow: 5, threshold: 5, window: '1m' },
      records: [
        {
          chain: 'node-a',
          chainSeq: 42,
          seq: 42,
          time: '2026-06-01T10:00:04.000Z',
          action: 'crypto.decrypt',
          actor: 'svc-a',
          source: '10.0.0.1',
          outcome: 'error',
          errorCode: 'invalid_ciphertext',
          requestId: 'r1',
        },
      ],
    },
    nextSteps: ['Find who sent them.', 'Fix the client.'],
    raisedAt: '2026-06-01T10:00:05.000Z',
    updatedAt: '2026-06-01T10:01:00.000Z',
    acknowledgedAt: '2026-06-01T10:01:00.000Z',
    acknowledgedBy: 'admin',
    acknowledgeNote: 'on it',
    resolvedAt: null,
    resolvedBy: null,
    resolveNote: null,
  };

  it('shows the summary, facts, evidence and numbered next steps, with control characters escaped', () => {
    const text = renderAlert(alert);
    expect(text).toMatch(/Summary: +5 or more ciphertexts for key \\u001b\[2Jpayments were refused\n/);
    expect(text).toMatch(/Acknowledged: +2026-06-01T10:01:00.000Z by admin\n/);
    expect(text).toMatch(/Fact window: +1m\n/);
    expect(text).toMatch(/node-a +42 +crypto\.decrypt +svc-a +10\.0\.0\.1 +error +invalid_ciphertext/);
    expect(text).toContain('Next steps:\n  1. Find who sent them.\n  2. Fix the client.\n');
    expect(renderAlertList([alert])).toMatch(/invalid_ciphertext_burst +high +acknowledged +5 +default\/payments/);
  });

  it('describes subjects by the fields that apply', () => {
    expect(describeSubject({ namespace: 'ns', key: 'k', version: 2, principal: 'svc', source: null })).toBe('ns/k v2 svc');
    expect(describeSubject({ namespace: null, key: null, version: null, principal: null, source: '203.0.113.9' })).toBe('203.0.113.9');
  });
});
