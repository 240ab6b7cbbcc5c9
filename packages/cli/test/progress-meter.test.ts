import { describe, expect, it } from 'vitest';
import type { CliIo } from '../src/cli-io.js';
import { progressLine, progressMeter } from '../src/progress-meter.js';

function io(stderrIsTTY: boolean): { io: CliIo; stderr: () => string } {
  let written = '';
  const sink = {
    write: (chunk: string | Uint8Array) => {
      written += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    },
  };
  return {
    io: {
      env: {},
      stdin: (async function* () {})(),
      stdinIsTTY: false,
      stdout: sink,
      stderr: sink,
      stderrIsTTY,
      readSecret: async () => '',
    },
    stderr: () => written,
  };
}

const MIB = 1024 * 1024;

describe('progress meter', () => {
  it('draws a bar with percentage and rate when the total is known', () => {
    expect(progressLine('decrypt', 512 * MIB, 1024 * MIB, 2)).toBe(
      'decrypt [############------------]  50% 512.0 of 1024.0 MiB, 256.0 MiB/s',
    );
    expect(progressLine('encrypt', 0, 10 * MIB, 0)).toBe('encrypt [------------------------]   0% 0.0 of 10.0 MiB, 0.0 MiB/s');
  });

  it('shows bytes and rate only when the total is unknown (stdin)', () => {
    expect(progressLine('encrypt', 3 * MIB, undefined, 1)).toBe('encrypt 3.0 MiB, 3.0 MiB/s');
  });

  it('writes nothing when stderr is not a terminal', () => {
    const { io: cli, stderr } = io(false);
    const report = progressMeter(cli, 'encrypt', 100);
    report(50, false);
    report(100, true);
    expect(stderr()).toBe('');
  });

  it('on a terminal, redraws at most every 250 ms of the injected clock and always at the end', () => {
    const { io: cli, stderr } = io(true);
    let now = 0;
    const report = progressMeter(cli, 'encrypt', 4 * MIB, () => now);
    report(MIB, false);
    now = 100;
    report(2 * MIB, false);
    now = 250;
    report(3 * MIB, false);
    now = 300;
    report(4 * MIB, true);
    const lines = stderr()
      .split('\r')
      .filter((line) => line !== '');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^encrypt \[######-+\] {2}25% 1\.0 of 4\.0 MiB/);
    expect(lines[1]).toMatch(/^encrypt \[#{18}-{6}\] {2}75% 3\.0 of 4\.0 MiB, 12\.0 MiB\/s$/);
    expect(lines[2]).toBe('encrypt [########################] 100% 4.0 of 4.0 MiB, 13.3 MiB/s\n');
  });
});
