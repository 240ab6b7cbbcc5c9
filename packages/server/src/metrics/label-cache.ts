import type { Counter } from 'prom-client';

type Level<C> = Map<string, C>;

/**
 * The children of a labelled metric, one per tuple of up to four label
 * values, created on first use and kept. prom-client's `labels()` validates
 * and copies its arguments on every call; a hit here is four Map lookups and
 * allocates nothing, which is what the encrypt path (~15k requests/s) can
 * afford. Label values must come from small closed sets (route patterns,
 * error codes, algorithms), never from request data: every tuple is kept.
 *
 * @example
 * const requests = new LabelCache((route, method) => counter.labels(route, method));
 * requests.get('/v1/keys/:name/encrypt', 'POST', '', '').inc();
 */
export class LabelCache<C> {
  readonly #make: (a: string, b: string, c: string, d: string) => C;
  readonly #root: Level<Level<Level<Level<C>>>> = new Map();

  constructor(make: (a: string, b: string, c: string, d: string) => C) {
    this.#make = make;
  }

  get(a: string, b: string, c: string, d: string): C {
    const l3 = level(level(level(this.#root, a), b), c);
    let child = l3.get(d);
    if (child === undefined) {
      child = this.#make(a, b, c, d);
      l3.set(d, child);
    }
    return child;
  }
}

function level<T>(parent: Map<string, Map<string, T>>, key: string): Map<string, T> {
  let child = parent.get(key);
  if (child === undefined) {
    child = new Map();
    parent.set(key, child);
  }
  return child;
}

/** A series exported at 0 from the start, so that increase() sees its first event. */
export function present(child: Counter.Internal): Counter.Internal {
  child.inc(0);
  return child;
}
