/**
 * Associated data that binds wrapped material to where it belongs
 * (DESIGN.md, "Key hierarchy"): a row copied to another key, version,
 * namespace or algorithm fails to unwrap instead of yielding the wrong key.
 * Fields are NUL-separated; names cannot contain NUL (NAME_PATTERN).
 */
const encoder = new TextEncoder();

export function kekAad(namespace: string, kekVersion: number): Uint8Array {
  return encoder.encode(`keyward/kek/v1\0${namespace}\0${kekVersion}`);
}

export function materialAad(namespace: string, keyId: string, version: number, algorithm: string): Uint8Array {
  return encoder.encode(`keyward/material/v1\0${namespace}\0${keyId}\0${version}\0${algorithm}`);
}

/** Binds the private half of a BYOK import wrapping key pair to its namespace and id. */
export function wrappingKeyAad(namespace: string, id: string): Uint8Array {
  return encoder.encode(`keyward/import-wrapping-key/v1\0${namespace}\0${id}`);
}
