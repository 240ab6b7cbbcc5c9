import type { Seal } from './seal.js';

/** The public half of an RSA key pair generated in a token: big-endian unsigned integers, as PKCS#11 stores them. */
export interface RsaPublicNumbers {
  readonly modulus: Uint8Array;
  readonly publicExponent: Uint8Array;
}

/**
 * Key versions that live inside the seal's token (an HSM over PKCS#11) as
 * non-extractable objects: generated there, used there, destroyed there.
 * Only the PKCS#11 seal offers it ({@link tokenKeysOf}); it shares the
 * seal's module and session. Every method but RSA generation is synchronous
 * (the token answers before it returns); each throws (or, for RSA
 * generation, rejects with) `KeywardError('sealed')` while the seal is
 * sealed or the token is away. `id` is the object's CKA_ID, `label` its
 * CKA_LABEL, which binds the object to one key version: an object found
 * under `id` with another label is refused as an integrity failure.
 */
export interface TokenKeys {
  /** Generates an AES-256 key object in the token: token object, private, sensitive, never extractable, encrypt/decrypt only. */
  generateAesKey(id: Uint8Array, label: string): void;
  /** AES-256-GCM in the token with a 96-bit `iv` and a 128-bit tag: `ciphertext ‖ tag`. */
  aesGcmEncrypt(id: Uint8Array, label: string, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Inverse of {@link aesGcmEncrypt}; null when `body` does not authenticate. */
  aesGcmDecrypt(id: Uint8Array, label: string, iv: Uint8Array, body: Uint8Array, aad: Uint8Array): Uint8Array | null;
  /** Generates an ECDSA P-256 key pair in the token (the private key sensitive, never extractable, sign only); returns the uncompressed public point. */
  generateEcKeyPair(id: Uint8Array, label: string): Uint8Array;
  /** ECDSA in the token with the private key `id` over `digest`; returns `r ‖ s`. */
  ecdsaSignDigest(id: Uint8Array, label: string, digest: Uint8Array): Uint8Array;
  /**
   * Generates an RSA key pair of `modulusBits` (e = 65537) in the token (the
   * private key sensitive, never extractable, sign only); resolves to the
   * public numbers. Asynchronous: generation takes seconds in a software
   * token and runs off the event loop, on a session of its own.
   */
  generateRsaKeyPair(id: Uint8Array, label: string, modulusBits: number): Promise<RsaPublicNumbers>;
  /** RSASSA-PSS in the token with the private key `id` over `message` (hashed in the token), MGF1 with `hash`, salt of `saltLength` bytes. */
  rsaPssSign(id: Uint8Array, label: string, hash: 'sha256' | 'sha512', saltLength: number, message: Uint8Array): Uint8Array;
  /** Destroys the objects with CKA_ID `id` (`C_DestroyObject`); false when the token holds none. */
  destroyKey(id: Uint8Array): boolean;
}

/** The token keys of `seal`, or null when its root key does not live in a token that can hold keys. */
export function tokenKeysOf(seal: Seal): TokenKeys | null {
  return 'tokenKeys' in seal && typeof seal.tokenKeys === 'function' ? (seal.tokenKeys as () => TokenKeys)() : null;
}
