import { Envelope } from './envelope/envelope.js';
import { TotpApi } from './totp-api.js';

/**
 * Typed client of the Keyward HTTP API (shared/API.md). Every endpoint is one
 * method; binary values go in and come out as `Uint8Array`.
 *
 * Failures: {@link KeywardApiError} when the server refuses (switch on
 * `code`), {@link KeywardConnectionError} when no answer came. Idempotent
 * requests (reads, decrypt, verify, verify-mac) are retried after 429 or 503
 * with jittered backoff (option `retries`); anything that changes state is
 * sent exactly once (docs/transit.md, "Retries").
 *
 * The operation groups live in their own files (`sys-api.ts`, `keys-api.ts`,
 * `crypto-api.ts`, `principals-api.ts`, `grants-api.ts`, `reports-api.ts`, `events-api.ts`,
 * `alerts-api.ts`, `audit-api.ts`, `incidents-api.ts`, `governance-api.ts`, `totp-api.ts`).
 *
 * @example
 * const client = new KeywardClient({ address: 'http://127.0.0.1:8200', token: process.env.KEYWARD_TOKEN });
 * const { ciphertext } = await client.encrypt('payments-db', new TextEncoder().encode('4111…'));
 * const { plaintext } = await client.decrypt('payments-db', ciphertext);
 */
export class KeywardClient extends TotpApi {
  #envelope: Envelope | undefined;

  /**
   * Envelope encryption of messages of any size with this client's keys
   * (docs/transit.md): streams and buffer helpers, a fresh data key per
   * message. For a data-key cache, make one: `new Envelope(client, { cache })`.
   *
   * @example
   * await pipeline(input, client.envelope.encryptStream({ key: 'backups' }), output);
   */
  get envelope(): Envelope {
    this.#envelope ??= new Envelope(this);
    return this.#envelope;
  }
}
