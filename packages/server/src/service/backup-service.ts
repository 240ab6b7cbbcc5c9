import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { encryptArchive, writeArchive } from '../backup/archive-writer.js';
import { parseRecipients } from '../backup/recipients.js';
import type { Seal } from '../seal/seal.js';
import type { Store } from '../store/store.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';

/** An archive on its way out: age-encrypted bytes, produced as the consumer reads them. */
export interface BackupStream {
  stream: Readable;
  createdAt: string;
}

/**
 * Encrypted backups (`POST /v1/sys/backup`, docs/operations.md "Backups").
 * Admin only; the request is audited (`backup.create`) with the SHA-256
 * fingerprints of the recipients, never the archive.
 */
export class BackupService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #seal: Seal;
  readonly #node: string;
  readonly #version: string;
  readonly #onError: (error: unknown) => void;

  constructor(deps: { gate: Gate; store: Store; seal: Seal; node: string; version: string; onError?: (error: unknown) => void }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#seal = deps.seal;
    this.#node = deps.node;
    this.#version = deps.version;
    this.#onError = deps.onError ?? (() => {});
  }

  /**
   * Starts a backup to `recipients` (age X25519 or hybrid post-quantum). The
   * archive is written from one snapshot of the store while the caller reads
   * the stream; a failure half-way destroys the stream, so the reader gets a
   * truncated age file that no restore accepts.
   */
  create(ctx: CallContext, recipients: readonly string[]): Promise<BackupStream> {
    return this.#gate.run(ctx, 'backup.create', async (scope) => {
      scope.authorize();
      const parsed = parseRecipients(recipients);
      scope.details.recipients = parsed.fingerprints.join(',');
      scope.details.recipientKind = parsed.kind;
      const plaintext = new PassThrough();
      const source = { store: this.#store, seal: this.#seal, node: this.#node, keyward: this.#version, now: scope.now };
      const sink = async (chunk: Uint8Array) => {
        if (plaintext.destroyed) throw new Error('the backup reader went away');
        if (!plaintext.write(chunk)) await Promise.race([once(plaintext, 'drain'), once(plaintext, 'close')]);
      };
      void writeArchive(source, sink).then(
        () => plaintext.end(),
        (error: unknown) => {
          this.#onError(error);
          plaintext.destroy(error instanceof Error ? error : new Error(String(error)));
        },
      );
      const encrypted = await encryptArchive(recipients, Readable.toWeb(plaintext) as ReadableStream<Uint8Array>);
      return {
        stream: Readable.fromWeb(encrypted as import('node:stream/web').ReadableStream<Uint8Array>),
        createdAt: scope.now.toISOString(),
      };
    });
  }
}
