import { HttpTransport } from './http-transport.js';
import type { KeywardClientOptions } from './keyward-client-options.js';

/**
 * Root of the operation groups: holds the transport. Each group extends the
 * previous one so that {@link KeywardClient} offers every method flat while
 * each group stays in its own small file.
 */
export class ClientBase {
  protected readonly transport: HttpTransport;
  /** The namespace the client's calls act in (`X-Keyward-Namespace`; `default` without it). */
  readonly namespace: string;

  constructor(options: KeywardClientOptions) {
    this.transport = new HttpTransport(options);
    this.namespace = options.namespace ?? 'default';
  }
}
