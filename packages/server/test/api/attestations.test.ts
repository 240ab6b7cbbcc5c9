import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINDING_KINDS, KEY_CLASSES, KEY_STATES } from '@keyward/wire';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { CompactSign, calculateJwkThumbprint, compactVerify, decodeProtectedHeader, exportJWK, importJWK, importSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipientFingerprint } from '../../src/backup/recipients.js';
import { parsePolicy } from '../../src/policy/parse-policy.js';
import type { Policy } from '../../src/policy/policy.js';
import { FixedPolicy, type PolicySource } from '../../src/policy/policy-file.js';
import { Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

/** A policy source whose policy the test swaps (a reloaded policy file). */
class SwappablePolicy implements PolicySource {
  policy: Policy;
  readonly #status = new FixedPolicy();
  constructor(policy: Policy) {
    this.policy = policy;
  }
  current(): Policy {
    return this.policy;
  }
  status() {
    return this.#status.status();
  }
}

const B64URL = /^[A-Za-z0-9_-]+$/;

describe.each(STORE_KINDS)('attestations (%s)', (store) => {
  let h: Harness;
  let dir: string;
  let policy: SwappablePolicy;
  let recipientA: string;
  let recipientB: string;
  let directory: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyward-attest-'));
    directory = join(dir, 'archives');
    recipientA = await identityToRecipient(await generateIdentity());
    recipientB = await identityToRecipient(await generateIdentity());
    policy = new SwappablePolicy(
      parsePolicy(`backups:\n  directory: ${directory}\n  interval: 1d\n  retention: 3\n  recipients: [${recipientA}]\n`),
    );
    h = await Harness.start({ store, policy });
  });

  afterAll(async () => {
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function publicKey(): Promise<Json> {
    const r = await h.call('GET', '/v1/attestations/public-key');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  }

  async function attestation(token?: string): Promise<{ jws: string; claims: Json }> {
    const r = await h.call('GET', '/v1/attestations/current', undefined, token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const key = await publicKey();
    const { payload, protectedHeader } = await compactVerify(r.body.jws as string, await importJWK(key.jwk, 'EdDSA'), {
      algorithms: ['EdDSA'],
    });
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: key.kid });
    expect(r.body.kid).toBe(key.kid);
    return { jws: r.body.jws as string, claims: JSON.parse(new TextDecoder().decode(payload)) as Json };
  }

  it('publishes an Ed25519 public key as PEM and JWK, its kid the JWK thumbprint, distinct from the audit key', async () => {
    const key = await publicKey();
    expect(key.jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: key.kid });
    expect(key.jwk.d).toBeUndefined();
    expect(key.kid).toMatch(B64URL);
    expect(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: key.jwk.x }, 'sha256')).toBe(key.kid);
    // The PEM and the JWK are the same key.
    const fromPem = await exportJWK(await importSPKI(key.publicKey, 'EdDSA', { extractable: true }));
    expect(fromPem.x).toBe(key.jwk.x);
    const audit = await h.call('GET', '/v1/audit/public-key');
    expect(audit.body.publicKey).not.toBe(key.publicKey);
  });

  it('states key counts, compliance counts, the audit heads and the backups, matching the store', async () => {
    await h.createKey('std-a', 'aes-256-gcm', { class: 'standard' });
    await h.createKey('std-b', 'aes-256-gcm', { class: 'standard' });
    await h.createKey('low-a', 'aes-256-gcm', { class: 'low' });
    expect((await h.call('POST', '/v1/keys/std-b/disable', {})).status).toBe(200);
    // Two scheduled backups to recipient A, then the policy's recipients change to B.
    expect(await h.keyward.scheduledBackups.runOnce()).toMatchObject({ ran: true, file: 'keyward-backup-20260601T000000Z.age' });
    h.clock.advance(86_400_000);
    const second = await h.keyward.scheduledBackups.runOnce();
    expect(second).toMatchObject({ ran: true, file: 'keyward-backup-20260602T000000Z.age' });
    const bytes = second.ran ? second.bytes : -1;

    const { claims } = await attestation();
    expect(claims.iss).toBe('urn:keyward:node-a');
    expect(claims.iat).toBe(Math.floor(h.clock.now().getTime() / 1000));
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    const k = claims.keyward;
    expect(k.version).toBe(1);
    expect(k.namespace).toBe('default');

    // Keys by class and state.
    const expected: Json = Object.fromEntries(KEY_CLASSES.map((c) => [c, Object.fromEntries(KEY_STATES.map((s) => [s, 0]))]));
    expected.standard.enabled = 1;
    expected.standard.disabled = 1;
    expected.low.enabled = 1;
    expect(k.keys).toEqual({ total: 3, byClassAndState: expected });

    // Compliance: the same counts the compliance report gives.
    const report = await h.call('GET', '/v1/reports/compliance');
    expect(report.status).toBe(200);
    expect(Object.keys(k.compliance.counts).sort()).toEqual([...FINDING_KINDS].sort());
    expect(k.compliance).toEqual({ policyDigest: report.body.policyDigest, keysExamined: 3, counts: report.body.counts });

    // Audit: every chain verifies, with the heads the store holds.
    await h.keyward.audit.idle();
    const verify = await h.call('GET', '/v1/audit/verify');
    expect(k.audit.valid).toBe(true);
    expect(k.audit.problem).toBeNull();
    expect(k.audit.chains.length).toBeGreaterThan(0);
    const heads = await h.store.auditHeads();
    for (const chain of k.audit.chains) {
      const head = verify.body.chains.find((c: Json) => c.chain === chain.chain);
      expect(head, chain.chain).toBeDefined();
      // The verify call itself is audited after the attestation: the head then is at or beyond the attested one.
      expect(head.head.seq).toBeGreaterThanOrEqual(chain.seq);
      expect(heads.find((x) => x.chain === chain.chain)?.seq).toBeGreaterThanOrEqual(chain.seq);
    }
    const recorded = (await h.store.listAuditChain('node-a', (chain(k).seq as number) - 1, 1))[0];
    expect(recorded?.hash).toBe(chain(k).hash);

    // Backups: the newest, what the server verified of it, and the retention directory against the current recipients.
    const fpA = recipientFingerprint(recipientA);
    expect(k.backups.last).toMatchObject({
      action: 'backup.scheduled',
      outcome: 'success',
      file: 'keyward-backup-20260602T000000Z.age',
      bytes,
      recipients: [fpA],
      verification: { method: 'read-back', result: 'passed' },
    });
    expect(k.backups.currentRecipients).toEqual([fpA]);
    expect(k.backups.retention).toEqual({
      directory,
      archives: [
        { file: 'keyward-backup-20260601T000000Z.age', recipients: [fpA], encryptedToCurrentRecipients: true },
        { file: 'keyward-backup-20260602T000000Z.age', recipients: [fpA], encryptedToCurrentRecipients: true },
      ],
      allEncryptedToCurrentRecipients: true,
      mismatches: [],
    });

    // The custodians change: both archives in retention are now to the old recipients.
    policy.policy = parsePolicy(`backups:\n  directory: ${directory}\n  interval: 1d\n  retention: 3\n  recipients: [${recipientB}]\n`);
    const after = (await attestation()).claims.keyward.backups;
    expect(after.currentRecipients).toEqual([recipientFingerprint(recipientB)]);
    expect(after.retention.allEncryptedToCurrentRecipients).toBe(false);
    expect(after.retention.mismatches).toEqual(['keyward-backup-20260601T000000Z.age', 'keyward-backup-20260602T000000Z.age']);

    // A backup streamed to a client is the last one now, and the server verified nothing of it.
    const streamed = await h.call('POST', '/v1/sys/backup', { recipients: [recipientB] });
    expect(streamed.status).toBe(200);
    const last = (await attestation()).claims.keyward.backups.last;
    expect(last).toMatchObject({
      action: 'backup.create',
      outcome: 'success',
      file: null,
      recipients: [recipientFingerprint(recipientB)],
      verification: { method: 'none', result: 'not-performed' },
    });
  });

  it('fails verification when the payload is altered or under another key', async () => {
    const { jws } = await attestation();
    const key = await importJWK((await publicKey()).jwk, 'EdDSA');
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Json;
    claims.keyward.audit.valid = !claims.keyward.audit.valid;
    const altered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    await expect(compactVerify(altered, key, { algorithms: ['EdDSA'] })).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
    const other = generateKeyPairSync('ed25519').publicKey;
    await expect(compactVerify(jws, other, { algorithms: ['EdDSA'] })).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
    // A forger's own signature carries the forger's key, not the published kid.
    const forger = generateKeyPairSync('ed25519').privateKey;
    const forged = await new CompactSign(Buffer.from(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'EdDSA', kid: decodeProtectedHeader(jws).kid as string })
      .sign(forger);
    await expect(compactVerify(forged, key, { algorithms: ['EdDSA'] })).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  it('is allowed to an auditor, refused to a key-user, and every request is audited', async () => {
    const auditor = await h.principal('attest-auditor', ['auditor']);
    const user = await h.principal('attest-user', ['key-user']);
    const { claims } = await attestation(auditor);
    expect(claims.keyward.keys.total).toBe(3);
    expect((await h.call('GET', '/v1/attestations/public-key', undefined, auditor)).status).toBe(200);
    for (const path of ['/v1/attestations/current', '/v1/attestations/public-key']) {
      const r = await h.call('GET', path, undefined, user);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
    }
    await h.keyward.audit.idle();
    const records = await h.store.queryAudit({ action: 'attestation.read' }, 0, 1000);
    const byAuditor = records.filter((r) => r.actor === 'attest-auditor');
    expect(byAuditor.map((r) => r.outcome)).toEqual(['success', 'success']);
    const issued = byAuditor.find((r) => r.details.jti === claims.jti);
    expect(issued?.details).toMatchObject({ kid: (await publicKey()).kid, auditValid: true });
    expect(records.filter((r) => r.actor === 'attest-user').map((r) => r.outcome)).toEqual(['denied', 'denied']);
  });

  it('signs nothing while sealed, and keeps the same key across a restart', async () => {
    const before = await publicKey();
    expect((await h.call('POST', '/v1/sys/seal')).status).toBe(204);
    const sealed = await h.call('GET', '/v1/attestations/current');
    expect(sealed.status).toBe(503);
    expect(sealed.body.error.code).toBe('sealed');
    // The file seal opens its root key again at start.
    await h.restart();
    const after = await publicKey();
    expect(after).toEqual(before);
    const { jws } = await attestation();
    expect(decodeProtectedHeader(jws).kid).toBe(before.kid);
  });
});

function chain(k: Json): { chain: string; seq: number | null; hash: string | null } {
  return k.audit.chains.find((c: Json) => c.chain === 'node-a');
}
