import type { PrincipalRecord } from '../store/records.js';

/** What every service call receives from its front end. */
export interface CallContext {
  /** The bearer credential as presented, or null. Never logged or recorded. */
  credential: string | null;
  requestId: string;
  /** Client address as the front end saw it. */
  source: string;
  namespace: string;
}

/** An authenticated caller. */
export interface Principal extends PrincipalRecord {
  tokenId: string;
}
