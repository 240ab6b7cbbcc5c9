/** Where the CLI writes; `process.stdout` fits, so does a test's buffer. */
export interface OutputSink {
  write(chunk: string | Uint8Array): unknown;
}

/**
 * Everything the CLI touches outside itself, so that commands run the same
 * in the process and in tests.
 */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: AsyncIterable<string | Uint8Array>;
  /** True when stdin is a terminal (secrets are then read from a hidden prompt). */
  readonly stdinIsTTY: boolean;
  readonly stdout: OutputSink;
  readonly stderr: OutputSink;
  /** True when stderr is a terminal (progress is drawn there only then). */
  readonly stderrIsTTY?: boolean;
  /** Reads one line from the terminal without echoing it. */
  readSecret(prompt: string): Promise<string>;
  /** `fetch` for the SDK; the global one when absent. */
  readonly fetch?: typeof globalThis.fetch;
}
