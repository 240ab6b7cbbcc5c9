import type { AuditProblemKind } from './audit.js';
import type { FindingKind } from './reports.js';
import type { Environment, KeyClass, KeyState } from './types.js';

/** `GET /v1/attestations/public-key`: the Ed25519 key attestations are signed with, as PEM and JWK. */
export interface AttestationPublicKey {
  /** SPKI PEM. */
  publicKey: string;
  /** The public JWK (RFC 8037 `OKP`/`Ed25519`), with `kid` and `alg`. */
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string; alg: 'EdDSA' };
  /** The RFC 7638 JWK thumbprint (SHA-256, base64url): the `kid` of every attestation. */
  kid: string;
}

/** `GET /v1/attestations/current`: a JWS in compact serialization and the claims it carries. */
export interface AttestationResponse {
  jws: string;
  kid: string;
}

/** The last backup Keyward knows of, from its audit record (`backup.create` or `backup.scheduled`). */
export interface AttestedBackup {
  action: 'backup.create' | 'backup.scheduled';
  /** The audit record's time and sequence number. */
  time: string;
  auditSeq: number;
  outcome: 'success' | 'error';
  /** The archive's file name (scheduled backups only). */
  file: string | null;
  bytes: number | null;
  /** SHA-256 fingerprints of the recipients the archive was encrypted to. */
  recipients: string[];
  /**
   * What the server verified: a scheduled backup reads the file back and
   * checks its SHA-256 equals that of the bytes written (`read-back`); a
   * backup streamed to a client (`backup.create`) is not verified by the
   * server (`none`). Neither decrypts the archive. With the policy's
   * `backups.verify.identityFile`, a scheduled backup is also restored into a
   * scratch store and proved (`restore-drill`, {@link AttestedDrill}).
   */
  verification: { method: 'read-back' | 'none'; result: 'passed' | 'failed' | 'not-performed' } | AttestedDrill;
}

/**
 * The restore drill the server ran on a scheduled backup (its `backup.verify`
 * audit record): the archive restored into a scratch store with the
 * verification identity, every key version with material compared with the
 * known-answer value recorded at backup time, every audit chain verified to
 * the head the archive recorded. `passed` only when all of that held.
 */
export interface AttestedDrill {
  method: 'restore-drill';
  result: 'passed' | 'failed';
  /** The `backup.verify` record's sequence number. */
  auditSeq: number;
  /** Key versions checked against known answers, those that matched, those that did not, and HSM versions (a reference only); null when the drill could not run. */
  knownAnswers: { checked: number; passed: number; failed: number; inToken: number } | null;
  /** Whether the restored audit chains verified to the recorded heads, and how many; null when the drill could not run. */
  auditChains: { valid: boolean; chains: number } | null;
}

/** One archive in the scheduled-backup directory, with the recipients its audit record names. */
export interface AttestedArchive {
  file: string;
  /** Null when no successful `backup.scheduled` record names this file. */
  recipients: string[] | null;
  encryptedToCurrentRecipients: boolean;
}

export interface AttestedBackups {
  last: AttestedBackup | null;
  /** Fingerprints of the policy's `backups.recipients`, sorted; null when the policy has no `backups:` section. */
  currentRecipients: string[] | null;
  /** The archives in retention (the policy's `backups.directory`); null when there is no `backups:` section. */
  retention: {
    directory: string;
    archives: AttestedArchive[];
    /** True when every archive's recorded recipients equal the current recipients (as sets). */
    allEncryptedToCurrentRecipients: boolean;
    /** The files for which that is not so. */
    mismatches: string[];
  } | null;
}

export interface AttestedAudit {
  /** Every chain verifies from its first record to its stored head, against the signed checkpoints. */
  valid: boolean;
  /** Each chain's head as stored (null only for a chain the store has records of but no head: `valid` is then false). */
  chains: Array<{ chain: string; records: number; seq: number | null; hash: string | null }>;
  checkpoints: number;
  problem: { kind: AuditProblemKind; chain: string | null; seq: number | null } | null;
}

/** The `keyward` claim of an attestation (docs/formats.md "Attestations"). */
export interface AttestationStatement {
  version: 1;
  /** The namespace whose keys are counted, and the environments of the principal that asked. */
  namespace: string;
  environments: Environment[];
  backups: AttestedBackups;
  audit: AttestedAudit;
  keys: { total: number; byClassAndState: Record<KeyClass, Record<KeyState, number>> };
  compliance: { policyDigest: string | null; keysExamined: number; counts: Record<FindingKind, number> };
}

/** The JWS payload. */
export interface AttestationClaims {
  iss: string;
  iat: number;
  jti: string;
  keyward: AttestationStatement;
}
