import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  headers: IncomingMessage['headers'];
  body: string;
  /** Whether X-Keyward-Signature verified with the receiver's secret, computed independently of Keyward's code. */
  signatureValid: boolean;
  /** The `t=` of the signature. */
  timestamp: number;
}

/**
 * A real HTTP receiver on loopback. `respond` decides each answer's status;
 * `hang` makes it accept connections and never answer (a dead receiver).
 */
export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = [];
  respond: (delivery: ReceivedDelivery) => number = () => 204;
  hang = false;
  readonly #server: Server;
  readonly #secret: string;
  readonly #hanging = new Set<ServerResponse>();

  private constructor(secret: string) {
    this.#secret = secret;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const header = String(req.headers['x-keyward-signature'] ?? '');
        const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
        const timestamp = match ? Number(match[1]) : Number.NaN;
        let signatureValid = false;
        if (match) {
          const expected = createHmac('sha256', this.#secret).update(`${match[1]}.${body}`).digest();
          signatureValid = timingSafeEqual(expected, Buffer.from(match[2] as string, 'hex'));
        }
        const delivery = { headers: req.headers, body, signatureValid, timestamp };
        this.received.push(delivery);
        if (this.hang) {
          this.#hanging.add(res);
          return;
        }
        res.statusCode = this.respond(delivery);
        res.end('a body Keyward never stores');
      });
    });
  }

  static async start(secret: string): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret);
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/hook`;
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
