import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PolicyFile } from '../../src/policy/policy-file.js';
import { ManualClock } from '../../src/service/clock.js';
import { b64, Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * Automatic containment: the policy names, per key class, the alert types
 * that open a key-compromise incident by themselves. A burst of forged
 * ciphertexts against a `critical` key contains it (its primary version
 * compromised, the key rotated) without anyone calling; the same burst
 * against a `standard` key only alerts.
 */
const POLICY = `
alerts:
  invalidCiphertext: { window: 1m, threshold: 5 }
incidents:
  autoContain:
    - class: critical
      alerts: [invalid_ciphertext_burst]
`;

describe.each(STORE_KINDS)('automatic containment (%s)', (store) => {
  let h: Harness;
  let dir: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-contain-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    const policy = await PolicyFile.open(join(dir, 'policy.yaml'), { clock: new ManualClock('2026-06-01T00:00:00.000Z') });
    h = await Harness.start({ store, policy, incidents: { ackTimeoutMs: 100 } });
    await h.keyward.alertEngine.runOnce(); // learns the bootstrap history
  });
  afterEach(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function forge(key: string): Promise<void> {
    const { body } = await h.call('POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('card'), context: { id: '1' } });
    for (let i = 0; i < 6; i++) {
      const r = await h.call('POST', `/v1/keys/${key}/decrypt`, { ciphertext: body.ciphertext, context: { id: `forged-${i}` } });
      expect(r.body.error.code).toBe('invalid_ciphertext');
    }
    await h.keyward.alertEngine.runOnce();
    await h.keyward.containment.idle();
  }

  it('opens an incident for a critical key: the primary version is compromised and the key rotated', async () => {
    await h.createKey('vault', 'aes-256-gcm', { class: 'critical', deletionWindowDays: 30 });
    await forge('vault');
    // (The admin's first use of the key alerts too; only the burst contains.)
    const alerts = (await h.call('GET', '/v1/alerts?key=vault&type=invalid_ciphertext_burst')).body.alerts;
    expect(alerts).toHaveLength(1);
    const incidents = (await h.call('GET', '/v1/incidents?key=vault')).body.incidents;
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ version: 1, origin: 'alert', alertId: alerts[0].id, alertType: 'invalid_ciphertext_burst' });
    const key = (await h.call('GET', '/v1/keys/vault')).body;
    expect(key.primaryVersion).toBe(2);
    expect(key.versions.find((v: { version: number }) => v.version === 1).state).toBe('compromised');
    const declared = (await h.audit()).filter((r) => r.action === 'incident.declare');
    expect(declared).toEqual([expect.objectContaining({ actor: 'keyward', key: 'vault', outcome: 'success' })]);

    // The burst goes on: the open incident is reused, version 2 is left alone.
    await forge('vault');
    expect((await h.call('GET', '/v1/incidents?key=vault')).body.incidents).toHaveLength(1);
    expect((await h.call('GET', '/v1/keys/vault')).body.primaryVersion).toBe(2);
  });

  it('only alerts for a class the policy does not name', async () => {
    await h.createKey('logs', 'aes-256-gcm', { class: 'standard' });
    await forge('logs');
    expect((await h.call('GET', '/v1/alerts?key=logs&type=invalid_ciphertext_burst')).body.alerts).toHaveLength(1);
    expect((await h.call('GET', '/v1/incidents?key=logs')).body.incidents).toEqual([]);
    expect((await h.call('GET', '/v1/keys/logs')).body.primaryVersion).toBe(1);
  });
});
