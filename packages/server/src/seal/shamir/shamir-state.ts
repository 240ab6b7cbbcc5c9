import { KeywardError } from '@keyward/wire';

/**
 * The non-secret state of a Shamir seal, as stored through a
 * `SealStateStore`. JSON:
 *
 * ```json
 * {"format":"keyward-seal-shamir/v1","id":"…","threshold":3,"shares":5,"check":"…"}
 * ```
 *
 * `id` is 16 random bytes in base64url naming this initialization; `check`
 * is the base64url key-check blob (`key-check.ts`). No share, no root key.
 */
export interface ShamirState {
  readonly id: string;
  readonly threshold: number;
  readonly shares: number;
  readonly check: Uint8Array;
}

const FORMAT = 'keyward-seal-shamir/v1';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function serializeShamirState(state: ShamirState): string {
  return JSON.stringify({
    format: FORMAT,
    id: state.id,
    threshold: state.threshold,
    shares: state.shares,
    check: Buffer.from(state.check).toString('base64url'),
  });
}

/** Parses stored state; throws `KeywardError('internal')` naming the defect when it is corrupt. */
export function parseShamirState(text: string): ShamirState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt('not JSON');
  }
  if (typeof value !== 'object' || value === null) throw corrupt('not an object');
  const record = value as Record<string, unknown>;
  if (record.format !== FORMAT) throw corrupt(`format is not '${FORMAT}'`);
  const { id, threshold, shares, check } = record;
  if (typeof id !== 'string' || !BASE64URL.test(id)) throw corrupt('id is invalid');
  if (!isCount(shares, 2)) throw corrupt('shares is invalid');
  if (!isCount(threshold, 2) || threshold > shares) throw corrupt('threshold is invalid');
  if (typeof check !== 'string' || !BASE64URL.test(check)) throw corrupt('check is invalid');
  return Object.freeze({ id, threshold, shares, check: new Uint8Array(Buffer.from(check, 'base64url')) });
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= 255;
}

function corrupt(reason: string): KeywardError {
  return new KeywardError('internal', `Shamir seal state is corrupt: ${reason}`);
}
