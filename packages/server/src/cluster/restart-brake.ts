/**
 * Counts unexpected worker exits in a sliding window, so that a worker that
 * dies on every start (a crash loop) stops the server with a reason instead
 * of being restarted forever.
 *
 * @example
 * const brake = new RestartBrake(5, 60_000);
 * if (!brake.allow(Date.now())) giveUp(); else fork();
 */
export class RestartBrake {
  readonly #limit: number;
  readonly #windowMs: number;
  #exits: number[] = [];

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Records an exit at `now`; false when that makes more than `limit` within the window. */
  allow(now: number): boolean {
    this.#exits = this.#exits.filter((t) => now - t < this.#windowMs);
    this.#exits.push(now);
    return this.#exits.length <= this.#limit;
  }

  /** Exits within the window as of the last {@link allow}. */
  get recent(): number {
    return this.#exits.length;
  }
}
