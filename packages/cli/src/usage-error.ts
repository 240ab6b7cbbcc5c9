/**
 * The command line is wrong (a missing input, conflicting options, an
 * unreadable file). Exits with code 2.
 *
 * @example
 * throw new UsageError('give --in FILE or --digest-hex HEX, not both');
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
