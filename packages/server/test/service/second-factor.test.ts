import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAdminLevel, READ_ACTIONS } from '../../src/service/second-factor.js';

describe('admin-level actions', () => {
  it('are the non-read actions of a principal holding admin', () => {
    expect(isAdminLevel({ roles: ['admin'] }, 'key.create')).toBe(true);
    expect(isAdminLevel({ roles: ['admin'] }, 'crypto.decrypt')).toBe(true);
    expect(isAdminLevel({ roles: ['admin'] }, 'principal.totp-remove')).toBe(true);
    expect(isAdminLevel({ roles: ['admin'] }, 'key.read')).toBe(false);
    expect(isAdminLevel({ roles: ['admin'] }, 'auth.totp-enrol')).toBe(false);
    expect(isAdminLevel({ roles: ['key-admin', 'auditor'] }, 'key.create')).toBe(false);
  });

  it('docs/governance.md lists exactly the reads the code exempts', () => {
    const text = readFileSync(new URL('../../../../docs/governance.md', import.meta.url), 'utf8');
    const start = text.indexOf('The reads are');
    const end = text.indexOf('Everything else an admin does', start);
    expect(start).toBeGreaterThan(0);
    const documented = [...text.slice(start, end).matchAll(/`([a-z]+\.[a-z-]+)`/g)].map((m) => m[1]);
    expect(new Set(documented)).toEqual(new Set(READ_ACTIONS));
  });
});
