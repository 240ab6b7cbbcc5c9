import { EnvelopeError, KeywardApiError, KeywardConnectionError } from '@keyward/client';
import { KeywardError } from '@keyward/wire';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../src/exit-code.js';
import { handleError } from '../src/handle-error.js';
import { UsageError } from '../src/usage-error.js';

function handled(error: unknown, debug = false): { code: number; stderr: string } {
  let stderr = '';
  const code = handleError(error, { write: (text) => (stderr += String(text)) }, debug);
  return { code, stderr };
}

describe('handleError', () => {
  it.each([
    [400, 'invalid_request', ExitCode.Refused],
    [401, 'unauthenticated', ExitCode.Refused],
    [403, 'forbidden', ExitCode.Refused],
    [404, 'not_found', ExitCode.Refused],
    [409, 'invalid_state', ExitCode.Refused],
    [429, 'rate_limited', ExitCode.Refused],
    [500, 'internal', ExitCode.Unavailable],
    [503, 'sealed', ExitCode.Unavailable],
  ] as const)('maps HTTP %i (%s) to exit %i', (status, code, exit) => {
    const result = handled(new KeywardApiError(code, 'because', status, 'req-1'));
    expect(result.code).toBe(exit);
    expect(result.stderr).toBe(`error: ${code}: because (request req-1)\n`);
  });

  it('omits the request id when there is none', () => {
    expect(handled(new KeywardApiError('not_found', 'gone', 404, null)).stderr).toBe('error: not_found: gone\n');
  });

  it('maps a damaged envelope to 3 with its reason, an oversized message to 2', () => {
    expect(handled(new EnvelopeError('truncated', 'envelope: the input ended before the final frame'))).toEqual({
      code: 3,
      stderr: 'error: invalid_ciphertext (truncated): envelope: the input ended before the final frame\n',
    });
    expect(handled(new EnvelopeError('too_large', 'too many frames')).code).toBe(2);
  });

  it('maps an unreachable server to 4', () => {
    const result = handled(new KeywardConnectionError('cannot reach Keyward at http://h:1: ECONNREFUSED', { timedOut: false }));
    expect(result).toEqual({ code: 4, stderr: 'error: unreachable: cannot reach Keyward at http://h:1: ECONNREFUSED\n' });
  });

  it('maps usage errors and commander errors to 2, help to 0, printing nothing for commander', () => {
    expect(handled(new UsageError('give --in'))).toEqual({ code: 2, stderr: 'error: give --in\n' });
    expect(handled(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--token'"))).toEqual({ code: 2, stderr: '' });
    expect(handled(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toEqual({ code: 0, stderr: '' });
  });

  it('maps a local SDK refusal of input to 2 and a malformed answer to 1', () => {
    expect(handled(new KeywardError('invalid_request', 'bad address')).code).toBe(2);
    expect(handled(new KeywardError('internal', 'malformed answer')).code).toBe(1);
  });

  it('maps anything else to 1, with the stack only in debug mode', () => {
    expect(handled(new RangeError('boom'))).toEqual({ code: 1, stderr: 'error: unexpected: boom\n' });
    expect(handled('thrown string').code).toBe(1);
    expect(handled(new RangeError('boom'), true).stderr).toContain('at ');
  });

  it('escapes control characters in server messages', () => {
    expect(handled(new KeywardApiError('forbidden', 'no\u001b[2J', 403, null)).stderr).toBe('error: forbidden: no\\u001b[2J\n');
  });
});
