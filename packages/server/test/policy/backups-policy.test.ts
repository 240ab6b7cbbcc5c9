import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PolicyError, parsePolicy } from '../../src/policy/parse-policy.js';
import { DEFAULT_POLICY } from '../../src/policy/policy.js';

const refusal = (text: string): string => {
  try {
    parsePolicy(text);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return (error as PolicyError).message;
  }
  throw new Error('expected the policy to be refused');
};

const X25519 = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
const BACKUPS = ['backups:', '  directory: /var/backups/keyward', `  recipients: [${X25519}]`];

describe('parsePolicy: backups', () => {
  it('defaults: no scheduled backups; a section gets interval 1d and retention 7', () => {
    expect(DEFAULT_POLICY.backups).toBeNull();
    expect(parsePolicy('').backups).toBeNull();
    expect(parsePolicy(BACKUPS.join('\n')).backups).toEqual({
      directory: '/var/backups/keyward',
      interval: '1d',
      retention: 7,
      recipients: [X25519],
      verify: null,
    });
    expect(parsePolicy([...BACKUPS, '  interval: 6h', '  retention: 30'].join('\n')).backups).toMatchObject({
      interval: '6h',
      retention: 30,
    });
  });

  it('refuses what a scheduled backup could not honour, naming the field and line', () => {
    expect(refusal(['backups:', `  recipients: [${X25519}]`].join('\n'))).toMatch(/^backups\.directory: .*required|^backups: .*directory/);
    expect(refusal(['backups:', '  directory: backups', `  recipients: [${X25519}]`].join('\n'))).toMatch(/^backups\.directory: /);
    expect(refusal([...BACKUPS, '  interval: 30m'].join('\n'))).toBe('backups.interval: must be at least 1h (line 4)');
    expect(refusal([...BACKUPS, '  interval: daily'].join('\n'))).toMatch(/^backups\.interval: must be a duration/);
    expect(refusal([...BACKUPS, '  retention: 0'].join('\n'))).toMatch(/^backups\.retention: /);
    expect(refusal([...BACKUPS, '  keep: 3'].join('\n'))).toBe('backups.keep: is not a known setting (line 4)');
    expect(refusal(['backups:', '  directory: /b', '  recipients: [age1notarecipient]'].join('\n'))).toMatch(
      /^backups\.recipients\[0\]: not an age X25519 .* \(line 3\)$/,
    );
    expect(refusal(['backups:', '  directory: /b', '  recipients: []'].join('\n'))).toMatch(/^backups\.recipients: /);
    // The identity file itself is checked when the policy file loads (test/backup/scheduled-backup-verify.test.ts).
    expect(refusal([...BACKUPS, '  verify:', '    identityFile: verify.key'].join('\n'))).toBe(
      'backups.verify.identityFile: must be an absolute path (line 5)',
    );
    expect(refusal([...BACKUPS, '  verify:', '    identity: /v.key'].join('\n'))).toMatch(/^backups\.verify/);
  });

  it('the commented example section of docs/policy.example.yaml is valid as written', () => {
    const lines = readFileSync(new URL('../../../../docs/policy.example.yaml', import.meta.url), 'utf8').split('\n');
    const start = lines.indexOf('# backups:');
    const end = lines.indexOf('backups: null');
    expect(start).toBeGreaterThan(0);
    const section = lines.slice(start, end).map((line) => line.replace(/^# ?/, ''));
    expect(parsePolicy(section.join('\n')).backups).toEqual({
      directory: '/var/backups/keyward',
      interval: '1d',
      retention: 7,
      recipients: [X25519],
      verify: null,
    });
  });
});
