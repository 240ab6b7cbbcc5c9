import { KeywardError } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { errorFields } from '../../src/log-fields.js';

describe('errorFields: what a background failure is logged with', () => {
  it('a Keyward error keeps its message, which names what failed (a held activation names its key)', () => {
    const error = new KeywardError(
      'policy_violation',
      "algorithm: class standard allows only ed25519 (classes.standard.algorithms); version 2 of key 'billing' (namespace 'default') stays pre_active until the key is patched into compliance",
    );
    expect(errorFields(error)).toEqual({ err: { type: 'KeywardError', code: 'policy_violation', message: error.message } });
  });

  it('any other error is logged by type and code only: its message may quote a secret', () => {
    const driver = Object.assign(new Error('connect ECONNREFUSED postgres://keyward:s3cret-password@db:5432/keyward'), {
      code: 'ECONNREFUSED',
    });
    expect(errorFields(driver)).toEqual({ err: { type: 'Error', code: 'ECONNREFUSED' } });
    expect(JSON.stringify(errorFields(driver))).not.toContain('s3cret');
    expect(errorFields('a string')).toEqual({ err: { type: 'string', code: undefined } });
    expect(errorFields(null)).toEqual({ err: { type: 'object', code: undefined } });
  });
});
