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
}

export interface Decision {
  allowed: boolean;
  /** Why, for the audit record and `policy explain`; never shown to an unauthorized caller in detail. */
  reason: string;
}

/**
 * The authorization seam. Built-in roles and grants now; policy as code
 * (Cedar) replaces the implementation in its own issue without touching callers.
 */
export interface Authorizer {
  authorize(request: AuthorizationRequest): Decision;
}
