import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { collect, collectChoice, collectKeyValue, integerBetween, parseDuration, parseHex } from '../src/option-parsers.js';

describe('option parsers', () => {
  it('integerBetween accepts only integers in range', () => {
    const limit = integerBetween(1, 1000);
    expect(limit('1')).toBe(1);
    expect(limit('1000')).toBe(1000);
    for (const bad of ['0', '1001', '-1', '1.5', '1e3', '', ' 2', '0x10']) expect(() => limit(bad)).toThrow(InvalidArgumentError);
  });

  it('parseDuration accepts the contract’s durations', () => {
    for (const good of ['90d', '12h', '30m', '45s']) expect(parseDuration(good)).toBe(good);
    for (const bad of ['90', 'd', '0d', '1w', '1.5h', '-1d']) expect(() => parseDuration(bad)).toThrow(InvalidArgumentError);
  });

  it('parseHex decodes pairs of hex digits', () => {
    expect(parseHex('00fFa0')).toEqual(new Uint8Array([0, 255, 160]));
    for (const bad of ['', 'f', 'zz', '0x00']) expect(() => parseHex(bad)).toThrow(InvalidArgumentError);
  });

  it('collectKeyValue builds a record and splits at the first =', () => {
    expect(collectKeyValue('b=x=y', collectKeyValue('a=1'))).toEqual({ a: '1', b: 'x=y' });
    expect(collectKeyValue('empty=')).toEqual({ empty: '' });
    expect(() => collectKeyValue('novalue')).toThrow(InvalidArgumentError);
    expect(() => collectKeyValue('=v')).toThrow(InvalidArgumentError);
    expect(() => collectKeyValue('a=2', { a: '1' })).toThrow("'a' is given twice");
  });

  it('collectChoice validates and de-duplicates', () => {
    const role = collectChoice(['admin', 'auditor'] as const);
    expect(role('auditor', role('admin'))).toEqual(['admin', 'auditor']);
    expect(role('admin', ['admin'])).toEqual(['admin']);
    expect(() => role('root')).toThrow('expected one of admin, auditor');
  });

  it('collect appends', () => {
    expect(collect('b', collect('a'))).toEqual(['a', 'b']);
  });
});
