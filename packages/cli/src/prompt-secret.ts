import { UsageError } from './usage-error.js';

/** The slice of a TTY read stream the prompt uses. */
export interface SecretInput {
  setRawMode(raw: boolean): unknown;
  setEncoding(encoding: 'utf8'): unknown;
  on(event: 'data', listener: (chunk: string) => void): unknown;
  off(event: 'data', listener: (chunk: string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

const ENTER = new Set(['\r', '\n', '\u0004']);
const ERASE = new Set(['\u007f', '\b']);
const INTERRUPT = '\u0003';

/**
 * Reads one line from a terminal in raw mode without echoing it, so a secret
 * never shows on screen, in scrollback or in shell history. Backspace erases;
 * Ctrl-C cancels.
 *
 * @example
 * const share = await promptSecret('Unseal share: ', process.stdin, process.stderr);
 */
export function promptSecret(prompt: string, input: SecretInput, output: { write(text: string): unknown }): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (ENTER.has(char)) {
          finish();
          return;
        }
        if (char === INTERRUPT) {
          finish(new UsageError('cancelled at the prompt'));
          return;
        }
        if (ERASE.has(char)) value = value.slice(0, -1);
        else if (char >= ' ') value += char;
      }
    };
    output.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
  });
}
