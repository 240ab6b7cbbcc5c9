import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, useServer } from './support/server.js';

const GIB = 1024 ** 3;
const MIB = 1024 * 1024;
/**
 * Far below the 1 GiB that streams through: the process holds a few frames,
 * not the message. Node's own baseline differs by version (about 140 MiB on
 * Node 20 and 180–200 MiB on Node 24 here, the same for 256 MiB as for
 * 2 GiB), so the absolute bound only rules out holding the message; the
 * growth bound below is the constant-memory check.
 */
const MAX_RSS = 384 * MIB;
/** Peak RSS may grow this much after the first eighth (measured: under 25 MiB); a buffered message would add 896 MiB. */
const MAX_GROWTH_AFTER_WARMUP = 96 * MIB;
const CHILD = fileURLToPath(new URL('./support/envelope-stream-child.mjs', import.meta.url));

describe('envelope streaming in constant memory', () => {
  const ctx = useServer();

  beforeAll(async () => {
    // The child imports the built SDK.
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await promisify(execFile)(process.execPath, [tsc, '-b', 'packages/sdk'], { cwd: REPO_ROOT });
    await ctx.admin.createKey({ name: 'env-gib', algorithm: 'aes-256-gcm', owner: 'team-sdk' });
  }, 120_000);

  it('1 GiB generated on the fly round-trips through encryptStream → decryptStream in constant memory (peak RSS flat after the first eighth, far below the message)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CHILD], {
      env: {
        ...process.env,
        KEYWARD_ADDR: ctx.server.url,
        KEYWARD_TOKEN: ctx.server.token,
        ENVELOPE_KEY: 'env-gib',
        ENVELOPE_TOTAL_BYTES: String(GIB),
      },
      maxBuffer: 1024 * 1024,
    });
    const report = JSON.parse(stdout) as {
      inHash: string;
      outHash: string;
      outBytes: number;
      sealedBytes: number;
      warmRssBytes: number;
      maxRssBytes: number;
    };
    expect(report.outBytes).toBe(GIB);
    expect(report.outHash).toBe(report.inHash);
    // 16384 frames of 64 KiB, 21 bytes of overhead each (the last one 25), plus the header.
    expect(report.sealedBytes - GIB).toBeGreaterThan(16384 * 21);
    expect(report.sealedBytes - GIB).toBeLessThan(16384 * 21 + 1024);
    expect(report.warmRssBytes).toBeGreaterThan(0);
    expect(report.maxRssBytes).toBeLessThan(MAX_RSS);
    expect(report.maxRssBytes - report.warmRssBytes).toBeLessThan(MAX_GROWTH_AFTER_WARMUP);
  }, 300_000);
});
