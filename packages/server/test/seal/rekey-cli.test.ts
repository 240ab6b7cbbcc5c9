import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openSeal } from '../../src/bootstrap.js';
import { kekAad } from '../../src/keys/material-aad.js';
import type { ShamirSeal } from '../../src/seal/shamir/shamir-seal.js';
import { Keyring } from '../../src/service/keyring.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { useTempDirs } from './temp-dir.js';

/** `keyward operator rekey|migrate-seal` as an operator runs it (needs `npm run build`). */
const KEYWARD = fileURLToPath(new URL('../../../../bin/keyward', import.meta.url));
const tempDir = useTempDirs('rekey-cli');
const silent = { info() {}, warn() {}, error() {} } as never;

function keyward(args: string[], input = '') {
  const { KEYWARD_DATABASE_URL: _, ...env } = process.env;
  return spawnSync(process.execPath, [KEYWARD, ...args], { input, encoding: 'utf8', env, timeout: 60_000 });
}

describe('keyward operator rekey and migrate-seal', () => {
  it('rekeys the file seal, migrates to Shamir printing the shares once, and rekeys Shamir with shares from stdin', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ path: join(dir, 'keyward.db') });
    await store.migrate();
    const seal = await openSeal('file', store, dir, {}, silent);
    const kek = new Uint8Array((await store.transaction((tx) => new Keyring(seal).currentKek(tx, 'payments', new Date()))).key);
    seal.seal();
    await store.close();

    const fileRekey = keyward(['operator', 'rekey', '--data-dir', dir]);
    expect(fileRekey.stderr).toBe('');
    expect(fileRekey.status).toBe(0);
    expect(fileRekey.stdout).toMatch(/^Rekeyed: 1 root-wrapped values rewrapped \(file → file\)/);

    const toShamir = keyward(['operator', 'migrate-seal', '--to', 'shamir', '--shares', '3', '--threshold', '2', '--data-dir', dir]);
    expect(toShamir.status).toBe(0);
    const shares = [...toShamir.stdout.matchAll(/New unseal share \d: (kws1\.\S+)/g)].map((m) => m[1] as string);
    expect(shares).toHaveLength(3);
    expect(existsSync(join(dir, 'root.key'))).toBe(false);

    const usage = keyward(['operator', 'migrate-seal', '--data-dir', dir]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--to: required');

    const wrongShares = keyward(['operator', 'rekey', '--seal', 'shamir', '--data-dir', dir], `${shares[0]}\n`);
    expect(wrongShares.status).toBe(1);
    expect(wrongShares.stderr).toContain('2 are needed');
    expect(wrongShares.stderr).not.toContain(shares[0] as string);

    const shamirRekey = keyward(['operator', 'rekey', '--seal', 'shamir', '--data-dir', dir], `${shares[0]}\n${shares[2]}\n`);
    expect(shamirRekey.status).toBe(0);
    const newShares = [...shamirRekey.stdout.matchAll(/New unseal share \d: (kws1\.\S+)/g)].map((m) => m[1] as string);
    expect(newShares).toHaveLength(3);

    const after = openSqliteStore({ path: join(dir, 'keyward.db') });
    const shamir = (await openSeal('shamir', after, dir, {}, silent)) as ShamirSeal;
    await shamir.submitShare(newShares[1] as string);
    await shamir.submitShare(newShares[2] as string);
    const stored = await after.getKek('payments');
    expect(await shamir.unwrap(stored?.wrapped as Uint8Array, kekAad('payments', 1))).toEqual(kek);
    const audit = await after.queryAudit({ action: 'seal.rekey' }, 0, 10);
    expect(audit).toHaveLength(3);
    expect(JSON.stringify(audit)).not.toContain('kws1.');
    shamir.seal();
    await after.close();
  });
});
