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

const OIDC = ['oidc:', '  issuer: https://idp.example.com', '  audience: keyward', '  groups:', '    kms-admins: { roles: [admin] }'];

describe('parsePolicy: oidc and mfa', () => {
  it('defaults: no OIDC, a second factor required for admin-level actions', () => {
    expect(DEFAULT_POLICY.oidc).toBeNull();
    expect(DEFAULT_POLICY.mfa).toEqual({ admin: 'required' });
    expect(parsePolicy('version: 1\n').oidc).toBeNull();
  });

  it('fills every optional oidc setting with its documented default; audience becomes a list', () => {
    const policy = parsePolicy(OIDC.join('\n'));
    expect(policy.oidc).toEqual({
      issuer: 'https://idp.example.com',
      audience: ['keyward'],
      jwksUri: null,
      principalClaim: 'sub',
      principalPrefix: 'oidc-',
      groupsClaim: 'groups',
      groups: { 'kms-admins': { roles: ['admin'], environments: null, teams: [] } },
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      clockTolerance: '30s',
      secondFactorAmr: ['mfa', 'otp', 'hwk', 'swk'],
    });
    expect(Object.isFrozen(policy.oidc)).toBe(true);
  });

  it('takes every setting', () => {
    const policy = parsePolicy(
      [
        'oidc:',
        '  issuer: https://idp.example.com/realms/x',
        '  audience: [keyward, kms]',
        '  jwksUri: https://idp.example.com/keys',
        '  principalClaim: preferred_username',
        '  principalPrefix: ""',
        '  groupsClaim: roles',
        '  groups:',
        '    ops: { roles: [key-admin, auditor], environments: [dev, test], teams: [team-ops] }',
        '  algorithms: [EdDSA]',
        '  clockTolerance: 0s',
        '  secondFactorAmr: [hwk]',
        'mfa:',
        '  admin: off',
      ].join('\n'),
    );
    expect(policy.oidc).toMatchObject({ audience: ['keyward', 'kms'], principalPrefix: '', clockTolerance: '0s', algorithms: ['EdDSA'] });
    expect(policy.oidc?.groups.ops).toEqual({ roles: ['key-admin', 'auditor'], environments: ['dev', 'test'], teams: ['team-ops'] });
    expect(policy.mfa.admin).toBe('off');
  });

  it('refuses a bad section whole, naming the setting and the line', () => {
    expect(refusal(['oidc:', '  audience: keyward', '  groups: { a: { roles: [admin] } }'].join('\n'))).toBe(
      'oidc.issuer: is required (line 1)',
    );
    expect(refusal([...OIDC, '  issuers: x'].join('\n'))).toBe('oidc.issuers: is not a known setting (line 6)');
    expect(refusal([...OIDC.slice(0, 4), '    kms-admins: { roles: [root] }'].join('\n'))).toMatch(
      /^oidc\.groups\.kms-admins\.roles\[0\]: must be one of admin, .* \(line 5\)$/,
    );
    expect(refusal([...OIDC.slice(0, 4), '    kms-admins: { roles: [admin], extra: 1 }'].join('\n'))).toBe(
      'oidc.groups.kms-admins.extra: is not a known setting (line 5)',
    );
    expect(refusal(OIDC.join('\n').replace('https://idp.example.com', 'http://idp.example.com'))).toBe(
      'oidc.issuer: must use https (plain http only on loopback) (line 2)',
    );
    expect(parsePolicy(OIDC.join('\n').replace('https://idp.example.com', 'http://127.0.0.1:9000')).oidc?.issuer).toBe(
      'http://127.0.0.1:9000',
    );
    expect(refusal([...OIDC, '  clockTolerance: 10m'].join('\n'))).toBe('oidc.clockTolerance: must be at most 5m (line 6)');
    expect(refusal([...OIDC, '  clockTolerance: 1h'].join('\n'))).toBe(
      'oidc.clockTolerance: must be seconds or minutes such as 30s or 2m (line 6)',
    );
    expect(refusal([...OIDC, '  algorithms: [HS256]'].join('\n'))).toMatch(/^oidc\.algorithms\[0\]: must be one of RS256, .* \(line 6\)$/);
    expect(refusal([...OIDC, '  principalPrefix: OIDC-'].join('\n'))).toMatch(/^oidc\.principalPrefix: must be lower-case .* \(line 6\)$/);
    expect(refusal('mfa:\n  admin: optional\n')).toBe('mfa.admin: must be one of required, off (line 2)');
  });

  it('the commented example section of docs/policy.example.yaml is valid as written', () => {
    const text = readFileSync(new URL('../../../../docs/policy.example.yaml', import.meta.url), 'utf8');
    const lines = text.split('\n');
    const start = lines.indexOf('# oidc:');
    const end = lines.indexOf('oidc: null');
    expect(start).toBeGreaterThan(0);
    const section = lines.slice(start, end).map((line) => line.replace(/^# ?/, ''));
    const policy = parsePolicy(section.join('\n'));
    expect(policy.oidc?.issuer).toBe('https://login.example.com/realms/corp');
    expect(policy.oidc?.groups['kms-operators']).toEqual({ roles: ['key-admin'], environments: ['dev', 'test'], teams: ['team-platform'] });
  });
});
