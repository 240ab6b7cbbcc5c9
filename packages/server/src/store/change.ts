/**
 * A committed change other nodes must learn about, so they drop what they
 * cached. On PostgreSQL these travel by NOTIFY, which is transactional: a
 * change is delivered if and only if its transaction commits.
 */
export type Change =
  | { kind: 'token'; id: string }
  | { kind: 'principal'; id: string }
  | { kind: 'key'; namespace: string; name: string; id: string };

/** What a change listener receives: a change, or `reset` when changes may have been missed. */
export type ChangeEvent = Change | { kind: 'reset' };

export type ChangeListener = (event: ChangeEvent) => void;

/** Parses a notification payload; anything malformed becomes a reset (drop every cache), never an exception. */
export function parseChange(payload: string | undefined): ChangeEvent {
  try {
    const value = JSON.parse(payload ?? '') as Record<string, unknown>;
    if ((value.kind === 'token' || value.kind === 'principal') && typeof value.id === 'string') return { kind: value.kind, id: value.id };
    if (value.kind === 'key' && typeof value.namespace === 'string' && typeof value.name === 'string' && typeof value.id === 'string') {
      return { kind: 'key', namespace: value.namespace, name: value.name, id: value.id };
    }
  } catch {}
  return { kind: 'reset' };
}
