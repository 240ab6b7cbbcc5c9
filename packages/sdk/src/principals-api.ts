import type { CreatedToken, CreatePrincipalRequest, CreateTokenRequest, PrincipalView, UpdatePrincipalRequest } from '@keyward/wire';
import { apiPath } from './api-path.js';
import { CryptoApi } from './crypto-api.js';
import { pickDefined } from './pick-defined.js';
import type { PageQuery, PrincipalList } from './sdk-types.js';

/** Principals (users, services, teams) and their bearer tokens. */
export class PrincipalsApi extends CryptoApi {
  /**
   * Creates a principal with roles, environments and teams.
   *
   * @example
   * await client.createPrincipal({ id: 'svc-billing', kind: 'service', roles: ['key-user'], environments: ['prod'] });
   */
  createPrincipal(request: CreatePrincipalRequest): Promise<PrincipalView> {
    return this.transport.request<PrincipalView>('POST', '/principals', { body: request });
  }

  /**
   * One page of principals.
   *
   * @example
   * const { principals, nextCursor } = await client.listPrincipals({ limit: 100 });
   */
  listPrincipals(query: PageQuery = {}): Promise<PrincipalList> {
    return this.transport.request<PrincipalList>('GET', '/principals', { query: pickDefined(query, ['limit', 'cursor']) });
  }

  /**
   * One principal.
   *
   * @example
   * const principal = await client.getPrincipal('svc-billing');
   */
  getPrincipal(id: string): Promise<PrincipalView> {
    return this.transport.request<PrincipalView>('GET', apiPath`/principals/${id}`);
  }

  /**
   * Changes a principal (admin): its mutual-TLS identities, replaced whole.
   *
   * @example
   * await client.patchPrincipal('svc-billing', { tlsIdentities: ['uri:spiffe://keyward/svc-billing'] });
   */
  patchPrincipal(id: string, request: UpdatePrincipalRequest): Promise<PrincipalView> {
    return this.transport.request<PrincipalView>('PATCH', apiPath`/principals/${id}`, { body: pickDefined(request, ['tlsIdentities']) });
  }

  /**
   * Issues a bearer token for a principal. The token is in this answer only;
   * the server keeps just its hash.
   *
   * @example
   * const { id, token, expiresAt } = await client.createToken('svc-billing', { ttl: '30d' });
   */
  createToken(principalId: string, request: CreateTokenRequest = {}): Promise<CreatedToken> {
    return this.transport.request<CreatedToken>('POST', apiPath`/principals/${principalId}/tokens`, {
      body: pickDefined(request, ['ttl', 'description']),
    });
  }

  /**
   * Revokes a token by its id (not its value); it stops working at once.
   *
   * @example
   * await client.revokeToken(created.id);
   */
  async revokeToken(tokenId: string): Promise<void> {
    await this.transport.request<undefined>('DELETE', apiPath`/tokens/${tokenId}`);
  }
}
