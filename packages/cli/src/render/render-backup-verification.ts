import type { AttestedBackup } from '@keyward/wire';

/**
 * What the server verified of an attested backup, in one line: nothing
 * (streamed), the read-back check, or the restore drill with its counts.
 *
 * @example
 * renderBackupVerification({ method: 'read-back', result: 'passed' }); // 'read-back check passed'
 */
export function renderBackupVerification(verification: AttestedBackup['verification']): string {
  if (verification.method !== 'restore-drill') {
    return verification.method === 'none' ? 'no (streamed to the client)' : `read-back check ${verification.result}`;
  }
  const answers = verification.knownAnswers;
  const chains = verification.auditChains;
  const detail =
    answers === null || chains === null
      ? 'the drill could not run (see the server log)'
      : `${answers.passed}/${answers.checked} key versions matched their known answers, ${answers.inToken} in the HSM; ` +
        `${chains.chains} audit chains ${chains.valid ? 'verify to their recorded heads' : 'DO NOT verify'}`;
  return `restore drill ${verification.result === 'passed' ? 'passed' : 'FAILED'} (${detail}; audit seq ${verification.auditSeq})`;
}
