import { publicJwkFromPem } from '@keyward/crypto';
import { type AlgorithmName, type JwkSet, type KeyOperation, KeywardError, type UsageReport, type VersionState } from '@keyward/wire';
import type { Store } from '../store/store.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';
import type { KeyDirectory } from './key-directory.js';

type Jwk = JwkSet['keys'][number];

/** JOSE `alg` (RFC 7518, RFC 8037, draft-ietf-cose-dilithium) and `use` of each asymmetric algorithm. */
const JOSE: Readonly<Partial<Record<AlgorithmName, Pick<Jwk, 'alg' | 'use'>>>> = Object.freeze({
  ed25519: { alg: 'EdDSA', use: 'sig' },
  'ecdsa-p256': { alg: 'ES256', use: 'sig' },
  'ecdsa-p384': { alg: 'ES384', use: 'sig' },
  'rsa-pss-3072': { alg: 'PS256', use: 'sig' },
  'rsa-pss-4096': { alg: 'PS512', use: 'sig' },
  'ml-dsa-65': { alg: 'ML-DSA-65', use: 'sig' },
  'rsa-oaep-3072': { alg: 'RSA-OAEP-256', use: 'enc' },
  'rsa-oaep-4096': { alg: 'RSA-OAEP-256', use: 'enc' },
});

/**
 * Version states a JWK Set publishes: those that may still verify (or be
 * decrypted with), and `pre_active`, so that a verifier caching the set knows
 * a version before its first signature (prepublication).
 */
const PUBLISHED: readonly VersionState[] = ['pre_active', 'active', 'deactivated'];

/**
 * Read-only reports about one key: its JWK Set and how its versions are used.
 * Neither touches key material: public keys come from the stored SPKI, usage
 * from the audit records.
 */
export class ReportService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #directory: KeyDirectory;

  constructor(deps: { gate: Gate; store: Store; directory: KeyDirectory }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#directory = deps.directory;
  }

  /**
   * The JWK Set of an asymmetric key: one JWK per `pre_active`, `active` or
   * `deactivated` version at or above the minimum decryption version, newest
   * first, each with `kid` = `<key id>:<version>`, `alg` and `use`.
   */
  jwks(ctx: CallContext, name: string): Promise<JwkSet> {
    return this.#gate.run(ctx, 'key.jwks', async (scope) => {
      scope.key = name;
      const key = await this.#directory.load(ctx.namespace, name);
      scope.authorize(key);
      const { record } = key;
      const jose = JOSE[record.algorithm];
      if (jose === undefined) throw new KeywardError('invalid_request', `key '${name}' is symmetric and has no public keys`);
      const keys: Jwk[] = [];
      const published = key.versions
        .filter((v) => PUBLISHED.includes(v.state) && v.version >= record.minDecryptionVersion && v.publicKey !== null)
        .sort((a, b) => b.version - a.version);
      for (const version of published) {
        const jwk = publicJwkFromPem(record.algorithm, version.publicKey as string) ?? {};
        keys.push({ ...jwk, kty: String(jwk.kty), kid: `${record.id}:${version.version}`, alg: jose.alg, use: jose.use });
      }
      scope.details.keys = keys.length;
      return { keys };
    });
  }

  /**
   * Successful cryptographic operations per version, by principal and
   * operation, since `since` (else since the key was created). Every version
   * is listed, newest first, unused ones with zero counts.
   */
  usage(ctx: CallContext, name: string, since: Date | null): Promise<UsageReport> {
    return this.#gate.run(ctx, 'key.usage', async (scope) => {
      scope.key = name;
      const key = await this.#directory.load(ctx.namespace, name);
      scope.authorize(key);
      const from = since === null ? null : since.toISOString();
      if (from !== null) scope.details.since = from;
      // Audit records name keys by name: records of an earlier key of that name are not this key's.
      const floor = from !== null && from > key.record.createdAt ? from : key.record.createdAt;
      const [versions, rows] = await Promise.all([
        this.#store.getVersions(key.record.id),
        this.#store.usage(ctx.namespace, key.record.name, floor),
      ]);
      const byVersion = new Map<number, Map<string, UsageReport['versions'][number]['byPrincipal'][number]>>();
      for (const row of rows) {
        let principals = byVersion.get(row.version);
        if (principals === undefined) {
          principals = new Map();
          byVersion.set(row.version, principals);
        }
        let entry = principals.get(row.principal);
        if (entry === undefined) {
          entry = { principal: row.principal, operations: {}, lastUsedAt: row.lastAt };
          principals.set(row.principal, entry);
        }
        const operation = row.operation as KeyOperation;
        entry.operations[operation] = (entry.operations[operation] ?? 0) + row.count;
        if (row.lastAt > entry.lastUsedAt) entry.lastUsedAt = row.lastAt;
      }
      const report: UsageReport['versions'] = [...versions]
        .sort((a, b) => b.version - a.version)
        .map((version) => {
          const byPrincipal = [...(byVersion.get(version.version)?.values() ?? [])].sort((a, b) =>
            a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : 0,
          );
          let total = 0;
          let lastUsedAt: string | null = null;
          for (const entry of byPrincipal) {
            for (const count of Object.values(entry.operations)) total += count ?? 0;
            if (lastUsedAt === null || entry.lastUsedAt > lastUsedAt) lastUsedAt = entry.lastUsedAt;
          }
          return { version: version.version, state: version.state, total, lastUsedAt, byPrincipal };
        });
      return { key: key.record.name, since: from, versions: report };
    });
  }
}
