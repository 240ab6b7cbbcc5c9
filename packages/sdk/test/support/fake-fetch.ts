/**
 * A scripted `fetch` for unit tests of the SDK and CLI: answers from a list
 * of canned responses and records every request. Integration tests use the
 * real server instead (support/server.ts).
 */
export interface RecordedRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

export interface CannedResponse {
  status?: number;
  body?: unknown;
  requestId?: string;
}

export interface FakeFetch {
  fetch: typeof globalThis.fetch;
  requests: RecordedRequest[];
}

/**
 * Answers each request with `respond(request)` (or the next canned answer
 * when given a list).
 */
export function fakeFetch(respond: CannedResponse[] | ((request: RecordedRequest) => CannedResponse)): FakeFetch {
  const requests: RecordedRequest[] = [];
  const queue = Array.isArray(respond) ? [...respond] : undefined;
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const text = typeof init?.body === 'string' ? init.body : undefined;
    const request: RecordedRequest = {
      method: init?.method ?? 'GET',
      url: new URL(input instanceof Request ? input.url : input),
      headers,
      body: text === undefined ? undefined : JSON.parse(text),
    };
    requests.push(request);
    const answer = queue === undefined ? (respond as (request: RecordedRequest) => CannedResponse)(request) : queue.shift();
    if (answer === undefined) throw new Error(`no canned answer for ${request.method} ${request.url.pathname}`);
    const status = answer.status ?? 200;
    const body = answer.body === undefined || status === 204 ? null : JSON.stringify(answer.body);
    return new Response(body, {
      status,
      headers: { 'content-type': 'application/json', 'x-request-id': answer.requestId ?? 'req-test' },
    });
  };
  return { fetch: fetch as typeof globalThis.fetch, requests };
}

/** An error answer of the contract. */
export function errorAnswer(status: number, code: string, message: string, requestId = 'req-err'): CannedResponse {
  return { status, requestId, body: { error: { code, message, requestId } } };
}
