import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward, spawnKeyward } from './support/keyward-process.js';

describe('keyward encrypt|decrypt --envelope against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  let dir: string;
  const run = (args: string[], stdin?: Uint8Array) => keyward(args, { env, ...(stdin === undefined ? {} : { stdin }) });
  const file = (name: string) => join(dir, name);
  const leftovers = async () => (await readdir(dir)).filter((name) => name.endsWith('.partial'));

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
    dir = await mkdtemp(join(tmpdir(), 'keyward-envelope-cli-'));
    expect((await run(['key', 'create', 'cli-env', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('files of 0 bytes, 1 byte and several frames round-trip; the key comes from the header; output is 0600; no progress off a terminal', async () => {
    for (const size of [0, 1, 3 * 65_536 + 5]) {
      const plaintext = randomBytes(size);
      server.remember(plaintext.toString('base64'));
      await writeFile(file('plain.bin'), plaintext);
      const sealed = await run([
        'encrypt',
        '--key',
        'cli-env',
        '--context',
        'tenant=acme',
        '--envelope',
        file('plain.bin'),
        file('sealed.kwe'),
      ]);
      expect(sealed, `${size} bytes`).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect((await readFile(file('sealed.kwe'))).subarray(0, 4).toString('latin1')).toBe('KWEN');
      expect((await stat(file('sealed.kwe'))).mode & 0o777).toBe(0o600);
      const opened = await run(['decrypt', '--envelope', '--context', 'tenant=acme', file('sealed.kwe'), file('opened.bin')]);
      expect(opened, `${size} bytes`).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect((await readFile(file('opened.bin'))).equals(plaintext), `${size} bytes`).toBe(true);
    }
    expect(await leftovers()).toEqual([]);
  });

  it('"-" streams stdin to stdout', async () => {
    const plaintext = randomBytes(200_000);
    const sealed = await run(['encrypt', '--key', 'cli-env', '--frame-size', '4096', '--envelope', '-', '-'], plaintext);
    expect(sealed.code).toBe(0);
    expect(sealed.stdoutBytes.length).toBeGreaterThan(plaintext.length);
    const opened = await run(['decrypt', '--key', 'cli-env', '--envelope', '-', '-'], sealed.stdoutBytes);
    expect(opened.code).toBe(0);
    expect(opened.stdoutBytes.equals(plaintext)).toBe(true);
  });

  it('still decrypts after the key rotated', async () => {
    await writeFile(file('before.bin'), 'written before the rotation');
    expect((await run(['encrypt', '--key', 'cli-env', '--envelope', file('before.bin'), file('before.kwe')])).code).toBe(0);
    expect((await run(['key', 'rotate', 'cli-env'])).code).toBe(0);
    expect((await run(['decrypt', '--envelope', file('before.kwe'), '-'])).stdout).toBe('written before the rotation');
  });

  it('a tampered or truncated envelope exits 3 with its reason, and leaves OUT as it was and no partial file', async () => {
    const plaintext = randomBytes(100_000);
    await writeFile(file('p.bin'), plaintext);
    expect((await run(['encrypt', '--key', 'cli-env', '--frame-size', '1024', '--envelope', file('p.bin'), file('p.kwe')])).code).toBe(0);
    const sealed = await readFile(file('p.kwe'));
    const flipped = Buffer.from(sealed);
    const at = sealed.length - 3000;
    flipped[at] = (flipped[at] ?? 0) ^ 1;
    const cases: Array<[string, Buffer, string]> = [
      ['frame byte flipped', flipped, 'frame_tampered'],
      ['last frame dropped', sealed.subarray(0, sealed.length - 40), 'truncated'],
      ['bytes appended', Buffer.concat([sealed, Buffer.from('x')]), 'trailing_data'],
    ];
    for (const [name, bytes, reason] of cases) {
      await writeFile(file('bad.kwe'), bytes);
      await writeFile(file('out.bin'), 'previous content');
      const result = await run(['decrypt', '--envelope', file('bad.kwe'), file('out.bin')]);
      expect(result.code, name).toBe(3);
      expect(result.stderr, name).toBe(`error: invalid_ciphertext (${reason}): ${result.stderr.split(': ').slice(2).join(': ')}`);
      expect(result.stderr, name).toContain(`(${reason})`);
      expect(await readFile(file('out.bin'), 'utf8'), name).toBe('previous content');
      expect(await leftovers(), name).toEqual([]);
    }
    // A failed decryption into a new file creates nothing.
    await writeFile(file('bad.kwe'), flipped);
    expect((await run(['decrypt', '--envelope', file('bad.kwe'), file('never.bin')])).code).toBe(3);
    await expect(stat(file('never.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
    // The plaintext of the frames before the damage never reached the output either.
    expect(await leftovers()).toEqual([]);
  });

  it('the expected context and key are checked: another context exits 3 (context_mismatch), another --key exits 2', async () => {
    await writeFile(file('c.bin'), 'context bound');
    expect((await run(['encrypt', '--key', 'cli-env', '--context', 'tenant=acme', '--envelope', file('c.bin'), file('c.kwe')])).code).toBe(
      0,
    );
    const wrongContext = await run(['decrypt', '--envelope', '--context', 'tenant=other', file('c.kwe'), file('c.out')]);
    expect(wrongContext).toMatchObject({ code: 3 });
    expect(wrongContext.stderr).toContain('(context_mismatch)');
    const wrongKey = await run(['decrypt', '--envelope', '--key', 'other-key', file('c.kwe'), file('c.out')]);
    expect(wrongKey).toMatchObject({ code: 2, stderr: "error: --key: the envelope is sealed under key 'cli-env', not 'other-key'\n" });
    await expect(stat(file('c.out'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('bad command lines exit 2 naming the problem, and ask nothing of the server', async () => {
    await writeFile(file('c.bin'), 'input');
    const cases: Array<[string[], string]> = [
      [['encrypt', '--key', 'cli-env', '--envelope', file('c.bin')], 'error: --envelope needs IN and OUT ("-" for stdin or stdout)\n'],
      [
        ['encrypt', '--key', 'cli-env', '--envelope', '--in', file('c.bin'), file('c.bin'), file('x')],
        'error: --envelope takes IN and OUT as arguments, not --in/--out\n',
      ],
      [['encrypt', '--key', 'cli-env', '--envelope', file('c.bin'), file('c.bin')], 'error: IN and OUT must be different files\n'],
      [
        ['encrypt', '--key', 'cli-env', file('c.bin'), file('x')],
        'error: IN and OUT arguments need --envelope; otherwise use --in/--out\n',
      ],
      [['encrypt', '--envelope', file('c.bin'), file('x')], "error: required option '--key <name>' not specified\n"],
      [['decrypt', '--envelope', file('missing.kwe'), file('x')], `error: cannot read ${file('missing.kwe')}: ENOENT\n`],
      [['encrypt', '--key', 'cli-env', '--envelope', dir, file('x')], `error: cannot read ${dir}: EISDIR\n`],
      [
        ['encrypt', '--key', 'cli-env', '--envelope', file('c.bin'), join(dir, 'no-such-dir', 'x')],
        `error: cannot write ${join(dir, 'no-such-dir', 'x')}: ENOENT\n`,
      ],
    ];
    for (const [args, stderr] of cases) expect(await run(args), args.join(' ')).toMatchObject({ code: 2, stderr });
    const frame = await run(['encrypt', '--key', 'cli-env', '--frame-size', '0', '--envelope', file('c.bin'), file('x')]);
    expect(frame.code).toBe(2);
    expect(frame.stderr).toContain('expected an integer from 1 to 16777216');
    await expect(stat(file('x'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await leftovers()).toEqual([]);
  });

  it('streams 512 MiB through encrypt | decrypt pipes in bounded memory (peak RSS of each process under 200 MiB)', async () => {
    const total = 512 * 1024 * 1024;
    const encrypt = spawnKeyward(['encrypt', '--key', 'cli-env', '--envelope', '-', '-'], env);
    const decrypt = spawnKeyward(['decrypt', '--envelope', '-', '-'], env);
    const peaks = { encrypt: 0, decrypt: 0 };
    // VmHWM is the kernel's high-water mark of the process's RSS; reading it now and then gives the peak so far.
    const sample = async () => {
      for (const [name, child] of [
        ['encrypt', encrypt],
        ['decrypt', decrypt],
      ] as const) {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
        const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
        peaks[name] = Math.max(peaks[name], kib * 1024);
      }
    };
    const sampler = setInterval(() => void sample(), 200);
    encrypt.stdout?.pipe(decrypt.stdin as NodeJS.WritableStream);
    const outHash = createHash('sha256');
    let outBytes = 0;
    decrypt.stdout?.on('data', (chunk: Buffer) => {
      outHash.update(chunk);
      outBytes += chunk.length;
    });
    // Not collect(): decrypt's stdin is the encrypt pipe, and must stay open until encrypt ends it.
    let stderr = '';
    decrypt.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const decrypted = new Promise<number | null>((resolve) => decrypt.once('close', resolve));
    const encrypted = new Promise<number | null>((resolve) => encrypt.once('close', resolve));
    const inHash = createHash('sha256');
    const seed = randomBytes(1024 * 1024);
    const stdin = encrypt.stdin;
    if (stdin === null) throw new Error('no stdin');
    for (let offset = 0, index = 0; offset < total; offset += seed.length, index++) {
      const chunk = Buffer.from(seed);
      chunk.writeUInt32BE(index, 0);
      inHash.update(chunk);
      if (!stdin.write(chunk)) await new Promise((resolve) => stdin.once('drain', resolve));
      if (index % 64 === 0) await sample();
    }
    stdin.end();
    expect(await encrypted).toBe(0);
    const code = await decrypted;
    clearInterval(sampler);
    expect(code, stderr).toBe(0);
    expect(outBytes).toBe(total);
    expect(outHash.digest('hex')).toBe(inHash.digest('hex'));
    expect(peaks.encrypt).toBeGreaterThan(0);
    expect(peaks.encrypt).toBeLessThan(200 * 1024 * 1024);
    expect(peaks.decrypt).toBeLessThan(200 * 1024 * 1024);
  }, 300_000);
});
