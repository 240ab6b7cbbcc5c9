import { createPublicKey, type KeyObject } from 'node:crypto';
import type { AttestationClaims } from '@keyward/wire';
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, exportJWK } from 'jose';

/** The outcome of checking an attestation offline. */
export type AttestationCheck = { valid: true; kid: string; claims: AttestationClaims } | { valid: false; reason: string };

/**
 * Reads the public key an attestation is checked against: SPKI PEM, a JWK,
 * or the JSON `GET /v1/attestations/public-key` answers; only Ed25519.
 * Throws with a message naming what is wrong.
 *
 * @example
 * const key = attestationPublicKey(readFileSync('attest.pub', 'utf8'));
 */
export function attestationPublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  if (trimmed.startsWith('{')) {
    const parsed = JSON.parse(trimmed) as { jwk?: unknown; kty?: unknown };
    const jwk = (parsed.kty === undefined ? parsed.jwk : parsed) as import('node:crypto').JsonWebKey | undefined;
    if (jwk === undefined || typeof jwk !== 'object') throw new Error('the JSON holds no JWK');
    // Only the public members: a JWK carrying `d` would be a private key.
    key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as import('node:crypto').JsonWebKey, format: 'jwk' });
  } else {
    key = createPublicKey(trimmed);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 public key');
  return key;
}

/**
 * Checks an attestation (a compact JWS, or the JSON `GET
 * /v1/attestations/current` answers) with `jose`: the signature under
 * `publicKey`, `alg` EdDSA and nothing else, `kid` equal to the key's RFC
 * 7638 thumbprint, and a payload with the claims docs/formats.md describes.
 *
 * @example
 * const check = await verifyAttestation(readFileSync('attestation.jws', 'utf8'), key);
 */
export async function verifyAttestation(text: string, publicKey: KeyObject): Promise<AttestationCheck> {
  let jws = text.trim();
  if (jws.startsWith('{')) {
    try {
      const parsed = JSON.parse(jws) as { jws?: unknown };
      if (typeof parsed.jws !== 'string') return { valid: false, reason: 'the JSON holds no "jws"' };
      jws = parsed.jws;
    } catch {
      return { valid: false, reason: 'not a JWS nor JSON holding one' };
    }
  }
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return { valid: false, reason: 'not a compact JWS' };
  }
  if (header.alg !== 'EdDSA') return { valid: false, reason: `alg is ${String(header.alg)}, not EdDSA` };
  if (header.kid !== kid) return { valid: false, reason: `kid ${String(header.kid)} is not this public key's thumbprint ${kid}` };
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, publicKey, { algorithms: ['EdDSA'] }));
  } catch {
    // Uniform: which check failed inside the signature verification is not told.
    return { valid: false, reason: 'the signature does not verify under this public key' };
  }
  let claims: AttestationClaims;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload)) as AttestationClaims;
  } catch {
    return { valid: false, reason: 'the signed payload is not JSON' };
  }
  const ok =
    typeof claims === 'object' &&
    claims !== null &&
    typeof claims.iss === 'string' &&
    typeof claims.iat === 'number' &&
    typeof claims.jti === 'string' &&
    typeof claims.keyward === 'object' &&
    claims.keyward !== null &&
    claims.keyward.version === 1;
  if (!ok) return { valid: false, reason: 'the signed payload lacks iss, iat, jti or a keyward statement of version 1' };
  return { valid: true, kid, claims };
}
