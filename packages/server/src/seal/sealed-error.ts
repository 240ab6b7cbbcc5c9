import { KeywardError } from '@keyward/wire';
import type { SealKind } from './seal.js';

/** The error every wrap/unwrap throws while sealed (HTTP 503). */
export function sealedError(kind: SealKind): KeywardError {
  return new KeywardError('sealed', `the ${kind} seal is sealed; unseal it before using keys`);
}
