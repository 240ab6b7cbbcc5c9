import {
  type BlastRadiusReport,
  type DeclareIncidentRequest,
  HTTP_STATUS,
  type IncidentList,
  type IncidentListQuery,
  type IncidentProgressLine,
  type IncidentRewrapResponse,
  type IncidentStepView,
  type IncidentView,
  isErrorCode,
  type PatchIncidentRequest,
} from '@keyward/wire';
import { apiPath } from './api-path.js';
import { AuditApi } from './audit-api.js';
import { KeywardApiError } from './keyward-api-error.js';
import { pickDefined } from './pick-defined.js';
import type { CiphertextItem } from './sdk-types.js';

/** Options of {@link IncidentsApi.declareIncident}. */
export interface DeclareIncidentOptions {
  /** Hears each playbook step as it starts and finishes (the answer is then streamed as NDJSON). */
  onStep?: (step: IncidentStepView) => void;
}

/** Filters of the iterator over every page; `limit` sets the page size. */
export type IncidentFilter = Omit<IncidentListQuery, 'cursor'>;

/** Splits a byte stream into lines (NDJSON), the last one without its newline. */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
        const line = buffer.slice(0, at).trim();
        buffer = buffer.slice(at + 1);
        if (line !== '') yield line;
      }
    }
    if (buffer.trim() !== '') yield buffer.trim();
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Incidents (docs/incident-response.md): declaring a key compromise (the
 * playbook: contain, rotate, notify, blast radius, recovery), following and
 * closing the record, and re-encrypting what was issued under the version.
 */
export class IncidentsApi extends AuditApi {
  /**
   * Declares a key version compromised (the primary version unless
   * `version` is given) and answers the incident once the playbook ran.
   * With `onStep`, each step is reported as it happens.
   *
   * @example
   * const incident = await client.declareIncident(
   *   { type: 'key_compromise', key: 'payments-db', reason: 'material in a crash dump' },
   *   { onStep: (step) => console.log(step.name, step.state, step.outcome) },
   * );
   */
  async declareIncident(request: DeclareIncidentRequest, options: DeclareIncidentOptions = {}): Promise<IncidentView> {
    const body = pickDefined(request, ['type', 'key', 'version', 'reason', 'raiseMinDecryptionVersionAfter']);
    const { onStep } = options;
    if (onStep === undefined) return this.transport.request<IncidentView>('POST', '/incidents', { body });
    const response = await this.transport.stream('/incidents', { method: 'POST', body, headers: { accept: 'application/x-ndjson' } });
    const requestId = response.headers.get('x-request-id');
    for await (const text of lines(response.body as ReadableStream<Uint8Array>)) {
      const line = JSON.parse(text) as IncidentProgressLine;
      if (line.type === 'step') onStep(line.step);
      else if (line.type === 'incident') return line.incident;
      else {
        const code = isErrorCode(line.error.code) ? line.error.code : 'internal';
        throw new KeywardApiError(code, line.error.message, HTTP_STATUS[code], line.error.requestId ?? requestId);
      }
    }
    throw new KeywardApiError('internal', 'the answer ended before the incident was reported', response.status, requestId);
  }

  /**
   * One page of incidents of the client's namespace, newest first.
   *
   * @example
   * const { incidents } = await client.listIncidents({ state: 'open' });
   */
  listIncidents(query: IncidentListQuery = {}): Promise<IncidentList> {
    return this.transport.request<IncidentList>('GET', '/incidents', { query: pickDefined(query, ['state', 'key', 'limit', 'cursor']) });
  }

  /**
   * Every incident matching the filters, page after page.
   *
   * @example
   * for await (const incident of client.iterateIncidents({ state: 'open' })) console.log(incident.id, incident.key);
   */
  async *iterateIncidents(filter: IncidentFilter = {}): AsyncGenerator<IncidentView, void, undefined> {
    let cursor: string | null = null;
    do {
      const page: IncidentList = await this.listIncidents(cursor === null ? filter : { ...filter, cursor });
      yield* page.incidents;
      cursor = page.nextCursor ?? null;
    } while (cursor !== null);
  }

  /** One incident: steps, containment per node, recovery progress, the blast radius found at the declaration. */
  getIncident(id: string): Promise<IncidentView> {
    return this.transport.request<IncidentView>('GET', apiPath`/incidents/${id}`);
  }

  /**
   * Records the root cause and follow-ups, waives recovery, or closes.
   *
   * @example
   * await client.updateIncident(id, { rootCause: 'core dumps kept key material', state: 'closed' });
   */
  updateIncident(id: string, patch: PatchIncidentRequest): Promise<IncidentView> {
    return this.transport.request<IncidentView>('PATCH', apiPath`/incidents/${id}`, {
      body: pickDefined(patch, ['rootCause', 'followUps', 'state', 'waiveRecovery']),
    });
  }

  /** Who used the version, from where and for what, recounted from the audit trail now. */
  incidentBlastRadius(id: string): Promise<BlastRadiusReport> {
    return this.transport.request<BlastRadiusReport>('GET', apiPath`/incidents/${id}/blast-radius`);
  }

  /**
   * Re-encrypts stored ciphertexts (and wrapped data keys) under the key's
   * primary version; answers each item in order (or its error) and the
   * incident's recovery progress. Needs a principal allowed to recover data.
   *
   * @example
   * const { items, recovery } = await client.rewrapForIncident(id, stored.map((ciphertext) => ({ ciphertext })));
   */
  rewrapForIncident(id: string, items: readonly CiphertextItem[]): Promise<IncidentRewrapResponse> {
    return this.transport.request<IncidentRewrapResponse>('POST', apiPath`/incidents/${id}/rewrap`, {
      body: { items: items.map((item) => pickDefined(item, ['ciphertext', 'context'])) },
    });
  }
}
