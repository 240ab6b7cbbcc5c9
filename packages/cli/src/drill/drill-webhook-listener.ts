import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One delivery the drill's receiver got. */
export interface DrillDelivery {
  /** `X-Keyward-Event`, or the body's type. */
  type: string;
  keyId: string | null;
  /** Whether `X-Keyward-Signature` verified (docs/events.md, "Verifying a delivery"). */
  signatureValid: boolean;
  /** `performance.now()` when it arrived. */
  receivedAt: number;
}

/** Largest body accepted; Keyward's event bodies are a few hundred bytes. */
const MAX_BODY = 64 * 1024;
/** Replay window of the signature timestamp (docs/events.md recommends 5 minutes). */
const TOLERANCE_SECONDS = 300;

/**
 * Verifies a delivery as docs/events.md tells receivers to: HMAC-SHA256 of
 * `t + "." + raw body` under the shared secret, hex, compared in constant
 * time with every `v1`; a `t` outside the replay window fails.
 */
export function verifySignature(secret: string, header: string, rawBody: string, nowSeconds: number): boolean {
  const parts = header.split(',').map((part) => {
    const at = part.indexOf('=');
    return at <= 0 ? ['', ''] : [part.slice(0, at).trim(), part.slice(at + 1).trim()];
  });
  const t = Number(parts.find(([name]) => name === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > TOLERANCE_SECONDS) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest('hex'));
  return parts
    .filter(([name]) => name === 'v1')
    .some(([, value]) => {
      const given = Buffer.from(value ?? '');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/**
 * The drill's webhook receiver: a plain HTTP server (loopback by default)
 * that checks each delivery's signature and remembers what came. It answers
 * 204 to every well-formed POST, so Keyward records the delivery as done.
 */
export class DrillWebhookListener {
  readonly deliveries: DrillDelivery[] = [];
  readonly #server: Server;
  readonly #secret: string;
  readonly #host: string;
  #waiters: Array<() => void> = [];

  private constructor(secret: string, host: string) {
    this.#secret = secret;
    this.#host = host;
    this.#server = createServer((req, res) => {
      if (req.method !== 'POST') {
        res.statusCode = 405;
        res.end();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY) chunks.push(chunk);
      });
      req.on('end', () => {
        if (size > MAX_BODY) {
          res.statusCode = 413;
          res.end();
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const header = req.headers['x-keyward-signature'];
        const signatureValid = typeof header === 'string' && verifySignature(this.#secret, header, raw, Math.floor(Date.now() / 1000));
        let body: { type?: unknown; keyId?: unknown } = {};
        try {
          body = JSON.parse(raw) as typeof body;
        } catch {
          // Recorded with what the headers say; an unparsable body fails the drill's check anyway.
        }
        const event = req.headers['x-keyward-event'];
        this.deliveries.push({
          type: typeof event === 'string' ? event : String(body.type ?? ''),
          keyId: typeof body.keyId === 'string' ? body.keyId : null,
          signatureValid,
          receivedAt: performance.now(),
        });
        res.statusCode = 204;
        res.end();
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const wake of waiters) wake();
      });
    });
  }

  /** Listens on `host:port` (port 0: any free port). */
  static async start(secret: string, host: string, port: number): Promise<DrillWebhookListener> {
    const listener = new DrillWebhookListener(secret, host);
    await new Promise<void>((resolve, reject) => {
      listener.#server.once('error', reject);
      listener.#server.listen(port, host, () => resolve());
    });
    return listener;
  }

  /** The URL Keyward must POST to (when the server reaches this host by the listening address). */
  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `http://${host}:${port}/keyward-drill`;
  }

  /** Waits until `done(deliveries)` holds, or `timeoutMs` passes; answers whether it held. */
  async waitFor(done: (deliveries: readonly DrillDelivery[]) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!done(this.deliveries)) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
