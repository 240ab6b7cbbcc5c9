import type { Environment } from '@keyward/wire';
import type { Principal } from '../service/context.js';
import type { GrantRecord, KeyRecord } from '../store/records.js';
import type { Action } from './actions.js';

/** What an authorization decision is about. */
export interface AuthorizationRequest {
  principal: Principal;
  action: Action;
  /** The key acted on, when there is one, with its grants. */
  key?: { record: KeyRecord; grants: readonly GrantRecord[] };
  /**
   * The environment acted in when there is no key yet: a key being created,
   * a key being moved to another environment, a listing filtered by one.
   */
  environment?: Environment;
  /** When the request is made (the Cedar context's `hour` and `weekday`, UTC); the authorizer's clock when absent. */
  now?: Date;
}

export interface Decision {
  allowed: boolean;
  /** Why, for the audit record and `policy explain`; never shown to an unauthorized caller in detail. */
  reason: string;
  /** The ids of the Cedar policies that decided (the permits of an allow, the forbids of a denial); empty when none did. */
  policies?: readonly string[];
}

/**
 * The authorization seam: Keyward's roles and grants, and the operator's own
 * policies, as Cedar policies (cedar/cedar-authorizer.ts). Synchronous: it is
 * on every request's path.
 */
export interface Authorizer {
  authorize(request: AuthorizationRequest): Decision;
}
