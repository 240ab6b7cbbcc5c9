import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttestationClaims, AttestationPublicKey } from '@keyward/wire';
import { CompactSign, calculateJwkThumbprint, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

describe('keyward attest commands against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  let dir: string;
  let jwsFile: string;
  let pemFile: string;
  const run = (args: string[]) => keyward(args, { env });

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
    dir = await mkdtemp(join(tmpdir(), 'keyward-cli-attest-'));
    expect((await run(['key', 'create', 'cli-attest', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'])).code).toBe(0);
    jwsFile = join(dir, 'attestation.jws');
    pemFile = join(dir, 'attest.pub');
    const got = await run(['attest', 'get', '--out', jwsFile]);
    expect(got.code, got.stderr).toBe(0);
    const published = await run(['attest', 'public-key', '--out', pemFile]);
    expect(published.code, published.stderr).toBe(0);
    expect(published.stderr).toMatch(/^attestation key id: [A-Za-z0-9_-]{43}\n$/);
  }, 120_000);
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    await server?.stop();
  });

  it('attest verify passes on a good file and prints the claims', async () => {
    const out = await run(['attest', 'verify', jwsFile, '--public-key', pemFile]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^attestation: signature valid \(EdDSA\)\n {2}issuer: +urn:keyward:/);
    expect(out.stdout).toContain('audit: every chain verifies to its head');
    expect(out.stdout).toMatch(/\nkeys: 1\n {2}standard: enabled 1\n/);
    const json = await run(['--json', 'attest', 'verify', jwsFile, '--public-key', pemFile]);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { valid: boolean; kid: string; claims: AttestationClaims };
    expect(parsed.valid).toBe(true);
    expect(parsed.claims.keyward.keys.total).toBe(1);
    expect(parsed.claims.keyward.audit.valid).toBe(true);
  });

  it('attest verify accepts the public key as the JSON of --json public-key (JWK)', async () => {
    const jsonKey = join(dir, 'attest.json');
    const out = await run(['--json', 'attest', 'public-key', '--out', jsonKey]);
    expect(out.code, out.stderr).toBe(0);
    const key = JSON.parse(await readFile(jsonKey, 'utf8')) as AttestationPublicKey;
    expect(key.jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: key.kid });
    expect((await run(['attest', 'verify', jwsFile, '--public-key', jsonKey])).code).toBe(0);
  });

  it('attest verify fails on a tampered file, another key, or a forged signature with the right kid', async () => {
    const jws = (await readFile(jwsFile, 'utf8')).trim();
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AttestationClaims;
    claims.keyward.keys.total += 1;
    const tampered = join(dir, 'tampered.jws');
    await writeFile(tampered, `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}\n`);
    const bad = await run(['attest', 'verify', tampered, '--public-key', pemFile]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe('attestation INVALID: the signature does not verify under this public key\n');

    const other = generateKeyPairSync('ed25519');
    const otherPem = join(dir, 'other.pub');
    await writeFile(otherPem, other.publicKey.export({ type: 'spki', format: 'pem' }));
    const wrongKey = await run(['attest', 'verify', jwsFile, '--public-key', otherPem]);
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stderr).toMatch(/^attestation INVALID: kid \S+ is not this public key's thumbprint/);

    // The published key's kid, as a forger would copy it from any genuine attestation.
    const kid = await calculateJwkThumbprint(await exportJWK(createPublicKey(await readFile(pemFile, 'utf8'))), 'sha256');
    const forged = join(dir, 'forged.jws');
    await writeFile(
      forged,
      await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid }).sign(other.privateKey),
    );
    const forgedRun = await run(['attest', 'verify', forged, '--public-key', pemFile]);
    expect(forgedRun.code).toBe(3);
    expect(forgedRun.stderr).toBe('attestation INVALID: the signature does not verify under this public key\n');

    // alg is EdDSA only: an HMAC "signature" keyed with anything is refused before any check.
    const hs = join(dir, 'hs256.jws');
    await writeFile(
      hs,
      await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'HS256', kid }).sign(new Uint8Array(32)),
    );
    const hsRun = await run(['attest', 'verify', hs, '--public-key', pemFile]);
    expect(hsRun.code).toBe(3);
    expect(hsRun.stderr).toBe('attestation INVALID: alg is HS256, not EdDSA\n');

    const garbage = join(dir, 'garbage.jws');
    await writeFile(garbage, 'not a jws\n');
    expect((await run(['attest', 'verify', garbage, '--public-key', pemFile])).code).toBe(3);
    expect((await run(['attest', 'verify', join(dir, 'missing.jws'), '--public-key', pemFile])).code).toBe(2);
  });
});
