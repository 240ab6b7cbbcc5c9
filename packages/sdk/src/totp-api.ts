import type { TotpConfirmed, TotpEnrolment } from '@keyward/wire';
import { apiPath } from './api-path.js';
import { GovernanceApi } from './governance-api.js';

/**
 * TOTP second factors of local users (docs/governance.md, "People: OIDC and
 * second factors"). Once confirmed, admin-level calls need the current code:
 * pass it as the client's `otp` option (sent as `X-Keyward-OTP`).
 */
export class TotpApi extends GovernanceApi {
  /**
   * Enrols a TOTP authenticator for the calling user. The secret is in this
   * answer only; it is pending until {@link confirmTotp}.
   *
   * @example
   * const { secret, uri } = await client.enrolTotp(); // show `uri` as a QR code
   */
  enrolTotp(): Promise<TotpEnrolment> {
    return this.transport.request<TotpEnrolment>('POST', '/auth/totp');
  }

  /**
   * Confirms the pending authenticator with its current 6-digit code.
   *
   * @example
   * await client.confirmTotp('492039');
   */
  confirmTotp(code: string): Promise<TotpConfirmed> {
    return this.transport.request<TotpConfirmed>('POST', '/auth/totp/confirm', { body: { code } });
  }

  /**
   * Removes a principal's authenticator (an admin's recovery of a lost one).
   *
   * @example
   * await new KeywardClient({ address, token, otp: '492039' }).removeTotp('alice');
   */
  async removeTotp(principalId: string): Promise<void> {
    await this.transport.request<undefined>('DELETE', apiPath`/principals/${principalId}/totp`);
  }
}
