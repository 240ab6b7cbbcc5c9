import type { Health, InitRequest, InitResponse, SelfResponse, UnsealResponse } from '@keyward/wire';
import { ClientBase } from './client-base.js';
import { pickDefined } from './pick-defined.js';

/** System operations: health, initialization, seal and unseal, and "who am I". */
export class SysApi extends ClientBase {
  /**
   * Health of the server. Answers (does not throw) when the server is sealed
   * or not initialized: the body then says so.
   *
   * @example
   * const { sealed, initialized } = await client.health();
   */
  health(): Promise<Health> {
    return this.transport.request<Health>('GET', '/sys/health', { acceptStatus: [503] });
  }

  /**
   * Initializes a Shamir-sealed server once. The unseal shares and the first
   * admin token are returned this one time only: hand them to their custodians.
   *
   * @example
   * const { unsealShares, adminToken } = await client.init({ shares: 5, threshold: 3 });
   */
  init(request: InitRequest = {}): Promise<InitResponse> {
    return this.transport.request<InitResponse>('POST', '/sys/init', { body: pickDefined(request, ['shares', 'threshold']) });
  }

  /**
   * Submits one unseal share; the answer tells how many of the threshold have
   * been given and whether the server is now unsealed.
   *
   * @example
   * const { sealed, progress, threshold } = await client.unseal(share);
   */
  unseal(share: string): Promise<UnsealResponse> {
    return this.transport.request<UnsealResponse>('POST', '/sys/unseal', { body: { share } });
  }

  /**
   * Seals the server (admin only): it drops its keys from memory and refuses
   * every operation until unsealed.
   *
   * @example
   * await client.seal();
   */
  async seal(): Promise<void> {
    await this.transport.request<undefined>('POST', '/sys/seal');
  }

  /**
   * Asks the server for an encrypted backup of its whole store (admin only).
   * The answer is the age-encrypted archive as a byte stream, produced while
   * it is read: write it to a file; only the recipients' identities open it.
   * A stream that ends early (the server failed half-way) is a truncated age
   * file that no restore accepts.
   *
   * @example
   * const archive = await client.backup(['age1…']);
   * await pipeline(Readable.fromWeb(archive), createWriteStream('keyward.age'));
   */
  async backup(recipients: readonly string[], options: { signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
    const response = await this.transport.stream('/sys/backup', {
      method: 'POST',
      body: { recipients },
      headers: { accept: 'application/octet-stream' },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (response.body === null) throw new Error('the backup answer has no body');
    return response.body;
  }

  /**
   * The server's Prometheus metrics (text format 0.0.4, docs/metrics.md),
   * from `GET /metrics`: no credential needed, answered while sealed.
   *
   * @example
   * const text = await client.metrics();
   */
  metrics(): Promise<string> {
    return this.transport.request<string>('GET', '/metrics', { text: true, root: true });
  }

  /**
   * The principal the token belongs to, and its roles.
   *
   * @example
   * const { principal, roles } = await client.self();
   */
  self(): Promise<SelfResponse> {
    return this.transport.request<SelfResponse>('GET', '/auth/self');
  }
}
