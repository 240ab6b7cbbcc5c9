import { randomUUID } from 'node:crypto';
import {
  type ApprovalOperation,
  type CreatedToken,
  type CreateGrantRequest,
  type CreatePrincipalRequest,
  ENVIRONMENTS,
  type GrantView,
  type KeyOperation,
  KeywardError,
  type PendingApproval,
  type PrincipalView,
  type SelfResponse,
  type UpdatePrincipalRequest,
} from '@keyward/wire';
import { addMs, parseDuration } from '../keys/duration.js';
import { OPERATION_ROLE } from '../keys/operation-rules.js';
import type { PolicySource } from '../policy/policy-file.js';
import type { PrincipalRecord, TokenRecord } from '../store/records.js';
import { type Store, StoreConflictError, type StoreOps } from '../store/store.js';
import { holdForApproval } from './approvals.js';
import { type Authenticator, hashToken, newToken } from './authenticator.js';
import type { CallContext } from './context.js';
import type { Gate, Scope } from './gate.js';
import type { KeyDirectory } from './key-directory.js';
import { checkTlsIdentities } from './tls-identities.js';
import { grantView, principalView } from './views.js';

export const DEFAULT_TOKEN_TTL = '30d';

/** Operations each key usage can perform, so a grant never names an impossible one. */
const USAGE_OPERATIONS: Readonly<Record<string, readonly KeyOperation[]>> = Object.freeze({
  encrypt: ['encrypt', 'decrypt', 'rewrap', 'data-key', 'public-key'],
  sign: ['sign', 'verify', 'public-key'],
  mac: ['mac', 'verify-mac'],
});

/** Writes the first admin principal and its token (file-seal start-up and Shamir init). */
export async function bootstrapAdmin(tx: StoreOps, token: string, now: Date): Promise<void> {
  const at = now.toISOString();
  await tx.insertPrincipal({
    id: 'admin',
    kind: 'user',
    roles: ['admin'],
    environments: [...ENVIRONMENTS],
    teams: [],
    createdAt: at,
    disabled: false,
    offboardedAt: null,
  });
  await tx.insertToken({
    id: randomUUID(),
    principalId: 'admin',
    tokenHash: hashToken(token),
    description: 'initial admin token',
    createdAt: at,
    expiresAt: null,
    revokedAt: null,
  });
}

/** Principals, their tokens, and grants on keys. */
export class PrincipalService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #authenticator: Authenticator;
  readonly #directory: KeyDirectory;

  readonly #policy: PolicySource;

  constructor(deps: { gate: Gate; store: Store; authenticator: Authenticator; directory: KeyDirectory; policy: PolicySource }) {
    this.#policy = deps.policy;
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#authenticator = deps.authenticator;
    this.#directory = deps.directory;
  }

  self(ctx: CallContext): Promise<SelfResponse> {
    return this.#gate.run(ctx, 'auth.self', async (scope) => {
      const { tokenId: _tokenId, ...principal } = scope.principal;
      const identities = (await this.#store.listTlsIdentities([principal.id])).get(principal.id);
      return { principal: principalView(principal, identities), roles: principal.roles };
    });
  }

  create(ctx: CallContext, req: CreatePrincipalRequest): Promise<PrincipalView> {
    return this.#gate.run(ctx, 'principal.create', async (scope) => {
      scope.authorize();
      scope.details.principal = req.id;
      const identities = checkTlsIdentities(req.tlsIdentities ?? []);
      const record: PrincipalRecord = {
        id: req.id,
        kind: req.kind,
        roles: [...new Set(req.roles ?? [])],
        environments: [...new Set(req.environments ?? ENVIRONMENTS)],
        teams: [...new Set(req.teams ?? [])],
        createdAt: scope.now.toISOString(),
        disabled: false,
        offboardedAt: null,
      };
      try {
        await this.#store.transaction(async (tx) => {
          await tx.insertPrincipal(record);
          if (identities.length > 0) await tx.setTlsIdentities(record.id, identities);
          await scope.recordIn(tx);
        });
      } catch (error) {
        if (error instanceof StoreConflictError) throw new KeywardError('conflict', error.message);
        throw error;
      }
      return principalView(record, identities);
    });
  }

  /**
   * Changes a principal (admin): for now its mutual-TLS identities, replaced
   * whole. Certificates it no longer names stop working at once, on every node.
   */
  update(ctx: CallContext, id: string, req: UpdatePrincipalRequest): Promise<PrincipalView> {
    return this.#gate.run(ctx, 'principal.update', async (scope) => {
      // Named before authorizing, so a refused attempt's record says whom it aimed at.
      scope.details.principal = id;
      scope.authorize();
      const principal = await this.#principal(id);
      if (req.tlsIdentities === undefined) {
        return principalView(principal, (await this.#store.listTlsIdentities([id])).get(id));
      }
      const identities = checkTlsIdentities(req.tlsIdentities);
      // The identities are public names, not secrets: the record says what the principal now answers to.
      scope.details.tlsIdentities = identities.join(',');
      try {
        await this.#store.transaction(async (tx) => {
          await tx.setTlsIdentities(id, identities);
          await tx.announce({ kind: 'principal', id });
          await scope.recordIn(tx);
        });
      } catch (error) {
        if (error instanceof StoreConflictError) throw new KeywardError('conflict', error.message);
        throw error;
      }
      this.#authenticator.forgetPrincipal(id);
      return principalView(principal, identities);
    });
  }

  list(ctx: CallContext, limit: number, cursor: string | null): Promise<{ principals: PrincipalView[]; nextCursor: string | null }> {
    return this.#gate.run(ctx, 'principal.read', async (scope) => {
      scope.authorize();
      const rows = await this.#store.listPrincipals(limit + 1, cursor);
      const page = rows.slice(0, limit);
      const identities = await this.#store.listTlsIdentities(page.map((p) => p.id));
      return {
        principals: page.map((p) => principalView(p, identities.get(p.id))),
        nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
      };
    });
  }

  get(ctx: CallContext, id: string): Promise<PrincipalView> {
    return this.#gate.run(ctx, 'principal.read', async (scope) => {
      scope.authorize();
      const principal = await this.#principal(id);
      return principalView(principal, (await this.#store.listTlsIdentities([id])).get(id));
    });
  }

  createToken(ctx: CallContext, principalId: string, ttl: string | undefined, description: string | undefined): Promise<CreatedToken> {
    return this.#gate.run(ctx, 'token.create', async (scope) => {
      scope.authorize();
      scope.details.principal = principalId;
      const expiresAt = addMs(scope.now, parseDuration('ttl', ttl ?? DEFAULT_TOKEN_TTL)).toISOString();
      await this.#principal(principalId);
      const token = newToken();
      const record: TokenRecord = {
        id: randomUUID(),
        principalId,
        tokenHash: hashToken(token),
        description: description ?? '',
        createdAt: scope.now.toISOString(),
        expiresAt,
        revokedAt: null,
      };
      scope.details.tokenId = record.id;
      await this.#store.transaction(async (tx) => {
        await tx.insertToken(record);
        await scope.recordIn(tx);
      });
      return { id: record.id, token, expiresAt, principal: principalId };
    });
  }

  revokeToken(ctx: CallContext, tokenId: string): Promise<void> {
    return this.#gate.run(ctx, 'token.revoke', async (scope) => {
      scope.authorize();
      scope.details.tokenId = tokenId;
      const token = await this.#store.getToken(tokenId);
      if (token === null) throw new KeywardError('not_found', `token '${tokenId}' does not exist`);
      await this.#store.transaction(async (tx) => {
        await tx.revokeToken(tokenId, scope.now.toISOString());
        await tx.announce({ kind: 'token', id: tokenId });
        await scope.recordIn(tx);
      });
      this.#authenticator.forgetToken(tokenId);
    });
  }

  /** Grants operations on a key; a change to the grants of a key whose class asks for a quorum waits for approval. */
  addGrant(ctx: CallContext, keyName: string, req: CreateGrantRequest): Promise<GrantView | PendingApproval> {
    return this.#gate.run(ctx, 'grant.create', async (scope) => {
      scope.key = keyName;
      const key = await this.#directory.load(ctx.namespace, keyName);
      scope.authorize(key);
      scope.details.principal = req.principal;
      const operations = [...new Set(req.operations)];
      const possible = USAGE_OPERATIONS[key.record.usage] ?? [];
      const impossible = operations.filter((op) => !possible.includes(op) || OPERATION_ROLE[op] === undefined);
      if (impossible.length > 0) {
        throw new KeywardError('invalid_request', `operations: ${impossible.join(', ')} not possible with a ${key.record.algorithm} key`);
      }
      await this.#principal(req.principal);
      const grant = {
        id: randomUUID(),
        keyId: key.record.id,
        principal: req.principal,
        operations,
        createdAt: scope.now.toISOString(),
        createdBy: scope.principal.id,
      };
      scope.details.operations = operations.join(',');
      const pending = await this.#store.transaction(async (tx) => {
        const held = await this.#hold(tx, scope, ctx.namespace, keyName, { type: 'grantCreate', principal: req.principal, operations });
        if (held !== null) return held;
        scope.details.grantId = grant.id;
        await tx.insertGrant(grant);
        await tx.announce({ kind: 'key', namespace: key.record.namespace, name: key.record.name, id: key.record.id });
        await scope.recordIn(tx);
        return null;
      });
      if (pending !== null) return pending;
      this.#directory.forget(ctx.namespace, keyName);
      return grantView(grant, key.record);
    });
  }

  listGrants(ctx: CallContext, keyName: string): Promise<{ grants: GrantView[] }> {
    return this.#gate.run(ctx, 'grant.read', async (scope) => {
      scope.key = keyName;
      const key = await this.#directory.load(ctx.namespace, keyName);
      scope.authorize(key);
      const grants = await this.#store.listGrants(key.record.id);
      return { grants: grants.map((g) => grantView(g, key.record)) };
    });
  }

  /** Removes a grant; null when done, the pending approval when the key's class asks for a quorum. */
  removeGrant(ctx: CallContext, keyName: string, grantId: string): Promise<PendingApproval | null> {
    return this.#gate.run(ctx, 'grant.delete', async (scope) => {
      scope.key = keyName;
      const key = await this.#directory.load(ctx.namespace, keyName);
      scope.authorize(key);
      scope.details.grantId = grantId;
      const pending = await this.#store.transaction(async (tx) => {
        if (!(await tx.listGrants(key.record.id)).some((g) => g.id === grantId))
          throw new KeywardError('not_found', `grant '${grantId}' does not exist on key '${keyName}'`);
        const held = await this.#hold(tx, scope, ctx.namespace, keyName, { type: 'grantDelete', grantId });
        if (held !== null) return held;
        await tx.deleteGrant(key.record.id, grantId);
        await tx.announce({ kind: 'key', namespace: key.record.namespace, name: key.record.name, id: key.record.id });
        await scope.recordIn(tx);
        return null;
      });
      if (pending === null) this.#directory.forget(ctx.namespace, keyName);
      return pending;
    });
  }

  /** Holds a grant change for approval when the key's class (read under the key's lock) asks for a quorum. */
  async #hold(
    tx: StoreOps,
    scope: Scope,
    namespace: string,
    keyName: string,
    operation: ApprovalOperation,
  ): Promise<PendingApproval | null> {
    const key = await tx.lockKey(namespace, keyName);
    if (key === null) throw new KeywardError('not_found', `key '${keyName}' does not exist`);
    const pending = await holdForApproval(tx, scope, this.#policy, key, { rule: 'grantChange', operation }, null);
    if (pending !== null) await scope.recordIn(tx);
    return pending;
  }

  async #principal(id: string): Promise<PrincipalRecord> {
    const principal = await this.#store.getPrincipal(id);
    if (principal === null) throw new KeywardError('not_found', `principal '${id}' does not exist`);
    return principal;
  }
}
