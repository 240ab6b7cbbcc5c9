import { WRAPPED_AUDIT_META } from '../audit/audit-secrets.js';
import { webhookSecretAad } from '../events/signature.js';
import { kekAad } from '../keys/material-aad.js';
import { WRAPPED_ATTESTATION_META } from '../service/attestation-key.js';
import { totpSecretAad } from '../service/totp.js';
import type { TableName, TableRow } from '../store/table-copy.js';

/** How a root-wrapped value sits in its column. */
export type WrappedEncoding = 'bytes' | 'base64';

/** A column whose value is wrapped under the root key, and the AAD it was wrapped with. */
export interface RootWrapped {
  column: string;
  encoding: WrappedEncoding;
  aad: Uint8Array;
}

/**
 * The values of a row wrapped directly under the root key (through the
 * seal), which a backup unwraps and re-wraps under its backup key and a
 * restore wraps under the target's new seal. Everything else (key material
 * under its KEK, token hashes) is copied as stored. A new column wrapped
 * under the root key must be added here, or a restored server cannot read it.
 *
 * - `keks.wrapped`: namespace KEKs, AAD `kekAad(namespace, version)`;
 * - `meta.value` of `audit.salt`, `audit.signing-key` and
 *   `attestation.signing-key` (base64);
 * - `webhooks.secret`: webhook signing secrets, AAD `webhookSecretAad(id)`;
 * - `principal_totp.secret`: TOTP secrets, AAD `totpSecretAad(principal_id)`.
 */
export function rootWrapped(table: TableName, row: TableRow): RootWrapped | null {
  switch (table) {
    case 'keks':
      return { column: 'wrapped', encoding: 'bytes', aad: kekAad(String(row.namespace), Number(row.version)) };
    case 'meta': {
      const aad = WRAPPED_AUDIT_META.get(String(row.name)) ?? WRAPPED_ATTESTATION_META.get(String(row.name));
      return aad === undefined ? null : { column: 'value', encoding: 'base64', aad };
    }
    case 'webhooks':
      return { column: 'secret', encoding: 'bytes', aad: webhookSecretAad(String(row.id)) };
    case 'principal_totp':
      return { column: 'secret', encoding: 'bytes', aad: totpSecretAad(String(row.principal_id)) };
    default:
      return null;
  }
}

/**
 * Meta rows a backup leaves out: the schema version (a restore target is
 * migrated by the restoring Keyward) and seal state (`seal.*`: the target
 * gets a new seal).
 */
export function metaLeftOut(name: string): boolean {
  return name === 'schema_version' || name.startsWith('seal.');
}
