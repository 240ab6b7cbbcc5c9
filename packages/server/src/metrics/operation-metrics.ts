import { Counter, type Registry } from 'prom-client';
import type { Action } from '../policy/actions.js';
import type { Scope } from '../service/gate.js';
import type { KeyEvent, RotationTrigger } from '../store/records.js';
import { LabelCache, present } from './label-cache.js';

/** The class and algorithm labels of an operation refused before its key was loaded (sealed, no credential, no such key). */
export const UNKNOWN = 'unknown';

const TRIGGERS: readonly RotationTrigger[] = ['manual', 'time', 'use', 'event', 'import'];
const KNOWN_TRIGGERS: ReadonlySet<string> = new Set<string>(TRIGGERS);
const CRYPTO_PREFIX = 'crypto.';

/**
 * Cryptographic operations and rotations. Fed by the gate's observer (every
 * call ends there exactly once) and by the services that commit life-cycle
 * changes; labelled by operation, key class, algorithm, outcome and trigger,
 * never by key name (unbounded, and a leak of what exists).
 */
export class OperationMetrics {
  readonly #operations: LabelCache<Counter.Internal>;
  readonly #rotations = new Map<string, Counter.Internal>();

  constructor(registry: Registry) {
    const operations = new Counter({
      name: 'keyward_crypto_operations_total',
      help: 'Cryptographic operations that reached the service, by operation, key class, algorithm and outcome (success, invalid for a signature or MAC that did not verify, else the error code).',
      labelNames: ['operation', 'class', 'algorithm', 'outcome'],
      registers: [registry],
    });
    this.#operations = new LabelCache((action, keyClass, algorithm, outcome) =>
      operations.labels(action.slice(CRYPTO_PREFIX.length), keyClass, algorithm, outcome),
    );
    const rotations = new Counter({
      name: 'keyward_key_rotations_total',
      help: 'Rotations committed by this node (a new version became primary), by trigger: manual, time, use, event (compromise), import (BYOK).',
      labelNames: ['trigger'],
      registers: [registry],
    });
    for (const trigger of [...TRIGGERS, 'other']) this.#rotations.set(trigger, present(rotations.labels(trigger)));
  }

  /** The gate's observer: told once of every call's end, with the error code when it failed. */
  finished(action: Action, scope: Scope | null, errorCode: string | null): void {
    if (!action.startsWith(CRYPTO_PREFIX)) return;
    const key = scope?.keyRecord ?? null;
    const outcome = errorCode ?? (scope?.details.valid === false ? 'invalid' : 'success');
    this.#operations.get(action, key?.class ?? UNKNOWN, key?.algorithm ?? UNKNOWN, outcome).inc();
  }

  /** Told of the events of every committed life-cycle change; counts `key.rotated` by its trigger. */
  committed(events: readonly KeyEvent[]): void {
    for (const event of events) {
      if (event.type !== 'key.rotated') continue;
      const trigger = String(event.data.trigger);
      this.#rotations.get(KNOWN_TRIGGERS.has(trigger) ? trigger : 'other')?.inc();
    }
  }
}
