/**
 * A principal's TOTP authenticator (docs/governance.md, "People: OIDC and
 * second factors"). The secret is wrapped under the root key, bound to the
 * principal id; never stored or returned in the clear after enrolment.
 */
export interface TotpRecord {
  principalId: string;
  /** The shared secret, wrapped by Keyring.wrapSecret with totpSecretAad(principalId). */
  secret: Uint8Array;
  createdAt: string;
  /** Null while enrolment is pending (a code has not yet confirmed it). */
  confirmedAt: string | null;
  /** The last time step (30 s period count) whose code was accepted: a code is good once. */
  lastStep: number | null;
}

/** The TOTP table's operations (SQL in totp-ops.ts). */
export interface TotpStoreOps {
  getTotp(principalId: string): Promise<TotpRecord | null>;
  /** Throws StoreConflictError when the principal already has one (delete a pending one first). */
  insertTotp(record: TotpRecord): Promise<void>;
  /** Deletes the principal's authenticator, pending or confirmed; false when there was none. */
  deleteTotp(principalId: string): Promise<boolean>;
  /** Marks a pending authenticator confirmed with its first accepted step; false when none is pending. */
  confirmTotp(principalId: string, at: string, step: number): Promise<boolean>;
  /**
   * Accepts the code of time step `step` once: moves `lastStep` to `step`
   * only if it is below it (atomic across nodes); false for a replayed or
   * older step, or when no confirmed authenticator exists.
   */
  useTotpStep(principalId: string, step: number): Promise<boolean>;
}
