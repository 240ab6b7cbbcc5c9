import type { AlertSubject, AlertType } from '@keyward/wire';

/**
 * What to do about each alert type, in order (docs/alerts.md says the same
 * at more length). Each alert carries these so the person paged does not
 * need the documentation at hand.
 */
export function nextSteps(type: AlertType, s: AlertSubject): string[] {
  const key = s.key === null ? 'the key' : `key '${s.key}'`;
  const principal = s.principal === null ? 'the principal' : `'${s.principal}'`;
  switch (type) {
    case 'first_use':
      return [
        `Confirm with the owner of ${principal} that it is meant to use ${key} (a new deployment, a new grant).`,
        `If not: revoke ${principal}'s tokens (keyward token revoke) and remove its grant on ${key} (keyward grant remove), then review its other uses in the audit trail.`,
        'Resolve the alert with a note saying which it was.',
      ];
    case 'volume_spike':
      return [
        `Ask the owner of ${principal} whether a batch job, backfill or retry storm explains the volume on ${key}.`,
        `If not explained: treat ${principal}'s credential as stolen (bulk decryption is how data is exfiltrated): revoke its tokens, and read its recent operations in the audit trail (keyward key usage ${s.key ?? 'KEY'}).`,
        'If it is the new normal, resolve the alert; the baseline adapts within a few buckets.',
      ];
    case 'invalid_ciphertext_burst':
      return [
        `Find who sent the refused ciphertexts for ${key}: the evidence names the principals, sources and audit records.`,
        'A misconfigured client (wrong key name, wrong encryption context, truncated storage) is the common cause: fix it.',
        `If nobody explains it, treat it as tampering or probing: check the integrity of the stored ciphertexts and revoke the callers' tokens.`,
      ];
    case 'compromised_version_use':
      return [
        `Version ${s.version ?? '?'} of ${key} is compromised: anything it still protects must be re-encrypted under the current version (rewrap), by principals allowed to recover data.`,
        `If this use was not such a recovery, find out why ${principal} still holds data under the compromised version and whether it was tampered with.`,
        `When no data depends on version ${s.version ?? '?'} any more, destroy it (POST /v1/keys/${s.key ?? 'KEY'}/versions/${s.version ?? 'N'}/destroy) and resolve the alert.`,
      ];
    case 'deactivated_version_use':
      return [
        `Data under deactivated version ${s.version ?? '?'} of ${key} is still being read by ${principal}: rewrap it to the current version (POST /v1/keys/${s.key ?? 'KEY'}/rewrap).`,
        `If ${principal} tried to encrypt or sign with it, update the client: it must use the key's primary version.`,
        'Once nothing needs the old version, destroy it; resolve the alert.',
      ];
    case 'auth_failure_burst':
      return [
        `Look at what ${s.source ?? 'the source'} is: a known client still using a revoked or expired token, or an unknown host guessing credentials.`,
        'A known client: give it a valid token. An unknown host: block the address at the network edge; Keyward already slows it down (429 after repeated failures).',
        'Check the audit trail for successful requests from the same source in the same period.',
      ];
    case 'off_hours_admin':
      return [
        `Confirm with ${s.principal === null ? 'the operator on call' : principal} that the change was planned (an incident, a maintenance window).`,
        'If not: review every change in the evidence (the audit records), undo what was not meant, and revoke the tokens used.',
        'If such work is normal, adjust alerts.offHours (days, hours, time zone) in the policy file.',
      ];
  }
}
