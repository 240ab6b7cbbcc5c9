import type {
  CreateKeyRequest,
  ExportedKey,
  ExportKeyRequest,
  ImportKeyRequest,
  ImportParameters,
  ImportWrappingAlgorithm,
  KeyList,
  KeyListQuery,
  KeyView,
  PatchKeyRequest,
  PendingApproval,
  ReviewKeyRequest,
  RotateKeyRequest,
} from '@keyward/wire';
import { apiPath } from './api-path.js';
import { pickDefined } from './pick-defined.js';
import type { KeyFilter, ReasonOptions, ScheduleDeletionOptions } from './sdk-types.js';
import { SysApi } from './sys-api.js';

const KEY_FILTERS = ['owner', 'class', 'environment', 'state', 'algorithm', 'tag', 'q', 'limit', 'cursor'] as const;

/** Key and version life cycle: create, list, change, rotate, retire, delete. */
export class KeysApi extends SysApi {
  /**
   * Creates a key with version 1 active. Only `name`, `algorithm` and `owner`
   * are required; the rest default from the key's class.
   *
   * @example
   * const key = await client.createKey({ name: 'payments-db', algorithm: 'aes-256-gcm', owner: 'team-payments' });
   */
  createKey(request: CreateKeyRequest): Promise<KeyView> {
    return this.transport.request<KeyView>('POST', '/keys', { body: request });
  }

  /**
   * One page of keys (without versions), filtered. Pass `nextCursor` back as
   * `cursor` for the next page, or use {@link iterateKeys}.
   *
   * @example
   * const { keys, nextCursor } = await client.listKeys({ owner: 'team-payments', limit: 50 });
   */
  listKeys(query: KeyListQuery = {}): Promise<KeyList> {
    return this.transport.request<KeyList>('GET', '/keys', { query: pickDefined(query, KEY_FILTERS) });
  }

  /**
   * Every key matching the filters, fetching page after page as iterated.
   * `limit` sets the page size.
   *
   * @example
   * for await (const key of client.iterateKeys({ environment: 'prod' })) console.log(key.name);
   */
  async *iterateKeys(filter: KeyFilter = {}): AsyncGenerator<KeyView, void, undefined> {
    let cursor: string | null = null;
    do {
      const page: KeyList = await this.listKeys(cursor === null ? filter : { ...filter, cursor });
      yield* page.keys;
      cursor = page.nextCursor ?? null;
    } while (cursor !== null);
  }

  /**
   * One key with its versions.
   *
   * @example
   * const key = await client.getKey('payments-db');
   */
  getKey(name: string): Promise<KeyView> {
    return this.transport.request<KeyView>('GET', apiPath`/keys/${name}`);
  }

  /**
   * Changes metadata of a key (owner, class, environment, description, tags,
   * rotation period, use limit, deletion window). Moving a key to a lower
   * class answers a {@link PendingApproval} when its class asks for a quorum.
   *
   * @example
   * await client.patchKey('payments-db', { rotationPeriod: '30d' });
   */
  patchKey(name: string, request: PatchKeyRequest): Promise<KeyView | PendingApproval> {
    return this.transport.request<KeyView | PendingApproval>('PATCH', apiPath`/keys/${name}`, { body: request });
  }

  /**
   * Adds a new primary version. Older versions keep decrypting and verifying
   * until deactivated.
   *
   * @example
   * const key = await client.rotateKey('payments-db', { reason: 'quarterly' });
   */
  rotateKey(name: string, options: RotateKeyRequest = {}): Promise<KeyView> {
    return this.transport.request<KeyView>('POST', apiPath`/keys/${name}/rotate`, {
      body: pickDefined(options, ['reason', 'activationDate']),
    });
  }

  /**
   * BYOK: the namespace's RSA-4096 wrapping public key and a single-use
   * import token (24 hours) for importing material into `name` wrapped with
   * `algorithm` (docs/transit.md, "BYOK import").
   *
   * @example
   * const { publicKey, importToken } = await client.getImportParameters('payments-dek', 'RSA_AES_KEY_WRAP_SHA_256');
   */
  getImportParameters(name: string, algorithm: ImportWrappingAlgorithm): Promise<ImportParameters> {
    return this.transport.request<ImportParameters>('GET', apiPath`/keys/${name}/import-parameters`, { query: { algorithm } });
  }

  /**
   * BYOK: imports wrapped symmetric material (`wrappedKey` in base64) as the
   * new primary version of `name`, origin `imported`.
   *
   * @example
   * await client.importKey('payments-dek', { importToken, wrappedKey, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
   */
  importKey(name: string, request: ImportKeyRequest): Promise<KeyView> {
    return this.transport.request<KeyView>('POST', apiPath`/keys/${name}/import`, { body: request });
  }

  /**
   * Wrapped export: version `version`'s material wrapped for the recipient
   * public key (PEM), never in the clear; a {@link PendingApproval} when the
   * key's class asks a quorum for export (the executed approval then carries
   * the answer as `result`).
   *
   * @example
   * const exported = await client.exportVersion('payments-dek', 2, { publicKey: pem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
   */
  exportVersion(name: string, version: number, request: ExportKeyRequest): Promise<ExportedKey | PendingApproval> {
    return this.transport.request<ExportedKey | PendingApproval>('POST', apiPath`/keys/${name}/versions/${version}/export`, {
      body: request,
    });
  }

  /**
   * Erases a deactivated, non-primary version's material for good; its
   * metadata stays. A {@link PendingApproval} when the key's class asks for a quorum.
   *
   * @example
   * await client.destroyVersion('payments-db', 1);
   */
  destroyVersion(name: string, version: number): Promise<KeyView | PendingApproval> {
    return this.transport.request<KeyView | PendingApproval>('POST', apiPath`/keys/${name}/versions/${version}/destroy`);
  }

  /**
   * Enables a disabled key.
   *
   * @example
   * await client.enableKey('payments-db');
   */
  enableKey(name: string): Promise<KeyView> {
    return this.transport.request<KeyView>('POST', apiPath`/keys/${name}/enable`);
  }

  /**
   * Disables a key: it refuses every cryptographic operation until enabled.
   * A {@link PendingApproval} when the key's class asks for a quorum.
   *
   * @example
   * await client.disableKey('payments-db');
   */
  disableKey(name: string): Promise<KeyView | PendingApproval> {
    return this.transport.request<KeyView | PendingApproval>('POST', apiPath`/keys/${name}/disable`);
  }

  /**
   * Deactivates a non-primary version: it may still decrypt, verify and
   * unwrap, never encrypt, sign or wrap.
   *
   * @example
   * await client.deactivateVersion('payments-db', 1);
   */
  deactivateVersion(name: string, version: number): Promise<KeyView> {
    return this.transport.request<KeyView>('POST', apiPath`/keys/${name}/versions/${version}/deactivate`);
  }

  /**
   * Declares a version compromised; if it was primary, the key rotates at once.
   *
   * @example
   * await client.compromiseVersion('payments-db', 2, { reason: 'leaked in incident 42' });
   */
  compromiseVersion(name: string, version: number, options: ReasonOptions = {}): Promise<KeyView> {
    return this.transport.request<KeyView>('POST', apiPath`/keys/${name}/versions/${version}/compromise`, {
      body: pickDefined(options, ['reason']),
    });
  }

  /**
   * Schedules the key for destruction after `days` (7–30); it is
   * `pending_deletion` until then and can be cancelled. A {@link PendingApproval}
   * when the key's class asks for a quorum.
   *
   * @example
   * const key = await client.scheduleDeletion('old-key', { days: 30 });
   */
  scheduleDeletion(name: string, options: ScheduleDeletionOptions = {}): Promise<KeyView | PendingApproval> {
    return this.transport.request<KeyView | PendingApproval>('POST', apiPath`/keys/${name}/schedule-deletion`, {
      body: pickDefined(options, ['days']),
    });
  }

  /**
   * Records a review of the key (its owner or a key administrator); the next
   * one falls due a review interval of its class later.
   *
   * @example
   * await client.reviewKey('payments-db', { note: 'still used by checkout' });
   */
  reviewKey(name: string, request: ReviewKeyRequest = {}): Promise<KeyView> {
    return this.transport.request<KeyView>('POST', apiPath`/keys/${name}/review`, { body: pickDefined(request, ['note']) });
  }

  /**
   * Cancels a scheduled deletion; the key returns as `disabled`.
   *
   * @example
   * await client.cancelDeletion('old-key');
   */
  cancelDeletion(name: string): Promise<KeyView> {
    return this.transport.request<KeyView>('POST', apiPath`/keys/${name}/cancel-deletion`);
  }
}
