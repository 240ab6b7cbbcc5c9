import { randomUUID } from 'node:crypto';
import { type AttestationClaims, type AttestationPublicKey, type AttestationResponse, KeywardError } from '@keyward/wire';
import { CompactSign } from 'jose';
import { backupFacts } from '../backup/backup-facts.js';
import type { PolicySource } from '../policy/policy-file.js';
import type { Store } from '../store/store.js';
import type { AttestationKey, AttestationSigner } from './attestation-key.js';
import type { AuditService } from './audit-service.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';
import type { InventoryService } from './inventory-service.js';

/**
 * Signed attestations (`GET /v1/attestations/current`, docs/operations.md
 * "Reading an attestation"): a JWS (RFC 7515, compact; `alg` EdDSA, RFC
 * 8037) signed with the attestation key, stating the last backup and what
 * the server verified of it, whether every archive in retention is
 * encrypted to the current recipients, whether every audit chain verifies
 * to its head, key counts by class and state, and the compliance counts.
 * Anyone holding the public key verifies it offline, with any JOSE library.
 */
export class AttestationService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #key: AttestationKey;
  readonly #audit: AuditService;
  readonly #inventory: InventoryService;
  readonly #policy: PolicySource;
  readonly #issuer: string;

  constructor(deps: {
    gate: Gate;
    store: Store;
    key: AttestationKey;
    audit: AuditService;
    inventory: InventoryService;
    policy: PolicySource;
    /** The `iss` claim: `urn:keyward:<node>`. */
    issuer: string;
  }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#key = deps.key;
    this.#audit = deps.audit;
    this.#inventory = deps.inventory;
    this.#policy = deps.policy;
    this.#issuer = deps.issuer;
  }

  /** A fresh attestation of the caller's namespace, signed now. */
  current(ctx: CallContext): Promise<AttestationResponse> {
    return this.#gate.run(ctx, 'attestation.read', async (scope) => {
      scope.authorize();
      const signer = await this.#signer();
      const report = await this.#audit.verifyUngated();
      const { compliance, ...keys } = await this.#inventory.summary(ctx, scope);
      const backups = await backupFacts(this.#store, this.#policy.current().backups);
      const claims: AttestationClaims = {
        iss: this.#issuer,
        iat: Math.floor(scope.now.getTime() / 1000),
        jti: randomUUID(),
        keyward: {
          version: 1,
          namespace: ctx.namespace,
          environments: [...scope.principal.environments],
          backups,
          audit: {
            valid: report.valid,
            chains: report.chains.map((c) => ({
              chain: c.chain,
              records: c.records,
              seq: c.head?.seq ?? null,
              hash: c.head?.hash ?? null,
            })),
            checkpoints: report.checkpoints,
            problem: report.problem === null ? null : { kind: report.problem.kind, chain: report.problem.chain, seq: report.problem.seq },
          },
          keys,
          compliance,
        },
      };
      const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
        .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: 'keyward-attestation+jwt' })
        .sign(signer.privateKey);
      scope.details.jti = claims.jti;
      scope.details.kid = signer.kid;
      scope.details.auditValid = report.valid;
      return { jws, kid: signer.kid };
    });
  }

  /** The public key attestations are signed with: PEM, JWK and its thumbprint (`kid`). */
  publicKey(ctx: CallContext): Promise<AttestationPublicKey> {
    return this.#gate.run(ctx, 'attestation.read', async (scope) => {
      scope.authorize();
      const signer = await this.#signer();
      return {
        publicKey: signer.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        jwk: { ...signer.jwk, kid: signer.kid, alg: 'EdDSA' },
        kid: signer.kid,
      };
    });
  }

  async #signer(): Promise<AttestationSigner> {
    const signer = await this.#key.load();
    if (signer === null) throw new KeywardError('sealed', 'Keyward is sealed');
    return signer;
  }
}
