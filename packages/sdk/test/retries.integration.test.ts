import { describe, expect, it } from 'vitest';
import { KeywardApiError, KeywardClient } from '../src/index.js';
import { useServer } from './support/server.js';

/**
 * Retries against the real server while it answers 503 `sealed` (a Shamir
 * seal that is not initialized yet): reads are retried up to the bound,
 * state changes are not (no retry wait is ever taken for them). Requests
 * are counted on the server side in retries.test.ts.
 */
describe('retries against a sealed real server', () => {
  const ctx = useServer({ seal: 'shamir' });

  function client(): { client: KeywardClient; delays: number[] } {
    const delays: number[] = [];
    const sleep = async (ms: number) => {
      delays.push(ms);
    };
    return {
      client: new KeywardClient({ address: ctx.server.url, token: ctx.server.token, retries: { maxRetries: 3, sleep, random: () => 0 } }),
      delays,
    };
  }

  it('health answers sealed at once; a GET is retried maxRetries times, then fails with code sealed', async () => {
    const { client: c, delays } = client();
    await expect(c.health()).resolves.toMatchObject({ initialized: false, sealed: true });
    expect(delays).toEqual([]);
    const error = await c.listKeys().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeywardApiError);
    expect(error).toMatchObject({ code: 'sealed', status: 503 });
    expect(delays).toEqual([0, 0, 0]);
  });

  it('createKey, encrypt and rotateKey are sent once; decrypt and verify are retried', async () => {
    const { client: c, delays } = client();
    await expect(c.createKey({ name: 'never', algorithm: 'aes-256-gcm', owner: 'team-x' })).rejects.toMatchObject({ code: 'sealed' });
    await expect(c.encrypt('never', new Uint8Array([1]))).rejects.toMatchObject({ code: 'sealed' });
    await expect(c.rotateKey('never')).rejects.toMatchObject({ code: 'sealed' });
    expect(delays).toEqual([]);
    await expect(c.decrypt('never', 'x')).rejects.toMatchObject({ code: 'sealed' });
    expect(delays).toHaveLength(3);
    delays.length = 0;
    await expect(c.verify('never', { message: new Uint8Array([1]), signature: new Uint8Array([1]) })).rejects.toMatchObject({
      code: 'sealed',
    });
    expect(delays).toHaveLength(3);
  });
});
