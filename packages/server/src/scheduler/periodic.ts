/**
 * A background task run on an interval, or on demand by tests that move the
 * clock. Runs never overlap: a call during a run gets that run's result.
 */
export class Periodic<T> {
  readonly #task: () => Promise<T>;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<T> | null = null;

  constructor(task: () => Promise<T>, onError: (error: unknown) => void) {
    this.#task = task;
    this.#onError = onError;
  }

  runOnce(): Promise<T> {
    if (this.#running === null) {
      this.#running = this.#task().finally(() => {
        this.#running = null;
      });
    }
    return this.#running;
  }

  /** Runs every `intervalMs` until stopped; the timer does not keep the process alive. */
  start(intervalMs: number): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      this.runOnce().catch(this.#onError);
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
  }
}
