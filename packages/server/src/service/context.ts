import type { PrincipalRecord } from '../store/records.js';
import type { ApprovedExecution } from './approvals.js';

/** What every service call receives from its front end. */
export interface CallContext {
  /** The bearer credential as presented, or null. Never logged or recorded. */
  credential: string | null;
  requestId: string;
  /** Client address as the front end saw it. */
  source: string;
  namespace: string;
  /**
   * Set only by the approval service when it runs an operation its quorum
   * approved: the gate then acts as the requester, without a credential.
   */
  approved?: ApprovedExecution;
}

/** An authenticated caller. */
export interface Principal extends PrincipalRecord {
  tokenId: string;
}
