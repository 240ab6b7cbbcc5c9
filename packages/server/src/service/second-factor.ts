import { KeywardError } from '@keyward/wire';
import type { Action } from '../policy/actions.js';
import type { PolicySource } from '../policy/policy-file.js';
import { zero } from '../seal/zero.js';
import type { StoreOps } from '../store/store.js';
import type { Principal } from './context.js';
import type { Keyring } from './keyring.js';
import { matchTotp, totpSecretAad } from './totp.js';

/**
 * Actions that only read (or concern the caller itself): never admin-level,
 * so an administrator can look around, and enrol a second factor, without one.
 * `crypto.public-key` hands out nothing secret; every other cryptographic
 * operation by an admin is admin-level.
 */
export const READ_ACTIONS: ReadonlySet<Action> = new Set<Action>([
  'auth.self',
  'auth.totp-enrol',
  'auth.totp-confirm',
  'key.list',
  'key.read',
  'key.jwks',
  'key.usage',
  'principal.read',
  'grant.read',
  'audit.read',
  'audit.verify',
  'audit.export',
  'audit.hash',
  'events.read',
  'webhook.read',
  'alert.read',
  'policy.read',
  'incident.read',
  'approval.read',
  'report.read',
  'attestation.read',
  'crypto.public-key',
]);

/**
 * Admin-level: any action other than a read taken by a principal that holds
 * the `admin` role (docs/governance.md, "People: OIDC and second factors").
 */
export function isAdminLevel(principal: Pick<Principal, 'roles'>, action: Action): boolean {
  return principal.roles.includes('admin') && !READ_ACTIONS.has(action);
}

type Detail = string | number | boolean | null;

/**
 * The second factor the policy's `mfa.admin` asks for admin-level actions:
 *
 * - an OIDC person: the token's `amr` must name one of `oidc.secondFactorAmr`;
 * - a local user (kind `user`, Keyward token) who has confirmed a TOTP
 *   authenticator: the current code in `X-Keyward-OTP`, good once;
 * - anyone else (services, teams, users without TOTP): nothing is asked.
 *
 * Refusals are `401 unauthenticated` (the credential is not enough for this
 * action: a step-up, as in RFC 9470), and the gate counts them as failed
 * authentications of the source.
 */
export class SecondFactor {
  readonly #store: StoreOps;
  readonly #keyring: Keyring;
  readonly #policy: PolicySource;

  constructor(deps: { store: StoreOps; keyring: Keyring; policy: PolicySource }) {
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#policy = deps.policy;
  }

  /**
   * Throws unless `principal` may take `action` with what it presented;
   * writes the reason of a refusal (never the code) to `details`.
   */
  async check(principal: Principal, action: Action, otp: string | null, now: Date, details: Record<string, Detail>): Promise<void> {
    if (!isAdminLevel(principal, action) || this.#policy.current().mfa.admin === 'off') return;
    if (principal.via === 'oidc') {
      if (principal.secondFactor) return;
      details.secondFactor = 'missing';
      throw new KeywardError(
        'unauthenticated',
        "a second factor is required for admin-level actions: the OIDC token's amr names none (sign in again with a second factor)",
      );
    }
    if (principal.kind !== 'user') return;
    const enrolled = await this.#store.getTotp(principal.id);
    if (enrolled === null || enrolled.confirmedAt === null) return;
    if (otp === null) {
      details.secondFactor = 'missing';
      throw new KeywardError(
        'unauthenticated',
        'a second factor is required for admin-level actions: send the current code of your authenticator in X-Keyward-OTP',
      );
    }
    const secret = await this.#keyring.unwrapSecret(totpSecretAad(principal.id), enrolled.secret);
    let step: number | null;
    try {
      step = matchTotp(secret, otp, now);
    } finally {
      zero(secret);
    }
    if (step === null) {
      details.secondFactor = 'invalid';
      throw new KeywardError('unauthenticated', 'the one-time code (X-Keyward-OTP) is not valid');
    }
    if (!(await this.#store.useTotpStep(principal.id, step))) {
      details.secondFactor = 'replayed';
      throw new KeywardError('unauthenticated', 'the one-time code (X-Keyward-OTP) was already used; wait for the next one');
    }
  }
}
