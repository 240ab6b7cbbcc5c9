import { type ErrorCode, HTTP_STATUS, isErrorCode, KeywardError } from '@keyward/wire';
import { KeywardApiError } from './keyward-api-error.js';
import type { KeywardClientOptions, KeywardTlsOptions } from './keyward-client-options.js';
import { KeywardConnectionError } from './keyward-connection-error.js';
import { parseRetryAfter, RETRY_STATUSES, type RetryPolicy, retryDelay, retryPolicy } from './retry-policy.js';

/** HTTP methods the contract uses. */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** One request: query parameters (undefined ones are left out) and a JSON body. */
export interface RequestOptions {
  query?: Readonly<Record<string, string | number | undefined>>;
  body?: unknown;
  /** Non-2xx statuses whose body is a normal answer (health answers 503 when sealed). */
  acceptStatus?: readonly number[];
  /** Answer the body as text instead of parsed JSON (reports in CSV or Markdown). */
  text?: boolean;
  /**
   * The call may be sent again after a 429 or 503 without changing more
   * than the first attempt would have (docs/transit.md, "Retries"). GETs
   * always are; a POST, PATCH or DELETE only when its call site says so.
   */
  idempotent?: boolean;
  /** The path is from the server's root, not under `/v1` (`/metrics`). */
  root?: boolean;
}

/** Connection failures that happen before any byte of the request left: retrying them repeats nothing. */
const NOT_SENT = new Set(['ECONNREFUSED']);

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Sends requests of the HTTP contract and turns answers into values or
 * errors. It is the one place that knows about headers, timeouts and the
 * error body; the operation groups only name paths and shapes.
 */
export class HttpTransport {
  readonly #base: URL;
  readonly #token: string | undefined;
  readonly #namespace: string | undefined;
  readonly #otp: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #retry: RetryPolicy;

  constructor(options: KeywardClientOptions) {
    this.#base = parseAddress(options.address);
    this.#token = options.token;
    this.#namespace = options.namespace;
    if (options.otp !== undefined && !/^[0-9]{6}$/.test(options.otp)) {
      throw new KeywardError('invalid_request', 'otp must be the 6 digits an authenticator app shows');
    }
    this.#otp = options.otp;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new KeywardError('invalid_request', 'timeoutMs must be a positive integer');
    }
    if (options.tls !== undefined) checkTls(options.tls, this.#base);
    this.#fetch = options.fetch ?? (options.tls === undefined ? globalThis.fetch : tlsFetch(options.tls));
    this.#retry = retryPolicy(options.retries);
  }

  /** The origin requests go to, safe to show (no credentials, no token). */
  get origin(): string {
    return this.#base.origin;
  }

  /**
   * Sends one request under `/v1` and answers the parsed JSON body
   * (`undefined` for 204). An idempotent request (every GET; others when
   * `options.idempotent`) is sent again after a 429 or 503 answer or a
   * refused connection, up to the retry policy's bound; any other request
   * is sent exactly once.
   */
  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const idempotent = method === 'GET' || options.idempotent === true;
    for (let retry = 0; ; retry++) {
      try {
        return await this.#attempt<T>(method, path, options);
      } catch (error) {
        const wait = idempotent && retry < this.#retry.maxRetries ? this.#retryWait(error, retry) : null;
        if (wait === null) throw error;
        await this.#retry.sleep(wait);
      }
    }
  }

  /** How long to wait before retrying after `error`, or null when it must not be retried. */
  #retryWait(error: unknown, retry: number): number | null {
    if (error instanceof KeywardApiError) {
      if (!RETRY_STATUSES.includes(error.status)) return null;
      // A server asking for a longer wait than the cap is not hammered early: the caller decides.
      if (error.retryAfterMs !== null && error.retryAfterMs > this.#retry.maxRetryAfterMs) return null;
      return retryDelay(this.#retry, retry, error.retryAfterMs);
    }
    if (error instanceof KeywardConnectionError && !error.timedOut && causeCodes(error.cause).some((code) => NOT_SENT.has(code))) {
      return retryDelay(this.#retry, retry, null);
    }
    // Timeouts, resets and TLS failures: the request may have been received and acted on.
    return null;
  }

  async #attempt<T>(method: HttpMethod, path: string, options: RequestOptions): Promise<T> {
    const url = new URL(`${this.#base.pathname.replace(/\/$/, '')}${options.root === true ? '' : '/v1'}${path}`, this.#base);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: options.text === true ? '*/*' : 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (this.#namespace !== undefined) headers['x-keyward-namespace'] = this.#namespace;
    if (this.#otp !== undefined) headers['x-keyward-otp'] = this.#otp;
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(this.#timeoutMs) };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }

    let status: number;
    let requestId: string | null;
    let retryAfter: string | null;
    let text: string;
    try {
      const response = await this.#fetch(url, init);
      status = response.status;
      requestId = response.headers.get('x-request-id');
      retryAfter = response.headers.get('retry-after');
      text = await response.text();
    } catch (error) {
      throw this.#connectionError(error);
    }

    const success = status >= 200 && status < 300;
    // An accepted non-2xx status (health's 503) is an answer only when it is not an error body.
    const accepted = !success && (options.acceptStatus ?? []).includes(status) && parseErrorBody(text) === undefined;
    if (!success && !accepted) throw apiError(status, requestId, text, parseRetryAfter(retryAfter, Date.now()));
    if (options.text === true && success) return text as T;
    if (status === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new KeywardApiError('internal', `server answered ${status} with a body that is not JSON`, status, requestId);
    }
  }

  /**
   * Opens a streaming GET under `/v1` (Server-Sent Events; the audit export) and answers the
   * response once its headers arrived; refusals become errors as for
   * `request`. The request timeout covers only the wait for the headers:
   * the stream then lasts until `signal` aborts or the server ends it.
   */
  async stream(
    path: string,
    options: {
      query?: RequestOptions['query'];
      headers?: Record<string, string>;
      signal?: AbortSignal;
      /** POST with a JSON body (an answer streamed as NDJSON); GET by default. */
      method?: 'GET' | 'POST';
      body?: unknown;
    } = {},
  ) {
    const url = new URL(`${this.#base.pathname.replace(/\/$/, '')}/v1${path}`, this.#base);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (this.#namespace !== undefined) headers['x-keyward-namespace'] = this.#namespace;
    if (this.#otp !== undefined) headers['x-keyward-otp'] = this.#otp;
    const connect = new AbortController();
    const timer = setTimeout(() => connect.abort(new DOMException('timed out', 'TimeoutError')), this.#timeoutMs);
    const signal = options.signal === undefined ? connect.signal : AbortSignal.any([connect.signal, options.signal]);
    let response: Response;
    try {
      const init: RequestInit = { method: options.method ?? 'GET', headers, signal };
      if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        init.body = JSON.stringify(options.body);
      }
      response = await this.#fetch(url, init);
    } catch (error) {
      throw this.#connectionError(connect.signal.aborted ? connect.signal.reason : error);
    } finally {
      clearTimeout(timer);
    }
    if (response.status < 200 || response.status >= 300 || response.body === null) {
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'), Date.now());
      throw apiError(response.status, response.headers.get('x-request-id'), await response.text(), retryAfter);
    }
    return response;
  }

  #connectionError(error: unknown): KeywardConnectionError {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    const reason = timedOut ? `no answer within ${this.#timeoutMs} ms` : describeCause(error);
    return new KeywardConnectionError(`cannot reach Keyward at ${this.origin}: ${reason}`, { timedOut, cause: error });
  }
}

function checkTls(tls: KeywardTlsOptions, base: URL): void {
  if (base.protocol !== 'https:') throw new KeywardError('invalid_request', 'tls needs an https address');
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new KeywardError('invalid_request', 'tls.cert and tls.key go together');
}

/**
 * A fetch over an undici agent that presents the client certificate and
 * trusts `ca` (undici is loaded only by clients that use TLS options).
 */
function tlsFetch(tls: KeywardTlsOptions): typeof globalThis.fetch {
  const connect: Record<string, string | Buffer> = {};
  for (const name of ['cert', 'key', 'ca'] as const) {
    const value = tls[name];
    if (value !== undefined) connect[name] = typeof value === 'string' ? value : Buffer.from(value);
  }
  const loaded = import('undici').then(({ Agent, fetch }) => ({ fetch, dispatcher: new Agent({ connect }) }));
  return (async (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) => {
    const { fetch, dispatcher } = await loaded;
    return fetch(input as Parameters<typeof fetch>[0], { ...(init as Parameters<typeof fetch>[1]), dispatcher });
  }) as typeof globalThis.fetch;
}

function parseAddress(address: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new KeywardError('invalid_request', 'address is not a URL (expected e.g. http://127.0.0.1:8200)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KeywardError('invalid_request', `address must use http or https, not ${url.protocol}`);
  }
  // Credentials in the URL would end up in logs and error messages; tokens go in a header.
  if (url.username !== '' || url.password !== '') {
    throw new KeywardError('invalid_request', 'address must not contain credentials; pass the token separately');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new KeywardError('invalid_request', 'address must not contain a query or fragment');
  }
  return url;
}

/** undici reports "fetch failed" and hides the reason (ECONNREFUSED, ENOTFOUND…) in `cause`. */
function describeCause(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? code : current.message);
    current = current.cause;
  }
  return parts.length === 0 ? 'unknown network error' : parts.join(': ');
}

function apiError(status: number, headerRequestId: string | null, text: string, retryAfterMs: number | null): KeywardApiError {
  const body = parseErrorBody(text);
  const code = body?.code ?? codeForStatus(status);
  const message = body?.message ?? `server answered HTTP ${status}`;
  return new KeywardApiError(code, message, status, body?.requestId ?? headerRequestId, retryAfterMs);
}

/** The `code`s (ECONNREFUSED…) along an error's `cause` chain, where undici puts them. */
function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = current.cause;
  }
  return codes;
}

function parseErrorBody(text: string): { code: ErrorCode; message: string; requestId: string | null } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const error = (parsed as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message, requestId } = error as { code?: unknown; message?: unknown; requestId?: unknown };
  if (!isErrorCode(code)) return undefined;
  return {
    code,
    message: typeof message === 'string' ? message : code,
    requestId: typeof requestId === 'string' ? requestId : null,
  };
}

/** For answers without a contract error body (a proxy's page, an old server). */
function codeForStatus(status: number): ErrorCode {
  for (const [code, codeStatus] of Object.entries(HTTP_STATUS)) {
    if (codeStatus === status && isErrorCode(code)) return code;
  }
  return status >= 500 ? 'internal' : 'invalid_request';
}
