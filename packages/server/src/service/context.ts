import type { PrincipalRecord } from '../store/records.js';
import type { ApprovedExecution } from './approvals.js';

/** What every service call receives from its front end. */
export interface CallContext {
  /** The bearer credential as presented, or null. Never logged or recorded. */
  credential: string | null;
  /** A one-time code from the caller's authenticator app (`X-Keyward-OTP`), or null. Never logged or recorded. */
  otp?: string | null;
  requestId: string;
  /** Client address as the front end saw it. */
  source: string;
  namespace: string;
  /**
   * Set only by the approval service when it runs an operation its quorum
   * approved: the gate then acts as the requester, without a credential.
   */
  approved?: ApprovedExecution;
}

/** An authenticated caller. */
export interface Principal extends PrincipalRecord {
  /** The Keyward token used; empty for an OIDC token (and anonymous calls). */
  tokenId: string;
  /** How the caller proved who it is: a Keyward token (`kw_…`) or an OIDC bearer JWT. */
  via: 'token' | 'oidc';
  /** Whether the credential itself carried a second factor (an OIDC token whose `amr` names one). */
  secondFactor: boolean;
}
