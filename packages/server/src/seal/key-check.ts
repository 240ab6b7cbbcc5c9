import { timingSafeEqual } from 'node:crypto';
import { CryptoError } from '@keyward/crypto';
import type { RootKey } from './root-key.js';

/** AAD of the key-check blob; distinct from every caller blob (see `root-key.ts`). */
const CHECK_AAD = new TextEncoder().encode('keyward/seal/check/v1');

/** The public constant the key-check blob encrypts. Knowing it reveals nothing (AES-GCM is IND-CPA). */
const CHECK_PLAINTEXT = new TextEncoder().encode('keyward root key check v1');

/**
 * Makes a key-check blob: proof, stored as non-secret state, that lets a
 * seal recognize its own root key after reconstructing it.
 */
export function makeKeyCheck(root: RootKey): Uint8Array {
  return root.wrapRaw(CHECK_PLAINTEXT, CHECK_AAD);
}

/**
 * True when `root` is the key that made `check`. GCM authentication already
 * decides this; the constant-time comparison of the plaintext is a second,
 * cheap guard.
 */
export function verifyKeyCheck(root: RootKey, check: Uint8Array): boolean {
  let plain: Uint8Array;
  try {
    plain = root.unwrapRaw(check, CHECK_AAD);
  } catch (error) {
    if (error instanceof CryptoError) return false;
    throw error;
  }
  return plain.length === CHECK_PLAINTEXT.length && timingSafeEqual(plain, CHECK_PLAINTEXT);
}
