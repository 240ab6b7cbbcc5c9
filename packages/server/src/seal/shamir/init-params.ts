import { KeywardError } from '@keyward/wire';

/** Parameters of a Shamir initialization ceremony. */
export interface ShamirInitParams {
  /** Shares to make, one per custodian: an integer from 2 to 255. */
  readonly shares: number;
  /** Shares needed to unseal: an integer from 2 to `shares`. */
  readonly threshold: number;
}

/** Largest share count: x coordinates are the non-zero elements of GF(2^8). */
export const MAX_SHARES = 255;

/**
 * Validates init parameters (which may come straight from a request body)
 * and returns them frozen. Throws `KeywardError('invalid_request')` naming the
 * field. A threshold of 1 is refused: one share would be the root key itself,
 * which is what the file seal is for.
 */
export function validateInitParams(params: unknown): ShamirInitParams {
  if (typeof params !== 'object' || params === null) throw invalid('shares', 'is required');
  const { shares, threshold } = params as Record<string, unknown>;
  if (!isIntegerIn(shares, 2, MAX_SHARES)) throw invalid('shares', `must be an integer from 2 to ${MAX_SHARES}`);
  if (!isIntegerIn(threshold, 2, shares)) throw invalid('threshold', `must be an integer from 2 to shares (${shares})`);
  return Object.freeze({ shares, threshold });
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function invalid(field: string, reason: string): KeywardError {
  return new KeywardError('invalid_request', `${field}: ${reason}`);
}
