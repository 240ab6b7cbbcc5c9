import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../src/base64.js';

describe('base64', () => {
  it('matches Node’s standard base64 and round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(text)).toEqual(bytes);
      }),
    );
  });

  it('encodes inputs larger than one chunk', () => {
    const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
  });

  it.each(['aGk', 'aGk=\n', 'a-_=', 'aG=k', ' aGk=', 'aGk=='])('refuses %j', (text) => {
    expect(fromBase64(text)).toBeUndefined();
  });
});
