/**
 * Copies the named properties whose value is not `undefined`, so a request
 * body carries only what the caller set.
 *
 * @example
 * pickDefined({ context: undefined, bytes: 32 }, ['context', 'bytes']); // { bytes: 32 }
 */
export function pickDefined<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) {
    if (source[key] !== undefined) picked[key] = source[key];
  }
  return picked as Pick<T, K>;
}
