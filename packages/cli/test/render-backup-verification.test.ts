import { describe, expect, it } from 'vitest';
import { renderBackupVerification } from '../src/render/render-backup-verification.js';

describe('renderBackupVerification', () => {
  it('says what the server verified: nothing, the read-back, or the restore drill with its counts', () => {
    expect(renderBackupVerification({ method: 'none', result: 'not-performed' })).toBe('no (streamed to the client)');
    expect(renderBackupVerification({ method: 'read-back', result: 'passed' })).toBe('read-back check passed');
    expect(
      renderBackupVerification({
        method: 'restore-drill',
        result: 'passed',
        auditSeq: 41,
        knownAnswers: { checked: 3, passed: 3, failed: 0, inToken: 1 },
        auditChains: { valid: true, chains: 2 },
      }),
    ).toBe(
      'restore drill passed (3/3 key versions matched their known answers, 1 in the HSM; 2 audit chains verify to their recorded heads; audit seq 41)',
    );
    expect(
      renderBackupVerification({
        method: 'restore-drill',
        result: 'failed',
        auditSeq: 7,
        knownAnswers: { checked: 2, passed: 1, failed: 1, inToken: 0 },
        auditChains: { valid: false, chains: 1 },
      }),
    ).toBe('restore drill FAILED (1/2 key versions matched their known answers, 0 in the HSM; 1 audit chains DO NOT verify; audit seq 7)');
    expect(
      renderBackupVerification({ method: 'restore-drill', result: 'failed', auditSeq: 9, knownAnswers: null, auditChains: null }),
    ).toBe('restore drill FAILED (the drill could not run (see the server log); audit seq 9)');
  });
});
