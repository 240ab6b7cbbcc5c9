import { CryptoError } from './errors.js';

/** ML-DSA-65 public key length (FIPS 204 Table 2). */
export const ML_DSA_65_PUBLIC_KEY_BYTES = 1952;

/**
 * DER of AlgorithmIdentifier { id-ml-dsa-65 } (OID 2.16.840.1.101.3.4.3.18,
 * parameters absent), per draft-ietf-lamps-dilithium-certificates §2.
 * 06 09 = OBJECT IDENTIFIER, 9 content bytes (X.690 §8.19).
 */
const ALGORITHM_IDENTIFIER = Uint8Array.of(0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12);

/** DER definite length octets (X.690 §8.1.3): short form below 128, else long form. */
function derLength(length: number): number[] {
  if (length < 0x80) return [length];
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return [0x80 | octets.length, ...octets];
}

function tlv(tag: number, content: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.of(tag, ...derLength(content.length)), content]);
}

/**
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) for an ML-DSA-65 public key:
 * SEQUENCE { AlgorithmIdentifier, BIT STRING (0 unused bits) ‖ raw key }.
 * This is one fixed structure, so it is written directly rather than through
 * a general ASN.1 library; it is encoding only, no cryptography.
 */
export function mlDsa65Spki(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== ML_DSA_65_PUBLIC_KEY_BYTES) throw new CryptoError('invalid_key', 'ML-DSA-65 public key must be 1952 bytes');
  const bitString = tlv(0x03, Buffer.concat([Uint8Array.of(0x00), publicKey]));
  return tlv(0x30, Buffer.concat([ALGORITHM_IDENTIFIER, bitString]));
}

/** Inverse of {@link mlDsa65Spki}: accepts exactly that encoding, else throws `CryptoError('invalid_key')`. */
export function mlDsa65PublicKeyFromSpki(der: Uint8Array): Uint8Array {
  const expectedPrefix = mlDsa65Spki(new Uint8Array(ML_DSA_65_PUBLIC_KEY_BYTES)).subarray(0, -ML_DSA_65_PUBLIC_KEY_BYTES);
  const ok =
    der.length === expectedPrefix.length + ML_DSA_65_PUBLIC_KEY_BYTES &&
    Buffer.from(expectedPrefix).equals(der.subarray(0, expectedPrefix.length));
  if (!ok) throw new CryptoError('invalid_key', 'not an ML-DSA-65 SubjectPublicKeyInfo');
  return der.slice(expectedPrefix.length);
}
