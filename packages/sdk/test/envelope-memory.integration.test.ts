import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, useServer } from './support/server.js';

const GIB = 1024 ** 3;
/** Far below the 1 GiB that streams through: the process holds a few frames, not the message. */
const MAX_RSS = 200 * 1024 * 1024;
const CHILD = fileURLToPath(new URL('./support/envelope-stream-child.mjs', import.meta.url));

describe('envelope streaming in constant memory', () => {
  const ctx = useServer();

  beforeAll(async () => {
    // The child imports the built SDK.
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await promisify(execFile)(process.execPath, [tsc, '-b', 'packages/sdk'], { cwd: REPO_ROOT });
    await ctx.admin.createKey({ name: 'env-gib', algorithm: 'aes-256-gcm', owner: 'team-sdk' });
  }, 120_000);

  it('1 GiB generated on the fly round-trips through encryptStream → decryptStream with peak RSS under 200 MiB', async () => {
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
    const report = JSON.parse(stdout) as { inHash: string; outHash: string; outBytes: number; sealedBytes: number; maxRssBytes: number };
    expect(report.outBytes).toBe(GIB);
    expect(report.outHash).toBe(report.inHash);
    // 16384 frames of 64 KiB, 21 bytes of overhead each (the last one 25), plus the header.
    expect(report.sealedBytes - GIB).toBeGreaterThan(16384 * 21);
    expect(report.sealedBytes - GIB).toBeLessThan(16384 * 21 + 1024);
    expect(report.maxRssBytes).toBeLessThan(MAX_RSS);
  }, 300_000);
});
