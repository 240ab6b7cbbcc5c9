import { createHash } from 'node:crypto';
import { KeywardError } from '@keyward/wire';
import { Encrypter } from 'age-encryption';

/** At most this many custodians per archive. */
export const MAX_RECIPIENTS = 16;

/** What kind of age recipient a string is: X25519 (`age1…`) or the ML-KEM-768 + X25519 hybrid (`age1pq1…`). */
export type RecipientKind = 'x25519' | 'mlkem768x25519';

/** `sha256:` + hex SHA-256 of the recipient string: what the audit record names (docs/audit.md). */
export function recipientFingerprint(recipient: string): string {
  return `sha256:${createHash('sha256').update(recipient, 'utf8').digest('hex')}`;
}

function kindOf(recipient: string): RecipientKind | null {
  if (recipient.startsWith('age1pq1')) return 'mlkem768x25519';
  // age1tag…, plugin recipients (age1name1…) and passphrases are not custodian keys Keyward accepts.
  if (/^age1[02-9ac-hj-np-z]{58}$/.test(recipient)) return 'x25519';
  return null;
}

/**
 * Checks the recipients of a backup: 1…16 distinct age recipients, all
 * X25519 or all hybrid post-quantum. Mixing is refused: an archive that also
 * opens with a classical X25519 identity has only classical security, which
 * would make the hybrid recipients pointless. Errors name the field.
 */
export function parseRecipients(recipients: readonly string[]): { kind: RecipientKind; fingerprints: string[] } {
  if (recipients.length === 0) throw new KeywardError('invalid_request', 'recipients: at least one age recipient is required');
  if (recipients.length > MAX_RECIPIENTS) throw new KeywardError('invalid_request', `recipients: at most ${MAX_RECIPIENTS}`);
  if (new Set(recipients).size !== recipients.length) throw new KeywardError('invalid_request', 'recipients: listed twice');
  let kind: RecipientKind | null = null;
  recipients.forEach((recipient, i) => {
    const k = kindOf(recipient);
    let valid = k !== null;
    if (valid) {
      try {
        new Encrypter().addRecipient(recipient);
      } catch {
        valid = false;
      }
    }
    if (!valid || k === null) {
      throw new KeywardError('invalid_request', `recipients[${i}]: not an age X25519 (age1…) or hybrid post-quantum (age1pq1…) recipient`);
    }
    if (kind !== null && kind !== k) {
      throw new KeywardError(
        'invalid_request',
        `recipients[${i}]: X25519 and hybrid post-quantum recipients cannot be mixed in one archive`,
      );
    }
    kind = k;
  });
  return { kind: kind ?? 'x25519', fingerprints: recipients.map(recipientFingerprint) };
}
