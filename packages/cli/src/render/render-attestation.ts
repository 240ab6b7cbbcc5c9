import type { AttestationClaims } from '@keyward/wire';
import { renderBackupVerification } from './render-backup-verification.js';

/**
 * The claims of a verified attestation, for people.
 *
 * @example
 * io.stdout.write(renderAttestation(claims, kid));
 */
export function renderAttestation(claims: AttestationClaims, kid: string): string {
  const k = claims.keyward;
  const lines: string[] = [
    'attestation: signature valid (EdDSA)',
    `  issuer:     ${claims.iss}`,
    `  issued at:  ${new Date(claims.iat * 1000).toISOString()}`,
    `  id (jti):   ${claims.jti}`,
    `  key (kid):  ${kid}`,
    `  namespace:  ${k.namespace} (environments ${k.environments.join(', ')})`,
    '',
    'backups:',
  ];
  const last = k.backups.last;
  if (last === null) lines.push('  last backup: none recorded');
  else {
    lines.push(
      `  last backup: ${last.action} at ${last.time} (audit seq ${last.auditSeq}), ${last.outcome}` +
        `${last.file === null ? '' : `, ${last.file}`}${last.bytes === null ? '' : `, ${last.bytes} bytes`}`,
      `    recipients: ${last.recipients.join(', ') || '(none recorded)'}`,
      `    verified by the server: ${renderBackupVerification(last.verification)}`,
    );
  }
  const retention = k.backups.retention;
  if (retention === null) lines.push('  scheduled backups: off (no backups: section)');
  else {
    lines.push(
      `  current recipients: ${(k.backups.currentRecipients ?? []).join(', ')}`,
      `  archives in ${retention.directory}: ${retention.archives.length}; all encrypted to the current recipients: ${retention.allEncryptedToCurrentRecipients ? 'yes' : 'NO'}`,
    );
    for (const file of retention.mismatches) lines.push(`    mismatch: ${file}`);
  }
  lines.push('', `audit: ${k.audit.valid ? 'every chain verifies to its head' : 'NOT VALID'} (${k.audit.checkpoints} checkpoints)`);
  for (const c of k.audit.chains) lines.push(`  ${c.chain}: head seq ${c.seq} ${c.hash} (${c.records} records)`);
  if (k.audit.problem !== null)
    lines.push(`  problem: ${k.audit.problem.kind} in ${k.audit.problem.chain ?? '-'} at ${k.audit.problem.seq ?? '-'}`);
  lines.push('', `keys: ${k.keys.total}`);
  for (const [cls, states] of Object.entries(k.keys.byClassAndState)) {
    const nonzero = Object.entries(states).filter(([, n]) => n > 0);
    if (nonzero.length > 0) lines.push(`  ${cls}: ${nonzero.map(([s, n]) => `${s} ${n}`).join(', ')}`);
  }
  lines.push('', `compliance: ${k.compliance.keysExamined} keys examined, policy ${k.compliance.policyDigest ?? '(defaults)'}`);
  const findings = Object.entries(k.compliance.counts).filter(([, n]) => n > 0);
  if (findings.length === 0) lines.push('  no findings');
  for (const [kind, n] of findings) lines.push(`  ${kind}: ${n}`);
  return `${lines.join('\n')}\n`;
}
