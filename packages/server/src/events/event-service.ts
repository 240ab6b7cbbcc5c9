import { KeywardError } from '@keyward/wire';
import type { Authorizer } from '../policy/authorizer.js';
import type { Authenticator } from '../service/authenticator.js';
import type { CallContext } from '../service/context.js';
import type { Gate } from '../service/gate.js';
import { EVENT_TYPES, type EventType, type StoredKeyEvent } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { EventHub } from './event-hub.js';

const PAGE = 500;

export interface SubscribeOptions {
  /** Deliver events with an id above this; null starts at the newest event (only later ones are sent). */
  after: number | null;
  /** Only these types; null for every type. */
  types: readonly EventType[] | null;
}

/** Parses `types=a,b` (every name must be an event type). */
export function parseEventTypes(field: string, text: string): EventType[] {
  const names = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  const unknown = names.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0) throw new KeywardError('invalid_request', `${field}: unknown event type '${unknown[0]}'`);
  if (names.length === 0) throw new KeywardError('invalid_request', `${field}: name at least one event type`);
  return [...new Set(names)] as EventType[];
}

/**
 * A reader of the event log from a cursor on: `next()` answers the next
 * batch (oldest first), waiting until there is one, or null once closed.
 */
export class EventStream {
  readonly #store: Store;
  readonly #hub: EventHub;
  readonly #types: ReadonlySet<EventType> | null;
  readonly #stillAllowed: () => Promise<boolean>;
  readonly #unlisten: () => void;
  #cursor: number;
  #closed = false;
  #wake: (() => void) | null = null;

  constructor(deps: {
    store: Store;
    hub: EventHub;
    cursor: number;
    types: readonly EventType[] | null;
    stillAllowed: () => Promise<boolean>;
  }) {
    this.#store = deps.store;
    this.#hub = deps.hub;
    this.#cursor = deps.cursor;
    this.#types = deps.types === null ? null : new Set(deps.types);
    this.#stillAllowed = deps.stillAllowed;
    this.#unlisten = this.#hub.listen({ wake: () => this.#notify(), close: () => this.close() });
  }

  /** The id of the last event read (sent or skipped by the type filter). */
  get cursor(): number {
    return this.#cursor;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async next(): Promise<StoredKeyEvent[] | null> {
    for (;;) {
      if (this.closed) return null;
      const generation = this.#hub.generation;
      const rows = await this.#store.listEvents(this.#cursor, PAGE);
      if (this.closed) return null;
      if (rows.length > 0) {
        this.#cursor = (rows.at(-1) as StoredKeyEvent).id;
        const types = this.#types;
        const wanted = types === null ? rows : rows.filter((e) => types.has(e.type));
        if (wanted.length > 0) return wanted;
        continue;
      }
      if (this.#hub.generation !== generation) continue;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }

  /**
   * Whether the caller may still read: its token is still valid (not revoked
   * or expired) and its principal still holds `events.read`, and Keyward is
   * unsealed. A stream that fails this is closed by its front end.
   */
  async revalidate(): Promise<boolean> {
    if (this.closed) return false;
    try {
      return await this.#stillAllowed();
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unlisten();
    this.#notify();
  }

  #notify(): void {
    this.#wake?.();
  }
}

/** `GET /v1/events`: the event log as a live stream. */
export class EventService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #hub: EventHub;
  readonly #authenticator: Authenticator;
  readonly #authorizer: Authorizer;
  readonly #isSealed: () => boolean;

  constructor(deps: {
    gate: Gate;
    store: Store;
    hub: EventHub;
    authenticator: Authenticator;
    authorizer: Authorizer;
    isSealed: () => boolean;
  }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#hub = deps.hub;
    this.#authenticator = deps.authenticator;
    this.#authorizer = deps.authorizer;
    this.#isSealed = deps.isSealed;
  }

  /**
   * Opens a stream (one audit record, `events.read`, when it opens). The
   * authorization happens here, before the front end starts streaming.
   */
  subscribe(ctx: CallContext, options: SubscribeOptions): Promise<EventStream> {
    return this.#gate.run(ctx, 'events.read', async (scope) => {
      scope.authorize();
      const cursor = options.after ?? (await this.#store.lastEventId());
      scope.details.from = cursor;
      scope.details.types = options.types === null ? null : options.types.join(',');
      const credential = ctx.credential;
      // The certificate too: a caller authenticated by mutual TLS has no token, and its certificate may expire mid-stream.
      const certificate = ctx.clientCertificate ?? null;
      return new EventStream({
        store: this.#store,
        hub: this.#hub,
        cursor,
        types: options.types,
        stillAllowed: async () => {
          if (this.#isSealed()) return false;
          const principal = await this.#authenticator.authenticate(credential, certificate);
          return this.#authorizer.authorize({ principal, action: 'events.read' }).allowed;
        },
      });
    });
  }
}
