/** Exit codes of `keyward` (docs/cli.md, "Exit codes"). */
export const ExitCode = {
  /** Done. */
  Ok: 0,
  /** A bug or an unexpected failure. */
  Unexpected: 1,
  /** Bad command line: unknown command or option, missing or malformed argument, unreadable input or unwritable output file. */
  Usage: 2,
  /** The server refused the request (any 4xx answer), `verify` found the signature invalid, or `audit verify` found the trail damaged. */
  Refused: 3,
  /** The server is unreachable, timed out, sealed or uninitialized (503) or failed (5xx). */
  Unavailable: 4,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit-code table as shown at the end of `keyward --help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  unexpected error
  2  usage error (unknown command or option, bad argument, unreadable or unwritable file)
  3  refused by the server (4xx: not_found, forbidden, invalid_state, …), signature invalid, or audit trail damaged
  4  server unreachable, timed out, sealed or audit unavailable (503), or failing (5xx)`;
