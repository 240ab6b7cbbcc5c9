import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, aeadDecrypt, randomNonce } from './aead.js';
import { asymmetricDecrypt, asymmetricEncrypt } from './asymmetric-encrypt.js';
import { fromBase64urlStrict } from './base64url.js';
import {
  ALGORITHM_IDS,
  associatedData,
  bodyLengthOk,
  CIPHERTEXT_PREFIX,
  type CiphertextAlgorithm,
  type CiphertextHeader,
  FORMAT_VERSION,
  HEADER_BYTES,
  isAead,
  oaepLabel,
  sealAead,
  sharedHeader,
  toText,
  uuidFromBytes,
} from './ciphertext-layout.js';
import { encodeContext } from './encode-context.js';
import { CryptoError } from './errors.js';

export type { CiphertextAlgorithm, CiphertextHeader } from './ciphertext-layout.js';

/** A ciphertext whose structure has been checked, not yet its authenticity. */
export interface ParsedCiphertext extends CiphertextHeader {
  readonly formatVersion: typeof FORMAT_VERSION;
  /** 12-byte AEAD nonce; empty for RSA-OAEP. */
  readonly nonce: Uint8Array;
  /** AEAD: ciphertext ‖ 16-byte tag. RSA-OAEP: the k-byte RSA ciphertext. */
  readonly body: Uint8Array;
}

/**
 * Encrypts into Keyward's self-describing ciphertext (docs/formats.md):
 * `kw1:` + base64url(header ‖ nonce ‖ body ‖ tag). The header and the
 * canonical context are the AEAD associated data (NIST SP 800-38D §7.1,
 * RFC 8439 §2.8) or, hashed, the RSA-OAEP label (RFC 8017 §7.1); the context
 * itself is not stored. The AEAD nonce is 96 random bits (SP 800-38D §8.2.2).
 *
 * `secretOrPublicKey`: the 32-byte AEAD key; for RSA-OAEP the PKCS#8 secret,
 * SPKI DER bytes or an SPKI PEM string.
 *
 * @example
 * const ct = encryptToCiphertext({ keyId, keyVersion: 2, algorithm: 'aes-256-gcm' }, key, plaintext, { tenant: 'acme' });
 * @throws CryptoError `invalid_input` (bad header, context or plaintext size), `invalid_key`.
 */
export function encryptToCiphertext(
  header: CiphertextHeader,
  secretOrPublicKey: Uint8Array | string,
  plaintext: Uint8Array,
  context: Record<string, string>,
): string {
  const headerBytes = sharedHeader(header);
  const { algorithm } = header;
  if (isAead(algorithm)) {
    if (typeof secretOrPublicKey === 'string') throw new CryptoError('invalid_key', `${algorithm} needs a 32-byte key`);
    return sealAead(algorithm, headerBytes, secretOrPublicKey, randomNonce(), plaintext, context);
  }
  const body = asymmetricEncrypt(algorithm, secretOrPublicKey, plaintext, oaepLabel(headerBytes, context));
  return toText(headerBytes, body);
}

const ALGORITHM_BY_ID = new Map<number, CiphertextAlgorithm>(
  Object.entries(ALGORITHM_IDS).map(([name, id]) => [id, name as CiphertextAlgorithm]),
);

function malformed(): CryptoError {
  return new CryptoError('decrypt_failed', 'decryption failed');
}

/**
 * Parses and structurally checks a ciphertext so the caller can find the key
 * version (`keyId`, `keyVersion`) before decrypting. Strict: the `kw1:`
 * prefix, canonical unpadded base64url, a known format and algorithm, a key
 * version ≥ 1, a 12-byte nonce and a body at least a tag long (AEAD) or exactly
 * the modulus long (RSA-OAEP). Any malformation throws the same
 * `CryptoError('decrypt_failed')` as a failed decryption.
 *
 * @example
 * const parsed = parseCiphertext(text);
 * const secret = await store.material(parsed.keyId, parsed.keyVersion);
 */
export function parseCiphertext(text: string): ParsedCiphertext {
  if (typeof text !== 'string' || !text.startsWith(CIPHERTEXT_PREFIX)) throw malformed();
  const bytes = fromBase64urlStrict(text.slice(CIPHERTEXT_PREFIX.length), 'decrypt_failed', 'decryption failed');
  if (bytes.length < HEADER_BYTES || bytes[0] !== FORMAT_VERSION) throw malformed();
  const algorithm = ALGORITHM_BY_ID.get(bytes[1] ?? -1);
  if (algorithm === undefined || !bodyLengthOk(algorithm, bytes.length - HEADER_BYTES)) throw malformed();
  const keyVersion = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(18, false);
  if (keyVersion === 0) throw malformed();
  const nonceBytes = isAead(algorithm) ? AEAD_NONCE_BYTES : 0;
  return Object.freeze({
    formatVersion: FORMAT_VERSION,
    keyId: uuidFromBytes(bytes.subarray(2, 18)),
    keyVersion,
    algorithm,
    nonce: bytes.slice(HEADER_BYTES, HEADER_BYTES + nonceBytes),
    body: bytes.slice(HEADER_BYTES + nonceBytes),
  });
}

/**
 * Decrypts a parsed ciphertext with the version's secret and the caller's
 * context. Every failure — wrong key, wrong context, tampered header or body,
 * a secret of the wrong kind — throws the same `CryptoError('decrypt_failed')`
 * so the answer is no oracle (RFC 8017 §7.1.2 note; SP 800-38D §7.2 step 8).
 * Only a context that is not an object of well-formed strings throws
 * `invalid_input`, which depends on the request alone.
 *
 * @example
 * const plaintext = decryptCiphertext(parseCiphertext(text), secret, { tenant: 'acme' });
 */
export function decryptCiphertext(parsed: ParsedCiphertext, secret: Uint8Array, context: Record<string, string>): Uint8Array {
  encodeContext(context); // surface a malformed context as invalid_input before any secret is touched
  try {
    // Re-encode the header from the fields the caller used to pick the key, so those fields are what gets authenticated.
    const { algorithm } = parsed;
    const headerBytes = sharedHeader({ keyId: parsed.keyId, keyVersion: parsed.keyVersion, algorithm });
    if (isAead(algorithm)) return aeadDecrypt(algorithm, secret, parsed.nonce, parsed.body, associatedData(headerBytes, context));
    return asymmetricDecrypt(algorithm, secret, parsed.body, oaepLabel(headerBytes, context));
  } catch {
    throw malformed();
  }
}

/**
 * AES-GCM done by someone holding the key (an HSM): `nonce ‖ plaintext ‖ aad`
 * in, `ciphertext ‖ 16-byte tag` out. Keyward never sees the key; this
 * package only frames the result.
 */
export type ExternalAeadEncrypt = (nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array) => Uint8Array;

/** Inverse of {@link ExternalAeadEncrypt}: the plaintext, or null when `body` (ciphertext ‖ tag) does not authenticate. */
export type ExternalAeadDecrypt = (nonce: Uint8Array, body: Uint8Array, aad: Uint8Array) => Uint8Array | null;

/**
 * {@link encryptToCiphertext} for an AES-256-GCM key that never leaves an
 * HSM: the same header, the same 96-bit random nonce (NIST SP 800-38D
 * §8.2.2), the same associated data (header ‖ canonical context), so the
 * result is byte-for-byte the format of docs/formats.md and decrypts like
 * any other. `encrypt` does the AEAD (e.g. `CKM_AES_GCM` in the token).
 *
 * @example
 * const ct = encryptToCiphertextWith({ keyId, keyVersion: 1, algorithm: 'aes-256-gcm' }, plaintext, {}, (n, p, a) => token.encrypt(n, p, a));
 * @throws CryptoError `invalid_input` (bad header or context, or `encrypt` returned the wrong length).
 */
export function encryptToCiphertextWith(
  header: CiphertextHeader,
  plaintext: Uint8Array,
  context: Record<string, string>,
  encrypt: ExternalAeadEncrypt,
): string {
  if (header.algorithm !== 'aes-256-gcm') throw new CryptoError('invalid_input', 'only aes-256-gcm can be computed externally');
  const headerBytes = sharedHeader(header);
  const nonce = randomNonce();
  const sealed = encrypt(nonce, plaintext, associatedData(headerBytes, context));
  if (sealed.length !== plaintext.length + AEAD_TAG_BYTES)
    throw new CryptoError('invalid_input', 'the external AEAD returned a body of the wrong length');
  return toText(headerBytes, nonce, sealed);
}

/**
 * {@link decryptCiphertext} with the AEAD done elsewhere (an HSM). The header
 * is re-encoded from the parsed fields, as there. A body that does not
 * authenticate (`decrypt` returned null) throws the one opaque
 * `CryptoError('decrypt_failed')`; anything `decrypt` throws (the token is
 * unavailable) propagates unchanged.
 *
 * @example
 * const plaintext = decryptCiphertextWith(parseCiphertext(text), {}, (n, b, a) => token.decrypt(n, b, a));
 */
export function decryptCiphertextWith(parsed: ParsedCiphertext, context: Record<string, string>, decrypt: ExternalAeadDecrypt): Uint8Array {
  encodeContext(context);
  if (parsed.algorithm !== 'aes-256-gcm') throw malformed();
  const headerBytes = sharedHeader({ keyId: parsed.keyId, keyVersion: parsed.keyVersion, algorithm: parsed.algorithm });
  const plaintext = decrypt(parsed.nonce, parsed.body, associatedData(headerBytes, context));
  if (plaintext === null) throw malformed();
  return plaintext;
}
