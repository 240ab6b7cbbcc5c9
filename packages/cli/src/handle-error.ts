import { EnvelopeError, KeywardApiError, KeywardConnectionError } from '@keyward/client';
import { KeywardError } from '@keyward/wire';
import { CommanderError } from 'commander';
import type { OutputSink } from './cli-io.js';
import { ExitCode } from './exit-code.js';
import { printable } from './printable.js';
import { UsageError } from './usage-error.js';

/**
 * The one place where a failure of a run becomes a message on stderr and an
 * exit code (docs/cli.md, "Exit codes"). Messages name the error code, the
 * server's message and the request id; never a token or plaintext.
 *
 * @example
 * try { await program.parseAsync(argv, { from: 'user' }); } catch (error) { return handleError(error, io.stderr); }
 */
export function handleError(error: unknown, stderr: OutputSink, debug = false): ExitCode {
  const { code, message } = classify(error);
  // Commander has already printed its own message (or the help it was asked for).
  if (message !== undefined) stderr.write(`error: ${printable(message)}\n`);
  if (debug && code === ExitCode.Unexpected && error instanceof Error && error.stack !== undefined) {
    stderr.write(`${error.stack}\n`);
  }
  return code;
}

function classify(error: unknown): { code: ExitCode; message?: string } {
  if (error instanceof CommanderError) {
    return { code: error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage };
  }
  if (error instanceof UsageError) return { code: ExitCode.Usage, message: error.message };
  if (error instanceof KeywardApiError) {
    const request = error.requestId === null ? '' : ` (request ${error.requestId})`;
    const code = error.status >= 500 ? ExitCode.Unavailable : ExitCode.Refused;
    return { code, message: `${error.code}: ${error.message}${request}` };
  }
  if (error instanceof KeywardConnectionError) return { code: ExitCode.Unavailable, message: `${error.code}: ${error.message}` };
  if (error instanceof EnvelopeError) {
    // A damaged or tampered envelope is refused like a bad ciphertext; only an oversized message is the caller's mistake.
    const code = error.reason === 'too_large' ? ExitCode.Usage : ExitCode.Refused;
    return { code, message: `${error.code} (${error.reason}): ${error.message}` };
  }
  if (error instanceof KeywardError) {
    // Raised by the SDK before sending anything: the input was wrong, or an answer was malformed.
    const code = error.code === 'internal' ? ExitCode.Unexpected : ExitCode.Usage;
    return { code, message: `${error.code}: ${error.message}` };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: ExitCode.Unexpected, message: `unexpected: ${message}` };
}
