import type { BatchItemError } from '@keyward/wire';
import type { BatchResult } from './sdk-types.js';

/**
 * True when a batch item failed; the other items of the batch are unaffected.
 *
 * @example
 * for (const item of await client.encryptBatch('payments', items)) {
 *   if (isBatchItemError(item)) console.error(item.error.code);
 *   else store(item.ciphertext);
 * }
 */
export function isBatchItemError<T extends object>(item: BatchResult<T>): item is BatchItemError {
  return 'error' in item && typeof item.error === 'object' && item.error !== null;
}
