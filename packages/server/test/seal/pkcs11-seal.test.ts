import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptoError } from '@keyward/crypto';
import { KeywardError } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { readPkcs11Pin } from '../../src/seal/pkcs11/pkcs11-pin.js';
import { Pkcs11Seal } from '../../src/seal/pkcs11/pkcs11-seal.js';
import { rejectionOf } from '../support/rejections.js';
import { inProcessSoftHsm, openTokenSession } from '../support/softhsm.js';
import { describeSealConformance } from './seal-conformance.js';
import { useTempDirs } from './temp-dir.js';

const PIN = `pin-${randomUUID()}`;
const OTHER_PIN = `pin-${randomUUID()}`;
// Tokens exist before the first seal initializes the library in this process.
const hsm = inProcessSoftHsm([
  { label: 'keyward-test', pin: PIN },
  { label: 'keyward-other', pin: OTHER_PIN },
]);
const tempDir = useTempDirs('pkcs11-seal');
const aad = new TextEncoder().encode('ns/test');

function makeSeal(keyLabel: string, overrides: { token?: string; pin?: string } = {}): Pkcs11Seal {
  const pin = overrides.pin ?? PIN;
  return new Pkcs11Seal({ library: hsm.library, token: overrides.token ?? 'keyward-test', keyLabel, readPin: async () => pin });
}

const rejection = (promise: Promise<unknown>) => rejectionOf(promise, Error);

/** A session of the test's own, to look at the token the way an auditor would. */
function inspect(token = 'keyward-test', pin = PIN) {
  const t = openTokenSession(hsm.library, token, pin);
  return { ...t, find: (label: string) => t.objects([{ type: t.ck.CKA_LABEL, value: label }]) };
}

describeSealConformance('Pkcs11Seal (SoftHSM2)', async () => {
  const label = `root-${randomUUID()}`;
  const seal = makeSeal(label);
  await seal.open();
  await seal.init();
  return {
    seal,
    reopen: async () => {
      const reopened = makeSeal(label);
      await reopened.open();
      return reopened;
    },
  };
});

describe('Pkcs11Seal', () => {
  it('a token without the key means not initialized and sealed, without an error', async () => {
    const seal = makeSeal(`absent-${randomUUID()}`);
    await seal.open();
    expect(seal.status()).toEqual({ kind: 'pkcs11', initialized: false, sealed: true, progress: 0, threshold: 0 });
    const error = await rejection(seal.wrap(new Uint8Array(32), aad));
    expect((error as KeywardError).code).toBe('sealed');
  });

  it('init creates a sensitive, non-extractable AES-256 token object and leaves the seal unsealed', async () => {
    const label = `fresh-${randomUUID()}`;
    const seal = makeSeal(label);
    await seal.init();
    expect(seal.status()).toEqual({ kind: 'pkcs11', initialized: true, sealed: false, progress: 0, threshold: 0 });
    const t = inspect();
    try {
      const [key, ...more] = t.find(label);
      expect(more).toHaveLength(0);
      const attrs = t.module.C_GetAttributeValue(t.session, key as Buffer, [
        { type: t.ck.CKA_TOKEN },
        { type: t.ck.CKA_SENSITIVE },
        { type: t.ck.CKA_EXTRACTABLE },
        { type: t.ck.CKA_ALWAYS_SENSITIVE },
        { type: t.ck.CKA_NEVER_EXTRACTABLE },
        { type: t.ck.CKA_WRAP },
        { type: t.ck.CKA_VALUE_LEN },
      ]);
      expect(attrs.map((a) => a.value[0])).toEqual([1, 1, 0, 1, 1, 0, 32]);
      // The key bytes cannot be read out of the token at all.
      expect(() => t.module.C_GetAttributeValue(t.session, key as Buffer, [{ type: t.ck.CKA_VALUE }])).toThrow('CKR_ATTRIBUTE_SENSITIVE');
    } finally {
      t.close();
    }
  });

  it('init refuses with conflict when the token already holds the label', async () => {
    const label = `twice-${randomUUID()}`;
    await makeSeal(label).init();
    const error = await rejection(makeSeal(label).init());
    expect((error as KeywardError).code).toBe('conflict');
    const t = inspect();
    expect(t.find(label)).toHaveLength(1);
    t.close();
  });

  it('open() after seal() unseals the same instance again, and blobs survive', async () => {
    const seal = makeSeal(`again-${randomUUID()}`);
    await seal.init();
    const wrapped = await seal.wrap(Uint8Array.of(5, 6), aad);
    seal.seal();
    expect(seal.status()).toMatchObject({ initialized: true, sealed: true });
    await seal.open();
    expect(await seal.unwrap(wrapped, aad)).toEqual(Uint8Array.of(5, 6));
  });

  it('a wrong PIN is a one-line internal error that does not hold the PIN, and leaves the seal sealed', async () => {
    const wrongPin = `wrong-${randomUUID()}`;
    const seal = makeSeal('keyward-root', { token: 'keyward-other', pin: wrongPin });
    const error = await rejection(seal.open());
    expect(error).toBeInstanceOf(KeywardError);
    expect((error as KeywardError).code).toBe('internal');
    expect(error.message).toBe("the PKCS#11 PIN was refused by token 'keyward-other'");
    expect(error.message).not.toContain(wrongPin);
    expect(seal.status().sealed).toBe(true);
  });

  it('a missing token is a one-line internal error naming the label and the tokens present', async () => {
    const error = await rejection(makeSeal('keyward-root', { token: 'no-such-token' }).open());
    expect((error as KeywardError).code).toBe('internal');
    expect(error.message).toMatch(/^no PKCS#11 token labelled 'no-such-token' \(tokens present: .*'keyward-test'/);
    expect(error.message.split('\n')).toHaveLength(1);
    expect(error.message).not.toContain(PIN);
  });

  it('a library that cannot be loaded is a one-line error naming the path', async () => {
    const path = join(await tempDir(), 'missing.so');
    const seal = new Pkcs11Seal({ library: path, token: 't', keyLabel: 'k', readPin: async () => PIN });
    const error = await rejection(seal.open());
    expect(error.message).toContain(path);
    expect(error.message.split('\n')).toHaveLength(1);
  });

  it('refuses a key with the label that is extractable (not one this seal would make)', async () => {
    const label = `unfit-${randomUUID()}`;
    const t = inspect();
    t.module.C_GenerateKey(t.session, { mechanism: t.ck.CKM_AES_KEY_GEN }, [
      { type: t.ck.CKA_CLASS, value: t.ck.CKO_SECRET_KEY },
      { type: t.ck.CKA_KEY_TYPE, value: t.ck.CKK_AES },
      { type: t.ck.CKA_VALUE_LEN, value: 32 },
      { type: t.ck.CKA_LABEL, value: label },
      { type: t.ck.CKA_TOKEN, value: true },
      { type: t.ck.CKA_SENSITIVE, value: false },
      { type: t.ck.CKA_EXTRACTABLE, value: true },
      { type: t.ck.CKA_ENCRYPT, value: true },
      { type: t.ck.CKA_DECRYPT, value: true },
    ]);
    t.close();
    const seal = makeSeal(label);
    const error = await rejection(seal.open());
    expect((error as KeywardError).code).toBe('internal');
    expect(error.message).toContain('CKA_EXTRACTABLE is true');
    expect(error.message).toContain('CKA_SENSITIVE is false');
    expect(seal.status().sealed).toBe(true);
  });

  it('survives its sessions being closed under it: reopens a session and carries on', async () => {
    const seal = makeSeal(`reset-${randomUUID()}`);
    await seal.init();
    const wrapped = await seal.wrap(Uint8Array.of(1, 2, 3), aad);
    const t = inspect();
    // Every session of this process on the token goes, and with them the login (PKCS#11 §5.6).
    t.module.C_CloseAllSessions(t.slot);
    expect(await seal.unwrap(wrapped, aad)).toEqual(Uint8Array.of(1, 2, 3));
    expect(seal.status().sealed).toBe(false);
  });

  it('answers sealed (never crashes) when the key vanishes from the token, and unseals again when it returns', async () => {
    const label = `vanish-${randomUUID()}`;
    const seal = makeSeal(label);
    await seal.init();
    const wrapped = await seal.wrap(Uint8Array.of(9), aad);
    const t = inspect();
    const [key] = t.find(label);
    t.module.C_DestroyObject(t.session, key as Buffer);
    t.close();
    const error = await rejection(seal.unwrap(wrapped, aad));
    expect((error as KeywardError).code).toBe('sealed');
    expect(error.message.split('\n')).toHaveLength(1);
    expect(error.message).not.toContain(PIN);
    const error2 = await rejection(seal.wrap(Uint8Array.of(9), aad));
    expect((error2 as KeywardError).code).toBe('sealed');
    expect(error2.message).toContain(`the key labelled '${label}' is gone`);
  });

  it('many concurrent wraps and unwraps across seals on one token all succeed', async () => {
    const seals = await Promise.all(
      [1, 2, 3].map(async () => {
        const seal = makeSeal(`busy-${randomUUID()}`);
        await seal.init();
        return seal;
      }),
    );
    const jobs = Array.from({ length: 300 }, async (_, i) => {
      const seal = seals[i % seals.length] as Pkcs11Seal;
      const kek = new Uint8Array(32).fill(i & 0xff);
      const bound = new TextEncoder().encode(`ns/${i}`);
      const wrapped = await seal.wrap(kek, bound);
      return (await seal.unwrap(wrapped, bound)).every((b) => b === (i & 0xff));
    });
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 300 }, () => true));
  });

  it('RSA generation runs off the event loop on a session of its own: the loop turns and the seal keeps wrapping meanwhile', async () => {
    const seal = makeSeal(`rsa-${randomUUID()}`);
    await seal.init();
    const token = seal.tokenKeys();
    const id = randomBytes(16);
    let finished = false;
    const generated = token.generateRsaKeyPair(id, `keyward:rsa-test:v1`, 3072).finally(() => {
      finished = true;
    });
    // A synchronous generation would be over before the first turn; the thread pool takes far longer than one.
    let turns = 0;
    let wrapped = 0;
    while (!finished) {
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
      // The seal's own session is free: wraps and unwraps go on while the token generates.
      if (wrapped < 20) {
        const blob = await seal.wrap(Uint8Array.of(turns & 0xff), aad);
        expect(await seal.unwrap(blob, aad)).toEqual(Uint8Array.of(turns & 0xff));
        wrapped++;
      }
    }
    expect(turns).toBeGreaterThan(1);
    expect(wrapped).toBeGreaterThan(0);
    const numbers = await generated;
    expect(numbers.modulus).toHaveLength(384);
    expect(Buffer.from(numbers.publicExponent).toString('hex')).toBe('010001');
    // The pair is in the token under its id, and the seal's session (not the closed spare one) can use and destroy it.
    const signature = token.rsaPssSign(id, 'keyward:rsa-test:v1', 'sha256', 32, new TextEncoder().encode('m'));
    expect(signature).toHaveLength(384);
    expect(token.destroyKey(id)).toBe(true);
  });

  it('RSA generation on a sealed seal rejects with sealed and leaves nothing in the token', async () => {
    const seal = makeSeal(`rsa-${randomUUID()}`);
    await seal.init();
    const token = seal.tokenKeys();
    seal.seal();
    const id = randomBytes(16);
    const error = await rejection(token.generateRsaKeyPair(id, 'keyward:rsa-sealed:v1', 3072));
    expect((error as KeywardError).code).toBe('sealed');
    const look = inspect();
    try {
      expect(look.find('keyward:rsa-sealed:v1')).toEqual([]);
    } finally {
      look.close();
    }
  });

  it('a blob from another key in the token is decrypt_failed, not sealed', async () => {
    const a = makeSeal(`a-${randomUUID()}`);
    const b = makeSeal(`b-${randomUUID()}`);
    await a.init();
    await b.init();
    const error = await rejection(b.unwrap(await a.wrap(new Uint8Array(32), aad), aad));
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('decrypt_failed');
  });
});

describe('readPkcs11Pin', () => {
  it('reads a 0600 file and drops one trailing newline', async () => {
    const path = join(await tempDir(), 'pin');
    await writeFile(path, `${PIN}\n`, { mode: 0o600 });
    expect(await readPkcs11Pin({ file: path })).toBe(PIN);
  });

  it.each([0o644, 0o640, 0o604, 0o660])('refuses a PIN file with mode %s without showing the PIN', async (mode) => {
    const path = join(await tempDir(), 'pin');
    await writeFile(path, PIN, { mode: 0o600 });
    await chmod(path, mode);
    const error = await rejection(readPkcs11Pin({ file: path }));
    expect((error as KeywardError).code).toBe('internal');
    expect(error.message).toContain(path);
    expect(error.message).toContain(mode.toString(8));
    expect(error.message).not.toContain(PIN);
  });

  it('refuses an empty or missing PIN file and an empty variable', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'empty'), '\n', { mode: 0o600 });
    expect((await rejection(readPkcs11Pin({ file: join(dir, 'empty') }))).message).toContain('holds no PKCS#11 PIN');
    expect((await rejection(readPkcs11Pin({ file: join(dir, 'missing') }))).message).toContain('ENOENT');
    expect((await rejection(readPkcs11Pin({ env: {} }))).message).toBe('KEYWARD_PKCS11_PIN holds no PKCS#11 PIN');
  });

  it('reads KEYWARD_PKCS11_PIN', async () => {
    expect(await readPkcs11Pin({ env: { KEYWARD_PKCS11_PIN: PIN } })).toBe(PIN);
  });

  it('refuses a multi-line PIN without showing it', async () => {
    const path = join(await tempDir(), 'pin');
    await writeFile(path, `${PIN}\nsecond line\n`, { mode: 0o600 });
    const error = await rejection(readPkcs11Pin({ file: path }));
    expect(error.message).toContain('on one line');
    expect(error.message).not.toContain(PIN);
  });
});
