import type { PrincipalRecord } from '../store/records.js';
import type { ApprovedExecution } from './approvals.js';
import type { ClientCertificate } from './client-certificate.js';

/** What every service call receives from its front end. */
export interface CallContext {
  /** The bearer credential as presented, or null. Never logged or recorded. */
  credential: string | null;
  /**
   * The client certificate of a mutual-TLS connection, as the TLS layer
   * verified it, or null/absent (no certificate, or no `--tls-client-ca`).
   * Never logged or recorded.
   */
  clientCertificate?: ClientCertificate | null;
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
  /** How the caller proved who it is: a Keyward token (`kw_…`), an OIDC bearer JWT, or a mutual-TLS client certificate. */
  via: 'token' | 'oidc' | 'mtls';
  /** Whether the credential itself carried a second factor (an OIDC token whose `amr` names one). */
  secondFactor: boolean;
}
