import {
  type AttestationPublicKey,
  type AttestationResponse,
  type AuditCheckpointView,
  type AuditEventsQuery as AuditEventsWireQuery,
  type AuditRecordView,
  type AuditVerifyReport,
  type EncryptionContext,
  KeywardError,
} from '@keyward/wire';
import { AlertsApi } from './alerts-api.js';
import { KeywardConnectionError } from './keyward-connection-error.js';

/** Filters of {@link AuditApi.auditEvents} (the API's query); the times may also be Dates. */
export interface AuditEventsQuery extends Omit<AuditEventsWireQuery, 'from' | 'to'> {
  /** Records at or after this time (RFC 3339, or a Date). */
  from?: string | Date;
  /** Records before this time (RFC 3339, or a Date). */
  to?: string | Date;
}

/** Filters of the iterator over every page; `limit` sets the page size. */
export type AuditEventsFilter = Omit<AuditEventsQuery, 'cursor'>;

/** One page of audit records, oldest first. */
export interface AuditEventList {
  events: AuditRecordView[];
  nextCursor: string | null;
}

/** The Ed25519 key that signs audit checkpoints: PEM (SPKI) and its `sha256:` id. */
export interface AuditPublicKey {
  publicKey: string;
  keyId: string;
}

/** What {@link AuditApi.auditHash} hashes: a string (as UTF-8) or an encryption context (exactly one). */
export type AuditHashInput = { value: string; context?: never } | { context: EncryptionContext; value?: never };

/** Options of {@link AuditApi.exportAudit}. */
export interface AuditExportOptions {
  /** Aborts the download. */
  signal?: AbortSignal;
}

/**
 * The tamper-evident audit trail, for auditors (docs/audit.md): reading it,
 * verifying it on the server, exporting it for offline verification
 * (`verifyAuditLines` of `@keyward/crypto`), and the HMAC it records for a
 * sensitive value.
 */
export class AuditApi extends AlertsApi {
  /**
   * One page of audit records matching every filter, oldest first. Pass
   * `nextCursor` back as `cursor`, or use {@link iterateAuditEvents}.
   *
   * @example
   * const { events } = await client.auditEvents({ key: 'payments-db', action: 'crypto.decrypt', limit: 50 });
   */
  auditEvents(query: AuditEventsQuery = {}): Promise<AuditEventList> {
    const { from, to, ...rest } = query;
    return this.transport.request<AuditEventList>('GET', '/audit/events', {
      query: { ...rest, from: timeParameter('from', from), to: timeParameter('to', to) },
    });
  }

  /**
   * Every audit record matching the filters, fetching page after page as iterated.
   *
   * @example
   * for await (const record of client.iterateAuditEvents({ principal: 'svc-billing', outcome: 'denied' })) console.log(record.time);
   */
  async *iterateAuditEvents(filter: AuditEventsFilter = {}): AsyncGenerator<AuditRecordView, void, undefined> {
    let cursor: string | null = null;
    do {
      const page: AuditEventList = await this.auditEvents(cursor === null ? filter : { ...filter, cursor });
      yield* page.events;
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  /**
   * Verifies every chain on the server against its signed checkpoints (and
   * the node's file sink, if it has one). An invalid trail is an answer, not
   * an error: check `valid`, and `problem` for the chain and first bad record.
   *
   * @example
   * const report = await client.verifyAudit();
   * if (!report.valid) console.error(report.problem?.message);
   */
  verifyAudit(): Promise<AuditVerifyReport> {
    return this.transport.request<AuditVerifyReport>('GET', '/audit/verify');
  }

  /**
   * Downloads the whole trail as JSON lines (docs/formats.md), streamed:
   * resolves once the server accepted (a refusal rejects as for any request)
   * and answers a stream of text chunks, never the whole export in memory.
   * Chunks do not follow line boundaries. A connection that breaks off
   * mid-way errors the stream with a {@link KeywardConnectionError}.
   * Leaving a `for await` early cancels the download.
   *
   * @example
   * const stream = await client.exportAudit();
   * for await (const chunk of stream) file.write(chunk);
   */
  async exportAudit(options: AuditExportOptions = {}): Promise<ReadableStream<string>> {
    const response = await this.transport.stream('/audit/export', {
      headers: { accept: 'application/x-ndjson' },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return textChunks(response.body as ReadableStream<Uint8Array>, this.transport.origin, options.signal);
  }

  /**
   * The Ed25519 public key (PEM) that signs audit checkpoints, and its id.
   * Keep a copy obtained out of band: an offline verifier must not trust the
   * key inside the export it checks.
   *
   * @example
   * const { publicKey, keyId } = await client.auditPublicKey();
   */
  auditPublicKey(): Promise<AuditPublicKey> {
    return this.transport.request<AuditPublicKey>('GET', '/audit/public-key');
  }

  /**
   * A fresh attestation of the namespace (docs/operations.md "Reading an
   * attestation"): a compact JWS (`alg` EdDSA) signed with the attestation
   * key; verify it with the public key from {@link attestationPublicKey},
   * obtained out of band, before trusting its claims (docs/formats.md).
   *
   * @example
   * const { jws } = await client.attestation();
   * const { payload } = await compactVerify(jws, await importJWK(jwk, 'EdDSA'), { algorithms: ['EdDSA'] });
   */
  attestation(): Promise<AttestationResponse> {
    return this.transport.request<AttestationResponse>('GET', '/attestations/current');
  }

  /**
   * The Ed25519 public key attestations are signed with: PEM, JWK, and its
   * RFC 7638 thumbprint (the `kid` of every attestation).
   *
   * @example
   * const { jwk, kid } = await client.attestationPublicKey();
   */
  attestationPublicKey(): Promise<AttestationPublicKey> {
    return this.transport.request<AttestationPublicKey>('GET', '/attestations/public-key');
  }

  /**
   * The HMAC (`hmac-sha256:<hex>`) the audit trail records for a sensitive
   * value you hold, to find the records about it. Give a `value` or an
   * encryption `context`, not both.
   *
   * @example
   * const { hmac } = await client.auditHash({ context: { tenant: 'acme' } });
   * const records = (await client.auditEvents({ key: 'payments-db' })).events.filter((r) => r.details.context === hmac);
   */
  auditHash(input: AuditHashInput): Promise<{ hmac: string }> {
    if ((input.value === undefined) === (input.context === undefined)) {
      throw new KeywardError('invalid_request', 'give exactly one of value and context');
    }
    const body = input.value !== undefined ? { value: input.value } : { context: input.context };
    // A pure function of the value and the audit key: repeating it changes nothing but the audit trail.
    return this.transport.request<{ hmac: string }>('POST', '/audit/hash', { body, idempotent: true });
  }

  /**
   * Signs a checkpoint of every chain's head now (admin), e.g. to close a period.
   *
   * @example
   * const checkpoint = await client.auditCheckpoint();
   */
  auditCheckpoint(): Promise<AuditCheckpointView> {
    return this.transport.request<AuditCheckpointView>('POST', '/audit/checkpoints');
  }
}

function timeParameter(name: string, value: string | Date | undefined): string | undefined {
  if (!(value instanceof Date)) return value;
  if (Number.isNaN(value.getTime())) throw new KeywardError('invalid_request', `${name}: not a valid time`);
  return value.toISOString();
}

/**
 * Decodes the body into text chunks one read at a time (the stream holds at
 * most one chunk ahead), and reports a connection that broke off as a
 * {@link KeywardConnectionError} rather than fetch's bare `TypeError`
 * (the caller's own abort stays an abort).
 */
function textChunks(body: ReadableStream<Uint8Array>, origin: string, signal: AbortSignal | undefined): ReadableStream<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  return new ReadableStream<string>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        // The caller's own abort is not a connection failure.
        if (signal?.aborted === true) {
          controller.error(error);
          return;
        }
        const reason = error instanceof Error ? error.message : String(error);
        controller.error(
          new KeywardConnectionError(`the audit export from ${origin} broke off: ${reason}`, { timedOut: false, cause: error }),
        );
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  });
}
