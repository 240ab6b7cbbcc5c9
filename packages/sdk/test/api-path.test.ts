import { KeywardError } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { apiPath } from '../src/api-path.js';

describe('apiPath', () => {
  it('percent-encodes each value as one segment', () => {
    expect(apiPath`/keys/${'a/b?c#d'}/versions/${2}`).toBe('/keys/a%2Fb%3Fc%23d/versions/2');
  });

  it.each(['', '.', '..'])('refuses the segment %j, which URL parsing would resolve', (name) => {
    expect(() => apiPath`/keys/${name}/rotate`).toThrow(KeywardError);
  });
});
