import type { CreateGrantRequest, GrantView, PendingApproval } from '@keyward/wire';
import { apiPath } from './api-path.js';
import { pickDefined } from './pick-defined.js';
import { PrincipalsApi } from './principals-api.js';
import type { GrantList, PageQuery } from './sdk-types.js';

/** Grants: which principal may do which cryptographic operations with a key. */
export class GrantsApi extends PrincipalsApi {
  /**
   * Grants operations on a key to a principal; a `team-…` principal grants
   * to every member. A {@link PendingApproval} when the key's class asks a
   * quorum for grant changes.
   *
   * @example
   * await client.addGrant('payments-db', { principal: 'svc-billing', operations: ['encrypt', 'decrypt'] });
   */
  addGrant(key: string, request: CreateGrantRequest): Promise<GrantView | PendingApproval> {
    return this.transport.request<GrantView | PendingApproval>('POST', apiPath`/keys/${key}/grants`, { body: request });
  }

  /**
   * One page of the grants of a key.
   *
   * @example
   * const { grants } = await client.listGrants('payments-db');
   */
  listGrants(key: string, query: PageQuery = {}): Promise<GrantList> {
    return this.transport.request<GrantList>('GET', apiPath`/keys/${key}/grants`, { query: pickDefined(query, ['limit', 'cursor']) });
  }

  /**
   * Removes a grant by its id: undefined when done, a {@link PendingApproval}
   * when the key's class asks a quorum for grant changes.
   *
   * @example
   * await client.removeGrant('payments-db', grant.id);
   */
  async removeGrant(key: string, grantId: string): Promise<PendingApproval | undefined> {
    return this.transport.request<PendingApproval | undefined>('DELETE', apiPath`/keys/${key}/grants/${grantId}`);
  }
}
