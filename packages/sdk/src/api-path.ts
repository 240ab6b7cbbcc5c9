import { KeywardError } from '@keyward/wire';

/**
 * Builds a request path, percent-encoding every interpolated value as one path
 * segment. `.` and `..` are refused because URL parsing would resolve them and
 * send the request to another endpoint.
 *
 * @example
 * apiPath`/keys/${name}/versions/${2}/deactivate`;
 */
export function apiPath(strings: TemplateStringsArray, ...values: ReadonlyArray<string | number>): string {
  let path = strings[0] ?? '';
  values.forEach((value, index) => {
    path += segment(String(value)) + (strings[index + 1] ?? '');
  });
  return path;
}

function segment(value: string): string {
  if (value === '' || value === '.' || value === '..') {
    throw new KeywardError('invalid_request', `'${value}' is not a valid name`);
  }
  return encodeURIComponent(value);
}
