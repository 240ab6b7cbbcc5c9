import { KeywardClient } from '@keyward/client';
import type { Command } from 'commander';
import type { CliIo } from './cli-io.js';
import { ExitCode } from './exit-code.js';
import { clientOptions, type GlobalOptions } from './global-options.js';

/**
 * What an action needs: the I/O, a client built from the global options, the
 * output mode, and a way to end with a non-zero code without an error.
 */
export class CommandContext {
  readonly io: CliIo;
  #exitCode: ExitCode = ExitCode.Ok;

  constructor(io: CliIo) {
    this.io = io;
  }

  /** Exit code the run ends with when no error is thrown. */
  get exitCode(): ExitCode {
    return this.#exitCode;
  }

  /** Ends the run with `code` once the action returns (e.g. `verify` of a bad signature). */
  fail(code: ExitCode): void {
    this.#exitCode = code;
  }

  /** Options of `command` merged with the global ones. */
  options<T extends object>(command: Command): T & GlobalOptions {
    return command.optsWithGlobals<T & GlobalOptions>();
  }

  /** A client for the address, token and namespace of the global options. */
  async client(command: Command): Promise<KeywardClient> {
    return new KeywardClient(await clientOptions(this.options(command), this.io));
  }

  /**
   * Prints `value` as indented JSON under `--json`, else as `render` lays it out.
   *
   * @example
   * ctx.print(command, key, renderKey);
   */
  print<T>(command: Command, value: T, render: (value: T) => string): void {
    this.io.stdout.write(this.options(command).json === true ? `${JSON.stringify(value, null, 2)}\n` : render(value));
  }

  /** A line on stderr (warnings and progress notes, never data). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}
