import type { CliIo } from './cli-io.js';

/** How often the progress line is redrawn. */
const REDRAW_MS = 250;
const BAR_WIDTH = 24;

/** Reports bytes processed so far; `done` once at the end. */
export type ProgressReport = (bytes: number, done: boolean) => void;

/**
 * A progress line on stderr, drawn only when stderr is a terminal (so a
 * script's stderr stays clean): a bar and percentage when the total is
 * known, else the bytes so far; and the rate. `now` is injectable.
 *
 * @example
 * const report = progressMeter(io, 'encrypt', size); report(n, false); report(size, true);
 */
export function progressMeter(io: CliIo, label: string, total: number | undefined, now: () => number = Date.now): ProgressReport {
  if (io.stderrIsTTY !== true) return () => {};
  const started = now();
  let drawn = Number.NEGATIVE_INFINITY;
  return (bytes, done) => {
    const at = now();
    if (!done && at - drawn < REDRAW_MS) return;
    drawn = at;
    io.stderr.write(`\r${progressLine(label, bytes, total, (at - started) / 1000)}${done ? '\n' : ''}`);
  };
}

/**
 * One progress line.
 *
 * @example
 * progressLine('decrypt', 512 * 2 ** 20, 2 ** 30, 2); // 'decrypt [############------------]  50% 512.0 of 1024.0 MiB, 256.0 MiB/s'
 */
export function progressLine(label: string, bytes: number, total: number | undefined, seconds: number): string {
  const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);
  const rate = `${mib(bytes / Math.max(seconds, 0.001))} MiB/s`;
  if (total === undefined || total === 0) return `${label} ${mib(bytes)} MiB, ${rate}`;
  const fraction = Math.min(bytes / total, 1);
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
  return `${label} [${bar}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${mib(bytes)} of ${mib(total)} MiB, ${rate}`;
}
