import type { TotpConfirmed, TotpEnrolment } from '@keyward/wire';
import { KeywardError } from '@keyward/wire';
import { zero } from '../seal/zero.js';
import type { Store } from '../store/store.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';
import type { Keyring } from './keyring.js';
import { matchTotp, newTotpSecret, totpEnrolment, totpSecretAad } from './totp.js';

/**
 * TOTP second factors of local users (docs/governance.md, "People: OIDC and
 * second factors"): a user enrols its own authenticator, confirms it with a
 * code, and from then on sends a code with each admin-level action
 * (SecondFactor). Only an admin removes a confirmed one (recovery of a lost
 * phone), so a stolen token cannot replace it.
 */
export class TotpService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #keyring: Keyring;

  constructor(deps: { gate: Gate; store: Store; keyring: Keyring }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#keyring = deps.keyring;
  }

  /**
   * A new authenticator for the caller, pending until confirmed; replaces a
   * pending one. The secret is returned this once and stored wrapped under
   * the root key, bound to the principal id.
   */
  enrol(ctx: CallContext): Promise<TotpEnrolment> {
    return this.#gate.run(ctx, 'auth.totp-enrol', async (scope) => {
      const { principal } = scope;
      if (principal.kind !== 'user' || principal.via !== 'token') {
        const who = principal.via === 'oidc' ? 'an OIDC user (the identity provider provides the second factor)' : `a ${principal.kind}`;
        throw new KeywardError('forbidden', `only local users enrol a TOTP authenticator; '${principal.id}' is ${who}`);
      }
      const existing = await this.#store.getTotp(principal.id);
      if (existing?.confirmedAt != null) {
        throw new KeywardError(
          'conflict',
          `'${principal.id}' already has a confirmed TOTP authenticator; an admin removes it (DELETE /v1/principals/${principal.id}/totp) before another is enrolled`,
        );
      }
      const secret = newTotpSecret();
      try {
        const wrapped = await this.#keyring.wrapSecret(totpSecretAad(principal.id), secret);
        await this.#store.transaction(async (tx) => {
          await tx.deleteTotp(principal.id);
          await tx.insertTotp({
            principalId: principal.id,
            secret: wrapped,
            createdAt: scope.now.toISOString(),
            confirmedAt: null,
            lastStep: null,
          });
          await scope.recordIn(tx);
        });
        return totpEnrolment(secret, principal.id);
      } finally {
        zero(secret);
      }
    });
  }

  /** Confirms the caller's pending authenticator with its current code. */
  confirm(ctx: CallContext, code: string): Promise<TotpConfirmed> {
    return this.#gate.run(ctx, 'auth.totp-confirm', async (scope) => {
      const { principal } = scope;
      const pending = await this.#store.getTotp(principal.id);
      if (pending === null || pending.confirmedAt !== null) {
        throw new KeywardError('not_found', `'${principal.id}' has no pending TOTP enrolment; POST /v1/auth/totp first`);
      }
      const secret = await this.#keyring.unwrapSecret(totpSecretAad(principal.id), pending.secret);
      let step: number | null;
      try {
        step = matchTotp(secret, code, scope.now);
      } finally {
        zero(secret);
      }
      if (step === null) throw new KeywardError('invalid_request', "code: does not match the authenticator's current code");
      const confirmedAt = scope.now.toISOString();
      await this.#store.transaction(async (tx) => {
        if (!(await tx.confirmTotp(principal.id, confirmedAt, step))) {
          throw new KeywardError('not_found', `'${principal.id}' has no pending TOTP enrolment; POST /v1/auth/totp first`);
        }
        await scope.recordIn(tx);
      });
      return { principal: principal.id, confirmedAt };
    });
  }

  /** Removes a principal's authenticator (pending or confirmed): recovery when a user lost it. Admin only. */
  remove(ctx: CallContext, principalId: string): Promise<void> {
    return this.#gate.run(ctx, 'principal.totp-remove', async (scope) => {
      scope.details.principal = principalId;
      scope.authorize();
      await this.#store.transaction(async (tx) => {
        if (!(await tx.deleteTotp(principalId))) {
          throw new KeywardError('not_found', `principal '${principalId}' has no TOTP authenticator`);
        }
        await scope.recordIn(tx);
      });
    });
  }
}
