/**
 * Parsers for commander options and arguments. Each throws commander's
 * `InvalidArgumentError`, which commander reports as a usage error (exit 2).
 */
import { InvalidArgumentError } from 'commander';

const DURATION = /^[1-9][0-9]*[dhms]$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/**
 * Parses an integer between `min` and `max`.
 *
 * @example
 * new Option('--limit <n>').argParser(integerBetween(1, 1000));
 */
export function integerBetween(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return number;
  };
}

/**
 * Parses a duration of the contract: `90d`, `12h`, `30m`, `45s`.
 *
 * @example
 * parseDuration('30d'); // '30d'
 */
export function parseDuration(value: string): string {
  if (!DURATION.test(value)) throw new InvalidArgumentError('expected a duration such as 90d, 12h, 30m or 45s');
  return value;
}

/**
 * Parses a duration, or `none` to clear the setting (`key update`). Commander
 * turns a parser's `null` into an empty string, so `none` is kept as is and
 * {@link noneToNull} maps it when the request is built.
 *
 * @example
 * durationOrNone('none'); // 'none'
 */
export function durationOrNone(value: string): string {
  return value === 'none' ? value : parseDuration(value);
}

/** `none` (from {@link durationOrNone}) becomes null; anything else is kept. */
export function noneToNull<T>(value: T | 'none'): T | null {
  return value === 'none' ? null : value;
}

/**
 * Parses an RFC 3339 time such as 2027-01-01T00:00:00Z.
 *
 * @example
 * parseTime('2027-01-01T00:00:00Z');
 */
export function parseTime(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError('expected an RFC 3339 time such as 2027-01-01T00:00:00Z');
  }
  return value;
}

/**
 * Parses hexadecimal bytes (an even number of hex digits).
 *
 * @example
 * parseHex('00ff'); // Uint8Array [0, 255]
 */
export function parseHex(value: string): Uint8Array {
  if (!HEX.test(value)) throw new InvalidArgumentError('expected an even number of hexadecimal digits');
  return Uint8Array.from(value.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/**
 * Repeatable `k=v` option collected into a record; the value may contain `=`.
 *
 * @example
 * new Option('--tag <k=v>').argParser(collectKeyValue).default({});
 */
export function collectKeyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const separator = value.indexOf('=');
  if (separator <= 0) throw new InvalidArgumentError('expected key=value');
  const key = value.slice(0, separator);
  if (Object.hasOwn(previous, key)) throw new InvalidArgumentError(`'${key}' is given twice`);
  return { ...previous, [key]: value.slice(separator + 1) };
}

/**
 * Repeatable option whose values must be among `choices`, collected into an array.
 *
 * @example
 * new Option('--role <role>').argParser(collectChoice(ROLES));
 */
export function collectChoice<T extends string>(choices: readonly T[]): (value: string, previous?: T[]) => T[] {
  return (value, previous = []) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    }
    return previous.includes(value as T) ? previous : [...previous, value as T];
  };
}

/**
 * Repeatable free-form option collected into an array.
 *
 * @example
 * new Option('--team <team>').argParser(collect);
 */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
