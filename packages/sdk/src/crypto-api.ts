import type {
  BatchResponse,
  DataKeyResponse,
  DecryptResponse,
  EncryptResponse,
  MacResponse,
  PublicKeyResponse,
  SignResponse,
  VerifyMacResponse,
  VerifyResponse,
} from '@keyward/wire';
import { apiPath } from './api-path.js';
import { decodeAnswerField, toBase64 } from './base64.js';
import { isBatchItemError } from './is-batch-item-error.js';
import { KeysApi } from './keys-api.js';
import { pickDefined } from './pick-defined.js';
import type {
  BatchResult,
  CiphertextItem,
  ContextOptions,
  DataKeyOptions,
  DataKeyResult,
  DecryptResult,
  EncryptItem,
  EncryptResult,
  MacResult,
  SignInput,
  SignResult,
  VerifyInput,
} from './sdk-types.js';

/** Cryptographic operations, performed inside Keyward with the key's versions. */
export class CryptoApi extends KeysApi {
  /**
   * Encrypts under the primary version. The ciphertext names its version;
   * store it as is.
   *
   * @example
   * const { ciphertext } = await client.encrypt('payments-db', bytes, { context: { tenant: '42' } });
   */
  encrypt(key: string, plaintext: Uint8Array, options: ContextOptions = {}): Promise<EncryptResponse> {
    return this.transport.request<EncryptResponse>('POST', apiPath`/keys/${key}/encrypt`, {
      body: { plaintext: toBase64(plaintext), ...pickDefined(options, ['context']) },
    });
  }

  /**
   * Decrypts with the version the ciphertext names; the context must be the
   * one given to `encrypt`, else `invalid_ciphertext`.
   *
   * @example
   * const { plaintext } = await client.decrypt('payments-db', ciphertext, { context: { tenant: '42' } });
   */
  async decrypt(key: string, ciphertext: string, options: ContextOptions = {}): Promise<DecryptResult> {
    const answer = await this.transport.request<DecryptResponse>('POST', apiPath`/keys/${key}/decrypt`, {
      body: { ciphertext, ...pickDefined(options, ['context']) },
      // Read-only on key state: a repeat answers the same plaintext (it adds a use count and an audit record).
      idempotent: true,
    });
    return { plaintext: decodeAnswerField(answer.plaintext, 'plaintext'), keyVersion: answer.keyVersion };
  }

  /**
   * Re-encrypts under the primary version without returning the plaintext.
   *
   * @example
   * const { ciphertext: fresh } = await client.rewrap('payments-db', old);
   */
  rewrap(key: string, ciphertext: string, options: ContextOptions = {}): Promise<EncryptResult> {
    return this.transport.request<EncryptResponse>('POST', apiPath`/keys/${key}/rewrap`, {
      body: { ciphertext, ...pickDefined(options, ['context']) },
    });
  }

  /**
   * A fresh data key for envelope encryption: its plaintext (unless
   * `includePlaintext` is false) and the same key wrapped under `key`.
   *
   * @example
   * const { plaintext, ciphertext } = await client.dataKey('payments-db', { bytes: 32 });
   */
  async dataKey(key: string, options: DataKeyOptions = {}): Promise<DataKeyResult> {
    const answer = await this.transport.request<DataKeyResponse>('POST', apiPath`/keys/${key}/data-key`, {
      body: pickDefined(options, ['bytes', 'context', 'includePlaintext']),
    });
    const result: DataKeyResult = { ciphertext: answer.ciphertext, keyVersion: answer.keyVersion };
    if (answer.plaintext !== undefined) result.plaintext = decodeAnswerField(answer.plaintext, 'plaintext');
    return result;
  }

  /**
   * Signs a message, or a digest the caller computed.
   *
   * @example
   * const { signature } = await client.sign('release-signing', { message: bytes });
   */
  async sign(key: string, input: SignInput): Promise<SignResult> {
    const answer = await this.transport.request<SignResponse>('POST', apiPath`/keys/${key}/sign`, { body: signedBody(input) });
    return { signature: decodeAnswerField(answer.signature, 'signature'), keyVersion: answer.keyVersion };
  }

  /**
   * Verifies a signature. An invalid signature is an answer (`valid: false`),
   * not an error.
   *
   * @example
   * const { valid } = await client.verify('release-signing', { message: bytes, signature });
   */
  verify(key: string, input: VerifyInput): Promise<VerifyResponse> {
    return this.transport.request<VerifyResponse>('POST', apiPath`/keys/${key}/verify`, {
      body: { ...signedBody(input), signature: toBase64(input.signature), ...pickDefined(input, ['keyVersion']) },
      idempotent: true,
    });
  }

  /**
   * Computes a MAC of a message.
   *
   * @example
   * const { mac } = await client.mac('webhook-hmac', bytes);
   */
  async mac(key: string, message: Uint8Array): Promise<MacResult> {
    const answer = await this.transport.request<MacResponse>('POST', apiPath`/keys/${key}/mac`, { body: { message: toBase64(message) } });
    return { mac: decodeAnswerField(answer.mac, 'mac'), keyVersion: answer.keyVersion };
  }

  /**
   * Checks a MAC of a message (in constant time, on the server).
   *
   * @example
   * const { valid } = await client.verifyMac('webhook-hmac', bytes, mac);
   */
  verifyMac(key: string, message: Uint8Array, mac: Uint8Array): Promise<VerifyMacResponse> {
    return this.transport.request<VerifyMacResponse>('POST', apiPath`/keys/${key}/verify-mac`, {
      body: { message: toBase64(message), mac: toBase64(mac) },
      idempotent: true,
    });
  }

  /**
   * The public key of an asymmetric version (the primary by default), as PEM
   * (SPKI) and JWK.
   *
   * @example
   * const { publicKey } = await client.publicKey('release-signing', { version: 1 });
   */
  publicKey(key: string, options: { version?: number } = {}): Promise<PublicKeyResponse> {
    return this.transport.request<PublicKeyResponse>('GET', apiPath`/keys/${key}/public-key`, { query: pickDefined(options, ['version']) });
  }

  /**
   * Encrypts many items in one request; answers in order, each item either a
   * result or its own error.
   *
   * @example
   * const results = await client.encryptBatch('payments-db', [{ plaintext: a }, { plaintext: b }]);
   */
  encryptBatch(key: string, items: readonly EncryptItem[]): Promise<Array<BatchResult<EncryptResult>>> {
    const body = items.map((item) => ({ plaintext: toBase64(item.plaintext), ...pickDefined(item, ['context']) }));
    return this.#batch<EncryptResponse>(apiPath`/keys/${key}/encrypt`, body);
  }

  /**
   * Decrypts many items in one request; one bad item does not fail the others.
   *
   * @example
   * const results = await client.decryptBatch('payments-db', ciphertexts.map((ciphertext) => ({ ciphertext })));
   */
  async decryptBatch(key: string, items: readonly CiphertextItem[]): Promise<Array<BatchResult<DecryptResult>>> {
    const body = items.map((item) => pickDefined(item, ['ciphertext', 'context']));
    const answers = await this.#batch<DecryptResponse>(apiPath`/keys/${key}/decrypt`, body, true);
    return answers.map((answer) =>
      isBatchItemError(answer) ? answer : { plaintext: decodeAnswerField(answer.plaintext, 'plaintext'), keyVersion: answer.keyVersion },
    );
  }

  /**
   * Rewraps many items under the primary version in one request.
   *
   * @example
   * const results = await client.rewrapBatch('payments-db', ciphertexts.map((ciphertext) => ({ ciphertext })));
   */
  rewrapBatch(key: string, items: readonly CiphertextItem[]): Promise<Array<BatchResult<EncryptResult>>> {
    const body = items.map((item) => pickDefined(item, ['ciphertext', 'context']));
    return this.#batch<EncryptResponse>(apiPath`/keys/${key}/rewrap`, body);
  }

  /** `idempotent` only for decrypt: encrypt and rewrap batches spend nonces and make new ciphertexts. */
  async #batch<T>(path: string, items: readonly object[], idempotent = false): Promise<Array<BatchResult<T & object>>> {
    const answer = await this.transport.request<BatchResponse<T & object>>('POST', path, { body: { items }, idempotent });
    return answer.items;
  }
}

function signedBody(input: SignInput): { message: string } | { digest: string } {
  return input.message !== undefined ? { message: toBase64(input.message) } : { digest: toBase64(input.digest) };
}
