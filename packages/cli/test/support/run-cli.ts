import { type CannedResponse, fakeFetch, type RecordedRequest } from '../../../sdk/test/support/fake-fetch.js';
import type { CliIo } from '../../src/cli-io.js';
import { run } from '../../src/run.js';

export interface CliResult {
  code: number;
  stdout: string;
  stdoutBytes: Uint8Array;
  stderr: string;
  requests: RecordedRequest[];
}

export interface CliOptions {
  answers?: CannedResponse[] | ((request: RecordedRequest) => CannedResponse);
  stdin?: string | Uint8Array;
  tty?: boolean;
  secret?: string;
  env?: Record<string, string>;
}

/** Runs the CLI in-process against a scripted fetch and captures its output. */
export async function runCli(argv: string[], options: CliOptions = {}): Promise<CliResult> {
  const fake = fakeFetch(options.answers ?? []);
  const out: Uint8Array[] = [];
  const err: string[] = [];
  const sink = (into: Uint8Array[]) => ({
    write: (chunk: string | Uint8Array) => into.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk),
  });
  const errBytes: Uint8Array[] = [];
  const input = options.stdin ?? '';
  const io: CliIo = {
    env: { KEYWARD_TOKEN: 'kw_test', ...options.env },
    stdin: (async function* () {
      yield typeof input === 'string' ? new TextEncoder().encode(input) : input;
    })(),
    stdinIsTTY: options.tty ?? false,
    stdout: sink(out),
    stderr: sink(errBytes),
    readSecret: async () => options.secret ?? '',
    fetch: fake.fetch,
  };
  const code = await run(argv, io);
  const stdoutBytes = Buffer.concat(out);
  err.push(Buffer.concat(errBytes).toString('utf8'));
  return {
    code,
    stdout: stdoutBytes.toString('utf8'),
    stdoutBytes: new Uint8Array(stdoutBytes),
    stderr: err.join(''),
    requests: fake.requests,
  };
}
