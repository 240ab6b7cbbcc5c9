import type { KeyList, PrincipalView } from '@keyward/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness, type Response } from '../support/harness.js';

/**
 * Bad input on every endpoint (API.md, "Errors"): wrong types, missing
 * fields, unknown fields, oversize values, bad base64, bad names and a bad
 * namespace header answer 400 `invalid_request` with a message naming the
 * field — and write nothing. Malformed, empty and huge bodies never give a 5xx.
 */

let h: Harness;
let ciphertext: string;
let signature: string;
let mac: string;
let grantId: string;
let tokenId: string;

const KEYS = ['enc', 'sig', 'hm'] as const;
const TABLES = ['meta', 'keks', 'keys', 'key_tags', 'key_versions', 'principals', 'tokens', 'grants'] as const;
const UUID = '00000000-0000-4000-8000-000000000000';
const MSG = b64('a message to sign');
/** Well-formed stand-ins where only another field is under test. */
const SIG = b64('not really a signature');
const MAC = b64('not really a mac');
const long = (n: number, c = 'a') => c.repeat(n);
const manyProps = (n: number, value = 'v') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));

/** Everything a client can see, plus every non-audit table row (audit records of refusals are expected). */
async function snapshot() {
  const api: Record<string, unknown> = {};
  for (const ns of ['default', 'team-b']) {
    api[`list:${ns}`] = (await h.call('GET', '/v1/keys?limit=1000', undefined, h.adminToken, { 'x-keyward-namespace': ns })).body;
  }
  for (const k of KEYS) {
    api[`key:${k}`] = (await h.call('GET', `/v1/keys/${k}`)).body;
    api[`grants:${k}`] = (await h.call('GET', `/v1/keys/${k}/grants`)).body;
  }
  api.principals = (await h.call('GET', '/v1/principals?limit=1000')).body;
  const db: Record<string, string[]> = {};
  for (const table of TABLES) {
    db[table] = (await h.testStore.raw(`SELECT * FROM ${table}`)).map((row) => JSON.stringify(row)).sort();
  }
  return { api, db };
}

let before: Awaited<ReturnType<typeof snapshot>>;

beforeAll(async () => {
  h = await Harness.start();
  await h.createKey('enc', 'aes-256-gcm', { tags: { app: 'x' }, description: 'd' });
  await h.createKey('sig', 'ed25519');
  await h.createKey('hm', 'hmac-sha256');
  expect((await h.call('POST', '/v1/keys/enc/rotate')).status).toBe(200);
  await h.principal('svc-a', ['key-user']);
  grantId = (await h.grant('enc', 'svc-a', ['encrypt'])).id;
  const token = await h.call('POST', '/v1/principals/svc-a/tokens', { ttl: '1d' });
  tokenId = token.body.id;
  ciphertext = (await h.call('POST', '/v1/keys/enc/encrypt', { plaintext: b64('secret text') })).body.ciphertext;
  signature = (await h.call('POST', '/v1/keys/sig/sign', { message: MSG })).body.signature;
  mac = (await h.call('POST', '/v1/keys/hm/mac', { message: MSG })).body.mac;
  expect([ciphertext, signature, mac, grantId, tokenId].every((v) => typeof v === 'string')).toBe(true);
  before = await snapshot();
});
afterAll(async () => h.close());

/** The standard error shape, the status and code, and the request id repeated from the header. */
function expectError(r: Response, status: number, code: string, field?: string | RegExp): void {
  const what = JSON.stringify(r.body).slice(0, 400);
  expect(r.status, what).toBe(status);
  expect(Object.keys(r.body), what).toEqual(['error']);
  expect(r.body.error.code, what).toBe(code);
  expect(typeof r.body.error.message, what).toBe('string');
  expect(r.body.error.requestId, what).toBe(r.headers['x-request-id']);
  expect(r.body.error.requestId, what).toMatch(/^[0-9a-f-]{36}$/);
  if (typeof field === 'string') expect(r.body.error.message.startsWith(`${field}: `), `message should name ${field}: ${what}`).toBe(true);
  else if (field) expect(r.body.error.message, what).toMatch(field);
}

interface Case {
  desc: string;
  method: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  field?: string | RegExp | undefined;
  status: number;
  code: string;
}

function describeBody(body: unknown): string {
  if (body === undefined) return '(no body)';
  const s = typeof body === 'string' ? `raw ${body}` : typeof body === 'function' ? '(computed)' : JSON.stringify(body);
  return s.length > 70 ? `${s.slice(0, 67)}…` : s;
}

/** A bad request expected to answer 400 invalid_request naming `field`. */
function bad(method: string, url: string, body: unknown, field: string | RegExp | undefined, extra: Partial<Case> = {}): Case {
  return { desc: describeBody(body), method, url, body, field, status: 400, code: 'invalid_request', ...extra };
}

async function send(c: Case): Promise<Response> {
  const body = typeof c.body === 'function' ? (c.body as () => unknown)() : c.body;
  return h.call(c.method, c.url, body, h.adminToken, c.headers ?? {});
}

// ---------------------------------------------------------------- bodies reused below

/** Bad values for a standard-base64 field, each with the expected status. */
const BAD_BASE64 = ['abc', '!!!!', '-_-_', 'YQ', 'YWJj\n', ' YWJj', 'YW=j'];
/** Bad key (and principal) names. */
const BAD_NAMES = ['Upper', '.leading', '..', '../etc', 'a/b', '-dash', '', long(129), 'sp ace', 'ünï'];
/** Bad `context` values (the encryption context): field named in the message. */
const BAD_CONTEXTS: [unknown, string][] = [
  ['ctx', 'context'],
  [['a'], 'context'],
  [null, 'context'],
  [{ a: 1 }, 'context.a'],
  [{ a: null }, 'context.a'],
  [{ a: long(4097) }, 'context.a'],
  [{ [long(257)]: 'v' }, 'context'],
  [manyProps(65), 'context'],
];

// ---------------------------------------------------------------- the tables

const sysCases: Case[] = [
  bad('POST', '/v1/sys/init', {}, 'shares'),
  bad('POST', '/v1/sys/init', { shares: 5 }, 'threshold'),
  bad('POST', '/v1/sys/init', { threshold: 3 }, 'shares'),
  bad('POST', '/v1/sys/init', { shares: '5', threshold: 3 }, 'shares'),
  bad('POST', '/v1/sys/init', { shares: 5, threshold: 3.5 }, 'threshold'),
  bad('POST', '/v1/sys/init', { shares: 1, threshold: 3 }, 'shares'),
  bad('POST', '/v1/sys/init', { shares: 256, threshold: 3 }, 'shares'),
  bad('POST', '/v1/sys/init', { shares: 5, threshold: null }, 'threshold'),
  bad('POST', '/v1/sys/init', { shares: 5, threshold: 3, seal: 'file' }, 'seal'),
  bad('POST', '/v1/sys/init', [5, 3], 'body'),
  bad('POST', '/v1/sys/unseal', {}, 'share'),
  bad('POST', '/v1/sys/unseal', { share: 1 }, 'share'),
  bad('POST', '/v1/sys/unseal', { share: '' }, 'share'),
  bad('POST', '/v1/sys/unseal', { share: long(257) }, 'share'),
  bad('POST', '/v1/sys/unseal', { share: ['a'] }, 'share'),
  bad('POST', '/v1/sys/unseal', { share: 'abcd', progress: 1 }, 'progress'),
  bad('POST', '/v1/sys/unseal', 'abcd', 'body'),
];

const createOk = { name: 'new-key', algorithm: 'aes-256-gcm', owner: 'team-test' };
const createCases: Case[] = [
  bad('POST', '/v1/keys', {}, 'name'),
  bad('POST', '/v1/keys', { algorithm: 'aes-256-gcm', owner: 'o' }, 'name'),
  bad('POST', '/v1/keys', { name: 'new-key', owner: 'o' }, 'algorithm'),
  bad('POST', '/v1/keys', { name: 'new-key', algorithm: 'aes-256-gcm' }, 'owner'),
  ...BAD_NAMES.map((name) => bad('POST', '/v1/keys', { ...createOk, name }, 'name')),
  bad('POST', '/v1/keys', { ...createOk, name: 12 }, 'name'),
  bad('POST', '/v1/keys', { ...createOk, name: null }, 'name'),
  bad('POST', '/v1/keys', { ...createOk, name: ['new-key'] }, 'name'),
  bad('POST', '/v1/keys', { ...createOk, algorithm: 'aes-128-ecb' }, 'algorithm'),
  bad('POST', '/v1/keys', { ...createOk, algorithm: 'AES-256-GCM' }, 'algorithm'),
  bad('POST', '/v1/keys', { ...createOk, algorithm: 1 }, 'algorithm'),
  bad('POST', '/v1/keys', { ...createOk, owner: '' }, 'owner'),
  bad('POST', '/v1/keys', { ...createOk, owner: 7 }, 'owner'),
  bad('POST', '/v1/keys', { ...createOk, owner: long(129) }, 'owner'),
  bad('POST', '/v1/keys', { ...createOk, owner: 'team test' }, 'owner'),
  bad('POST', '/v1/keys', { ...createOk, class: 'ultra' }, 'class'),
  bad('POST', '/v1/keys', { ...createOk, class: 1 }, 'class'),
  bad('POST', '/v1/keys', { ...createOk, environment: 'moon' }, 'environment'),
  bad('POST', '/v1/keys', { ...createOk, description: long(1025) }, 'description'),
  bad('POST', '/v1/keys', { ...createOk, description: 5 }, 'description'),
  bad('POST', '/v1/keys', { ...createOk, tags: 'app=x' }, 'tags'),
  bad('POST', '/v1/keys', { ...createOk, tags: ['x'] }, 'tags'),
  bad('POST', '/v1/keys', { ...createOk, tags: { x: 1 } }, 'tags.x'),
  bad('POST', '/v1/keys', { ...createOk, tags: { x: long(257) } }, 'tags.x'),
  bad('POST', '/v1/keys', { ...createOk, tags: { [long(129)]: 'v' } }, 'tags'),
  bad('POST', '/v1/keys', { ...createOk, tags: { '': 'v' } }, 'tags'),
  bad('POST', '/v1/keys', { ...createOk, tags: manyProps(51) }, 'tags'),
  bad('POST', '/v1/keys', { ...createOk, rotationPeriod: '90' }, 'rotationPeriod'),
  bad('POST', '/v1/keys', { ...createOk, rotationPeriod: '90y' }, 'rotationPeriod'),
  bad('POST', '/v1/keys', { ...createOk, rotationPeriod: '0d' }, 'rotationPeriod'),
  bad('POST', '/v1/keys', { ...createOk, rotationPeriod: 90 }, 'rotationPeriod'),
  bad('POST', '/v1/keys', { ...createOk, maxUsesPerVersion: 0 }, 'maxUsesPerVersion'),
  bad('POST', '/v1/keys', { ...createOk, maxUsesPerVersion: '10' }, 'maxUsesPerVersion'),
  bad('POST', '/v1/keys', { ...createOk, maxUsesPerVersion: 1.5 }, 'maxUsesPerVersion'),
  bad('POST', '/v1/keys', { ...createOk, maxUsesPerVersion: 2 ** 48 + 1 }, 'maxUsesPerVersion'),
  bad('POST', '/v1/keys', { ...createOk, exportable: 'no' }, 'exportable'),
  bad('POST', '/v1/keys', { ...createOk, exportable: 0 }, 'exportable'),
  bad('POST', '/v1/keys', { ...createOk, deletionWindowDays: 6 }, 'deletionWindowDays'),
  bad('POST', '/v1/keys', { ...createOk, deletionWindowDays: 31 }, 'deletionWindowDays'),
  bad('POST', '/v1/keys', { ...createOk, deletionWindowDays: '30' }, 'deletionWindowDays'),
  bad('POST', '/v1/keys', { ...createOk, usage: 'sign' }, 'usage'),
  bad('POST', '/v1/keys', { ...createOk, namespace: 'team-b' }, 'namespace'),
  bad('POST', '/v1/keys', { ...createOk, versions: [] }, 'versions'),
  bad('POST', '/v1/keys', [createOk], 'body'),
];

const listCases: Case[] = [
  bad('GET', '/v1/keys?limit=abc', undefined, 'querystring.limit'),
  bad('GET', '/v1/keys?limit=0', undefined, 'querystring.limit'),
  bad('GET', '/v1/keys?limit=1001', undefined, 'querystring.limit'),
  bad('GET', '/v1/keys?limit=1.5', undefined, 'querystring.limit'),
  bad('GET', '/v1/keys?limit=-1', undefined, 'querystring.limit'),
  bad('GET', '/v1/keys?limit=1&limit=2', undefined, 'querystring.limit'),
  bad('GET', '/v1/keys?cursor=', undefined, 'querystring.cursor'),
  bad('GET', `/v1/keys?cursor=${long(1025)}`, undefined, 'querystring.cursor'),
  bad('GET', '/v1/keys?cursor=!!!', undefined, /^(querystring\.)?cursor: /),
  bad('GET', '/v1/keys?state=lost', undefined, 'querystring.state'),
  bad('GET', '/v1/keys?class=ultra', undefined, 'querystring.class'),
  bad('GET', '/v1/keys?environment=moon', undefined, 'querystring.environment'),
  bad('GET', '/v1/keys?algorithm=des', undefined, 'querystring.algorithm'),
  bad('GET', '/v1/keys?owner=', undefined, 'querystring.owner'),
  bad('GET', `/v1/keys?owner=${long(129)}`, undefined, 'querystring.owner'),
  bad('GET', '/v1/keys?tag=x', undefined, 'querystring.tag'),
  bad('GET', '/v1/keys?q=', undefined, 'querystring.q'),
  bad('GET', `/v1/keys?q=${long(129)}`, undefined, 'querystring.q'),
  bad('GET', '/v1/keys?sort=name', undefined, 'querystring.sort'),
];

/** Every route whose path carries a key name, with a body that is otherwise valid. */
const NAMED_ROUTES: [string, string, unknown][] = [
  ['GET', '', undefined],
  ['PATCH', '', { description: 'x' }],
  ['POST', '/rotate', {}],
  ['POST', '/enable', undefined],
  ['POST', '/disable', undefined],
  ['POST', '/versions/1/deactivate', undefined],
  ['POST', '/versions/1/compromise', { reason: 'leaked' }],
  ['POST', '/schedule-deletion', { days: 7 }],
  ['POST', '/cancel-deletion', undefined],
  ['POST', '/encrypt', { plaintext: b64('x') }],
  ['POST', '/decrypt', { ciphertext: 'x' }],
  ['POST', '/rewrap', { ciphertext: 'x' }],
  ['POST', '/data-key', {}],
  ['POST', '/sign', { message: MSG }],
  ['POST', '/verify', { message: MSG, signature: b64('s') }],
  ['POST', '/mac', { message: MSG }],
  ['POST', '/verify-mac', { message: MSG, mac: b64('m') }],
  ['GET', '/public-key', undefined],
  ['GET', '/grants', undefined],
  ['POST', '/grants', { principal: 'svc-a', operations: ['decrypt'] }],
  ['DELETE', `/grants/${UUID}`, undefined],
];
const PATH_NAMES = ['Upper', '.leading', '..%2Fsys', '%2e%2e%2fsys', '%2E%2E%2F%2E%2E%2Fetc', 'a%20b', long(129), '-x'];
const pathNameCases: Case[] = NAMED_ROUTES.flatMap(([method, suffix, body]) =>
  PATH_NAMES.map((n) => ({ ...bad(method, `/v1/keys/${n}${suffix}`, body, 'params.name'), desc: `name ${n.slice(0, 20)}` })),
);

const namespaceCases: Case[] = [
  ['POST', '/v1/keys', createOk] as [string, string, unknown],
  ['GET', '/v1/keys', undefined] as [string, string, unknown],
  ...NAMED_ROUTES.map(([m, s, b]) => [m, `/v1/keys/enc${s}`, b] as [string, string, unknown]),
].flatMap(([method, url, body]) =>
  ['Bad NS', '.hidden', '..', long(129), 'UPPER'].map((ns) => ({
    ...bad(method, url, body, 'X-Keyward-Namespace'),
    headers: { 'x-keyward-namespace': ns },
    desc: `namespace ${JSON.stringify(ns.slice(0, 20))}`,
  })),
);

const patchCases: Case[] = [
  bad('PATCH', '/v1/keys/enc', {}, 'body'),
  bad('PATCH', '/v1/keys/enc', { name: 'renamed' }, 'name'),
  bad('PATCH', '/v1/keys/enc', { algorithm: 'hmac-sha256' }, 'algorithm'),
  bad('PATCH', '/v1/keys/enc', { exportable: true }, 'exportable'),
  bad('PATCH', '/v1/keys/enc', { state: 'disabled' }, 'state'),
  bad('PATCH', '/v1/keys/enc', { primaryVersion: 1 }, 'primaryVersion'),
  bad('PATCH', '/v1/keys/enc', { owner: '' }, 'owner'),
  bad('PATCH', '/v1/keys/enc', { owner: null }, 'owner'),
  bad('PATCH', '/v1/keys/enc', { owner: long(129) }, 'owner'),
  bad('PATCH', '/v1/keys/enc', { class: 'ultra' }, 'class'),
  bad('PATCH', '/v1/keys/enc', { environment: 'moon' }, 'environment'),
  bad('PATCH', '/v1/keys/enc', { description: long(1025) }, 'description'),
  bad('PATCH', '/v1/keys/enc', { description: ['d'] }, 'description'),
  bad('PATCH', '/v1/keys/enc', { tags: manyProps(51) }, 'tags'),
  bad('PATCH', '/v1/keys/enc', { tags: { x: 1 } }, 'tags.x'),
  bad('PATCH', '/v1/keys/enc', { tags: null }, 'tags'),
  bad('PATCH', '/v1/keys/enc', { rotationPeriod: '90' }, 'rotationPeriod'),
  bad('PATCH', '/v1/keys/enc', { rotationPeriod: 90 }, 'rotationPeriod'),
  bad('PATCH', '/v1/keys/enc', { maxUsesPerVersion: 'many' }, 'maxUsesPerVersion'),
  bad('PATCH', '/v1/keys/enc', { maxUsesPerVersion: 0 }, 'maxUsesPerVersion'),
  bad('PATCH', '/v1/keys/enc', { deletionWindowDays: 99 }, 'deletionWindowDays'),
  bad('PATCH', '/v1/keys/enc', { description: 'ok', extra: 1 }, 'extra'),
  bad('PATCH', '/v1/keys/enc', [{ description: 'x' }], 'body'),
  bad('PATCH', '/v1/keys/enc', 'description', 'body'),
];

const lifecycleCases: Case[] = [
  bad('POST', '/v1/keys/enc/rotate', { reason: 1 }, 'reason'),
  bad('POST', '/v1/keys/enc/rotate', { reason: long(1025) }, 'reason'),
  bad('POST', '/v1/keys/enc/rotate', { reason: 'r', now: true }, 'now'),
  bad('POST', '/v1/keys/enc/rotate', [], 'body'),
  bad('POST', '/v1/keys/enc/rotate', 'reason', 'body'),
  bad('POST', '/v1/keys/enc/disable', { force: true }, 'force'),
  bad('POST', '/v1/keys/enc/enable', { force: true }, 'force'),
  ...['0', '-1', 'abc', '1.5', '2147483649', 'one'].map((v) =>
    bad('POST', `/v1/keys/enc/versions/${v}/deactivate`, undefined, 'params.version', { desc: `version ${v}` }),
  ),
  bad('POST', '/v1/keys/enc/versions/1/deactivate', { reason: 'x' }, 'reason'),
  bad('POST', '/v1/keys/enc/versions/1/deactivate', [], 'body'),
  bad('POST', '/v1/keys/enc/cancel-deletion', { force: true }, 'force'),
  bad('POST', '/v1/keys/enc/versions/1/compromise', {}, 'reason'),
  bad('POST', '/v1/keys/enc/versions/1/compromise', { reason: '' }, 'reason'),
  bad('POST', '/v1/keys/enc/versions/1/compromise', { reason: 1 }, 'reason'),
  bad('POST', '/v1/keys/enc/versions/1/compromise', { reason: null }, 'reason'),
  bad('POST', '/v1/keys/enc/versions/1/compromise', { reason: long(1025) }, 'reason'),
  bad('POST', '/v1/keys/enc/versions/1/compromise', { reason: 'leaked', rotate: false }, 'rotate'),
  bad('POST', '/v1/keys/enc/versions/1/compromise', ['leaked'], 'body'),
  ...['0', 'abc', '1.5'].map((v) =>
    bad('POST', `/v1/keys/enc/versions/${v}/compromise`, { reason: 'leaked' }, 'params.version', { desc: `version ${v}` }),
  ),
  bad('POST', '/v1/keys/enc/schedule-deletion', { days: 6 }, 'days'),
  bad('POST', '/v1/keys/enc/schedule-deletion', { days: 31 }, 'days'),
  bad('POST', '/v1/keys/enc/schedule-deletion', { days: '7' }, 'days'),
  bad('POST', '/v1/keys/enc/schedule-deletion', { days: 7.5 }, 'days'),
  bad('POST', '/v1/keys/enc/schedule-deletion', { days: 7, now: true }, 'now'),
  bad('POST', '/v1/keys/enc/schedule-deletion', [7], 'body'),
  bad('POST', '/v1/sys/seal', { force: true }, 'force'),
  bad('POST', '/v1/sys/seal', [], 'body'),
];

const encryptCases: Case[] = [
  bad('POST', '/v1/keys/enc/encrypt', {}, 'plaintext'),
  bad('POST', '/v1/keys/enc/encrypt', { context: {} }, 'plaintext'),
  bad('POST', '/v1/keys/enc/encrypt', { plaintext: 1 }, 'plaintext'),
  bad('POST', '/v1/keys/enc/encrypt', { plaintext: null }, 'plaintext'),
  bad('POST', '/v1/keys/enc/encrypt', { plaintext: ['YWJj'] }, 'plaintext'),
  bad('POST', '/v1/keys/enc/encrypt', { plaintext: { data: 'YWJj' } }, 'plaintext'),
  ...BAD_BASE64.map((plaintext) => bad('POST', '/v1/keys/enc/encrypt', { plaintext }, 'plaintext')),
  ...BAD_CONTEXTS.map(([context, field]) => bad('POST', '/v1/keys/enc/encrypt', { plaintext: b64('x'), context }, field)),
  bad('POST', '/v1/keys/enc/encrypt', { plaintext: b64('x'), keyVersion: 1 }, 'keyVersion'),
  bad('POST', '/v1/keys/enc/encrypt', { plaintext: b64('x'), aad: 'x' }, 'aad'),
  bad('POST', '/v1/keys/enc/encrypt', [{ plaintext: b64('x') }], 'body'),
  bad('POST', '/v1/keys/enc/encrypt', 'YWJj', 'body'),
  {
    ...bad('POST', '/v1/keys/enc/encrypt', { plaintext: Buffer.alloc(64 * 1024 + 1, 7).toString('base64') }, 'plaintext'),
    desc: 'plaintext of 64 KiB + 1 byte',
    status: 413,
    code: 'payload_too_large',
  },
  {
    ...bad('POST', '/v1/keys/enc/encrypt', { plaintext: Buffer.alloc(2 * 1024 * 1024, 7).toString('base64') }, 'plaintext'),
    desc: 'plaintext of 2 MiB',
    status: 413,
    code: 'payload_too_large',
  },
];

/** Batch envelopes that are themselves malformed fail as a whole. */
const batchEnvelopeCases: Case[] = ['encrypt', 'decrypt', 'rewrap'].flatMap((op) => [
  bad('POST', `/v1/keys/enc/${op}`, { items: [] }, 'items'),
  bad('POST', `/v1/keys/enc/${op}`, { items: 'x' }, 'items'),
  bad('POST', `/v1/keys/enc/${op}`, { items: null }, 'items'),
  bad('POST', `/v1/keys/enc/${op}`, { items: { 0: {} } }, 'items'),
  bad('POST', `/v1/keys/enc/${op}`, { items: [{}], context: {} }, 'context'),
  {
    ...bad('POST', `/v1/keys/enc/${op}`, { items: Array.from({ length: 1001 }, () => ({})) }, 'items'),
    desc: '1001 items',
  },
]);

const decryptCases: Case[] = ['decrypt', 'rewrap'].flatMap((op) => [
  bad('POST', `/v1/keys/enc/${op}`, {}, 'ciphertext'),
  bad('POST', `/v1/keys/enc/${op}`, { ciphertext: 1 }, 'ciphertext'),
  bad('POST', `/v1/keys/enc/${op}`, { ciphertext: null }, 'ciphertext'),
  bad('POST', `/v1/keys/enc/${op}`, { ciphertext: '' }, 'ciphertext'),
  bad('POST', `/v1/keys/enc/${op}`, { ciphertext: ['x'] }, 'ciphertext'),
  { ...bad('POST', `/v1/keys/enc/${op}`, { ciphertext: long(1024 * 1024 + 1) }, 'ciphertext'), desc: 'ciphertext of 1 MiB + 1' },
  ...BAD_CONTEXTS.map(([context, field]) => bad('POST', `/v1/keys/enc/${op}`, { ciphertext: 'x', context }, field)),
  bad('POST', `/v1/keys/enc/${op}`, { ciphertext: 'x', plaintext: b64('x') }, 'plaintext'),
  bad('POST', `/v1/keys/enc/${op}`, [{ ciphertext: 'x' }], 'body'),
  // Not malformed input but a bad ciphertext: the one opaque answer, and still nothing written.
  { ...bad('POST', `/v1/keys/enc/${op}`, { ciphertext: 'not-a-ciphertext' }, undefined), code: 'invalid_ciphertext' },
  {
    ...bad('POST', `/v1/keys/enc/${op}`, () => ({ ciphertext: `${ciphertext.slice(0, -4)}AAAA` }), undefined),
    desc: 'tampered ciphertext',
    code: 'invalid_ciphertext',
  },
]);

const dataKeyCases: Case[] = [
  bad('POST', '/v1/keys/enc/data-key', { bytes: 0 }, 'bytes'),
  bad('POST', '/v1/keys/enc/data-key', { bytes: 1025 }, 'bytes'),
  bad('POST', '/v1/keys/enc/data-key', { bytes: '32' }, 'bytes'),
  bad('POST', '/v1/keys/enc/data-key', { bytes: 1.5 }, 'bytes'),
  bad('POST', '/v1/keys/enc/data-key', { bytes: null }, 'bytes'),
  bad('POST', '/v1/keys/enc/data-key', { includePlaintext: 'yes' }, 'includePlaintext'),
  bad('POST', '/v1/keys/enc/data-key', { includePlaintext: 1 }, 'includePlaintext'),
  ...BAD_CONTEXTS.map(([context, field]) => bad('POST', '/v1/keys/enc/data-key', { context }, field)),
  bad('POST', '/v1/keys/enc/data-key', { algorithm: 'aes-256-gcm' }, 'algorithm'),
  bad('POST', '/v1/keys/enc/data-key', [32], 'body'),
  bad('POST', '/v1/keys/enc/data-key', 32, 'body'),
];

const ONE_OF = /^(body|message|digest): /;
const signCases: Case[] = [
  bad('POST', '/v1/keys/sig/sign', {}, ONE_OF),
  bad('POST', '/v1/keys/sig/sign', { message: MSG, digest: MSG }, ONE_OF),
  bad('POST', '/v1/keys/sig/sign', { message: 1 }, 'message'),
  bad('POST', '/v1/keys/sig/sign', { message: null }, 'message'),
  bad('POST', '/v1/keys/sig/sign', { digest: true }, 'digest'),
  ...BAD_BASE64.map((message) => bad('POST', '/v1/keys/sig/sign', { message }, 'message')),
  ...BAD_BASE64.map((digest) => bad('POST', '/v1/keys/sig/sign', { digest }, 'digest')),
  bad('POST', '/v1/keys/sig/sign', { message: MSG, algorithm: 'ed25519' }, 'algorithm'),
  bad('POST', '/v1/keys/sig/sign', { message: MSG, keyVersion: 1 }, 'keyVersion'),
  bad('POST', '/v1/keys/sig/sign', [MSG], 'body'),
  {
    ...bad('POST', '/v1/keys/sig/sign', { message: Buffer.alloc(64 * 1024 + 1, 1).toString('base64') }, 'message'),
    desc: 'message of 64 KiB + 1',
    status: 413,
    code: 'payload_too_large',
  },
];

const verifyCases: Case[] = [
  bad('POST', '/v1/keys/sig/verify', { message: MSG }, 'signature'),
  bad('POST', '/v1/keys/sig/verify', { signature: SIG }, ONE_OF),
  bad('POST', '/v1/keys/sig/verify', { message: MSG, digest: MSG, signature: SIG }, ONE_OF),
  bad('POST', '/v1/keys/sig/verify', { message: MSG, signature: 5 }, 'signature'),
  bad('POST', '/v1/keys/sig/verify', { message: 5, signature: b64('s') }, 'message'),
  ...BAD_BASE64.map((s) => bad('POST', '/v1/keys/sig/verify', { message: MSG, signature: s }, 'signature')),
  ...BAD_BASE64.map((m) => bad('POST', '/v1/keys/sig/verify', { message: m, signature: b64('s') }, 'message')),
  ...BAD_BASE64.map((d) => bad('POST', '/v1/keys/sig/verify', { digest: d, signature: b64('s') }, 'digest')),
  bad('POST', '/v1/keys/sig/verify', { message: MSG, signature: b64('s'), keyVersion: 0 }, 'keyVersion'),
  bad('POST', '/v1/keys/sig/verify', { message: MSG, signature: b64('s'), keyVersion: '1' }, 'keyVersion'),
  bad('POST', '/v1/keys/sig/verify', { message: MSG, signature: b64('s'), keyVersion: 1.5 }, 'keyVersion'),
  bad('POST', '/v1/keys/sig/verify', { message: MSG, signature: b64('s'), valid: true }, 'valid'),
  bad('POST', '/v1/keys/sig/verify', [MSG], 'body'),
];

const macCases: Case[] = [
  bad('POST', '/v1/keys/hm/mac', {}, 'message'),
  bad('POST', '/v1/keys/hm/mac', { message: 1 }, 'message'),
  bad('POST', '/v1/keys/hm/mac', { message: null }, 'message'),
  ...BAD_BASE64.map((message) => bad('POST', '/v1/keys/hm/mac', { message }, 'message')),
  bad('POST', '/v1/keys/hm/mac', { message: MSG, algorithm: 'hmac-sha512' }, 'algorithm'),
  bad('POST', '/v1/keys/hm/mac', { digest: MSG }, /^(digest|message): /),
  bad('POST', '/v1/keys/hm/mac', [MSG], 'body'),
  {
    ...bad('POST', '/v1/keys/hm/mac', { message: Buffer.alloc(64 * 1024 + 1, 1).toString('base64') }, 'message'),
    desc: 'message of 64 KiB + 1',
    status: 413,
    code: 'payload_too_large',
  },
  bad('POST', '/v1/keys/hm/verify-mac', {}, /^(message|mac): /),
  bad('POST', '/v1/keys/hm/verify-mac', { message: MSG }, 'mac'),
  bad('POST', '/v1/keys/hm/verify-mac', { mac: MAC }, 'message'),
  bad('POST', '/v1/keys/hm/verify-mac', { message: MSG, mac: 1 }, 'mac'),
  bad('POST', '/v1/keys/hm/verify-mac', { message: true, mac: MAC }, 'message'),
  ...BAD_BASE64.map((m) => bad('POST', '/v1/keys/hm/verify-mac', { message: MSG, mac: m }, 'mac')),
  ...BAD_BASE64.map((m) => bad('POST', '/v1/keys/hm/verify-mac', { message: m, mac: MAC }, 'message')),
  bad('POST', '/v1/keys/hm/verify-mac', { message: MSG, mac: MAC, keyVersion: 1 }, 'keyVersion'),
  bad('POST', '/v1/keys/hm/verify-mac', [MSG, MAC], 'body'),
  {
    ...bad('POST', '/v1/keys/hm/verify-mac', { message: Buffer.alloc(64 * 1024 + 1, 1).toString('base64'), mac: MAC }, 'message'),
    desc: 'message of 64 KiB + 1',
    status: 413,
    code: 'payload_too_large',
  },
];

const publicKeyCases: Case[] = [
  ...['0', '-1', 'abc', '1.5', '2147483649', ''].map((v) =>
    bad('GET', `/v1/keys/sig/public-key?version=${v}`, undefined, 'querystring.version'),
  ),
  bad('GET', '/v1/keys/sig/public-key?version=1&version=2', undefined, 'querystring.version'),
  bad('GET', '/v1/keys/sig/public-key?format=jwk', undefined, 'querystring.format'),
];

const principalOk = { id: 'svc-new', kind: 'service' };
const principalCases: Case[] = [
  bad('POST', '/v1/principals', {}, /^(id|kind): /),
  bad('POST', '/v1/principals', { kind: 'service' }, 'id'),
  bad('POST', '/v1/principals', { id: 'svc-new' }, 'kind'),
  ...BAD_NAMES.map((id) => bad('POST', '/v1/principals', { ...principalOk, id }, 'id')),
  bad('POST', '/v1/principals', { ...principalOk, id: 5 }, 'id'),
  bad('POST', '/v1/principals', { ...principalOk, kind: 'robot' }, 'kind'),
  bad('POST', '/v1/principals', { ...principalOk, kind: null }, 'kind'),
  bad('POST', '/v1/principals', { ...principalOk, roles: 'admin' }, 'roles'),
  bad('POST', '/v1/principals', { ...principalOk, roles: ['root'] }, 'roles[0]'),
  bad('POST', '/v1/principals', { ...principalOk, roles: ['key-user', 7] }, 'roles[1]'),
  bad('POST', '/v1/principals', { ...principalOk, roles: Array.from({ length: 17 }, () => 'auditor') }, 'roles'),
  bad('POST', '/v1/principals', { ...principalOk, environments: 'prod' }, 'environments'),
  bad('POST', '/v1/principals', { ...principalOk, environments: ['moon'] }, 'environments[0]'),
  bad('POST', '/v1/principals', { ...principalOk, environments: Array.from({ length: 9 }, () => 'dev') }, 'environments'),
  bad('POST', '/v1/principals', { ...principalOk, teams: 'team-a' }, 'teams'),
  bad('POST', '/v1/principals', { ...principalOk, teams: ['Team A'] }, 'teams[0]'),
  bad('POST', '/v1/principals', { ...principalOk, teams: ['team-a', '../x'] }, 'teams[1]'),
  bad('POST', '/v1/principals', { ...principalOk, teams: Array.from({ length: 65 }, (_, i) => `t${i}`) }, 'teams'),
  bad('POST', '/v1/principals', { ...principalOk, token: 'kw_x' }, 'token'),
  bad('POST', '/v1/principals', { ...principalOk, admin: true }, 'admin'),
  bad('POST', '/v1/principals', [principalOk], 'body'),
  bad('GET', '/v1/principals?limit=x', undefined, 'querystring.limit'),
  bad('GET', '/v1/principals?limit=0', undefined, 'querystring.limit'),
  bad('GET', '/v1/principals?limit=1001', undefined, 'querystring.limit'),
  bad('GET', '/v1/principals?cursor=', undefined, 'querystring.cursor'),
  bad('GET', '/v1/principals?cursor=!!!', undefined, /^(querystring\.)?cursor: /),
  bad('GET', '/v1/principals?kind=service', undefined, 'querystring.kind'),
  ...['Upper', '.x', '..%2Fx', long(129)].map((id) =>
    bad('GET', `/v1/principals/${id}`, undefined, 'params.id', { desc: `id ${id.slice(0, 20)}` }),
  ),
];

const tokenCases: Case[] = [
  bad('POST', '/v1/principals/svc-a/tokens', { ttl: 30 }, 'ttl'),
  bad('POST', '/v1/principals/svc-a/tokens', { ttl: '30' }, 'ttl'),
  bad('POST', '/v1/principals/svc-a/tokens', { ttl: '30w' }, 'ttl'),
  bad('POST', '/v1/principals/svc-a/tokens', { ttl: '0d' }, 'ttl'),
  bad('POST', '/v1/principals/svc-a/tokens', { ttl: '-1d' }, 'ttl'),
  bad('POST', '/v1/principals/svc-a/tokens', { ttl: null }, 'ttl'),
  bad('POST', '/v1/principals/svc-a/tokens', { description: long(257) }, 'description'),
  bad('POST', '/v1/principals/svc-a/tokens', { description: 1 }, 'description'),
  bad('POST', '/v1/principals/svc-a/tokens', { ttl: '1d', roles: ['admin'] }, 'roles'),
  bad('POST', '/v1/principals/svc-a/tokens', { token: 'kw_chosen-by-client' }, 'token'),
  bad('POST', '/v1/principals/svc-a/tokens', [], 'body'),
  bad('POST', '/v1/principals/svc-a/tokens', '1d', 'body'),
  ...['Upper', '.x', '..%2Fx', long(129)].map((id) =>
    bad('POST', `/v1/principals/${id}/tokens`, {}, 'params.id', { desc: `id ${id.slice(0, 20)}` }),
  ),
  ...['not-a-uuid', '1', 'ABCDEF00-0000-4000-8000-00000000000A', `${UUID}0`, '..%2Fx'].map((id) =>
    bad('DELETE', `/v1/tokens/${id}`, undefined, 'params.tokenId', { desc: `token id ${id}` }),
  ),
];

const grantOk = { principal: 'svc-a', operations: ['decrypt'] };
const grantCases: Case[] = [
  bad('POST', '/v1/keys/enc/grants', {}, /^(principal|operations): /),
  bad('POST', '/v1/keys/enc/grants', { operations: ['decrypt'] }, 'principal'),
  bad('POST', '/v1/keys/enc/grants', { principal: 'svc-a' }, 'operations'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, principal: 1 }, 'principal'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, principal: 'SVC-A' }, 'principal'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, principal: '../admin' }, 'principal'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, principal: long(129) }, 'principal'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, operations: 'decrypt' }, 'operations'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, operations: [] }, 'operations'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, operations: ['destroy'] }, 'operations[0]'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, operations: ['decrypt', 'DECRYPT'] }, 'operations[1]'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, operations: [1] }, 'operations[0]'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, operations: Array.from({ length: 17 }, () => 'decrypt') }, 'operations'),
  bad('POST', '/v1/keys/enc/grants', { ...grantOk, expiresAt: '2030-01-01T00:00:00Z' }, 'expiresAt'),
  bad('POST', '/v1/keys/enc/grants', [grantOk], 'body'),
  ...['not-a-uuid', '1', `${UUID}0`, '..%2Fx'].map((id) =>
    bad('DELETE', `/v1/keys/enc/grants/${id}`, undefined, 'params.grantId', { desc: `grant id ${id}` }),
  ),
];

/** Malformed, empty, mistyped bodies on every endpoint that takes a body. */
const BODY_ENDPOINTS: [string, string][] = [
  ['POST', '/v1/sys/init'],
  ['POST', '/v1/sys/unseal'],
  ['POST', '/v1/sys/seal'],
  ['POST', '/v1/keys'],
  ['PATCH', '/v1/keys/enc'],
  ['POST', '/v1/keys/enc/rotate'],
  ['POST', '/v1/keys/enc/disable'],
  ['POST', '/v1/keys/enc/versions/1/deactivate'],
  ['POST', '/v1/keys/enc/versions/1/compromise'],
  ['POST', '/v1/keys/enc/schedule-deletion'],
  ['POST', '/v1/keys/enc/encrypt'],
  ['POST', '/v1/keys/enc/decrypt'],
  ['POST', '/v1/keys/enc/rewrap'],
  ['POST', '/v1/keys/enc/data-key'],
  ['POST', '/v1/keys/sig/sign'],
  ['POST', '/v1/keys/sig/verify'],
  ['POST', '/v1/keys/hm/mac'],
  ['POST', '/v1/keys/hm/verify-mac'],
  ['POST', '/v1/principals'],
  ['POST', '/v1/principals/svc-a/tokens'],
  ['POST', '/v1/keys/enc/grants'],
];
/** Endpoints where the body may be left out entirely (API.md: optional body). */
const OPTIONAL_BODY = new Set([
  '/v1/sys/seal',
  '/v1/keys/enc/rotate',
  '/v1/keys/enc/disable',
  '/v1/keys/enc/versions/1/deactivate',
  '/v1/keys/enc/schedule-deletion',
  '/v1/keys/enc/data-key',
  '/v1/principals/svc-a/tokens',
]);

const malformedCases: Case[] = BODY_ENDPOINTS.flatMap(([method, url]) => [
  { ...bad(method, url, '{"name":', 'body'), desc: 'truncated JSON' },
  { ...bad(method, url, '{"name": "x",}', 'body'), desc: 'trailing comma' },
  { ...bad(method, url, "{'name': 'x'}", 'body'), desc: 'single quotes' },
  { ...bad(method, url, '{"a":1} {"b":2}', 'body'), desc: 'two documents' },
  { ...bad(method, url, '\u0000\u0001', 'body'), desc: 'binary junk' },
  { ...bad(method, url, '[]', 'body'), desc: 'a JSON array' },
  { ...bad(method, url, '"x"', 'body'), desc: 'a JSON string' },
  { ...bad(method, url, '42', 'body'), desc: 'a JSON number' },
  { ...bad(method, url, 'true', 'body'), desc: 'a JSON boolean' },
  ...(OPTIONAL_BODY.has(url)
    ? []
    : [
        { ...bad(method, url, 'null', 'body'), desc: 'JSON null' },
        { ...bad(method, url, '', 'body'), desc: 'an empty body with content-type json' },
        { ...bad(method, url, '   \n', 'body'), desc: 'a whitespace body with content-type json' },
      ]),
  {
    ...bad(method, url, '{"a":1}', 'content-type'),
    headers: { 'content-type': 'text/plain' },
    desc: 'content-type text/plain',
  },
  {
    ...bad(method, url, '<a/>', 'content-type'),
    headers: { 'content-type': 'application/xml' },
    desc: 'content-type application/xml',
  },
  {
    ...bad(method, url, 'a=1', 'content-type'),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    desc: 'content-type form',
  },
]);

const TABLE: [string, Case[]][] = [
  ['sys', sysCases],
  ['POST /v1/keys', createCases],
  ['GET /v1/keys', listCases],
  ['key name in the path', pathNameCases],
  ['X-Keyward-Namespace', namespaceCases],
  ['PATCH /v1/keys/{name}', patchCases],
  ['rotate, enable, disable, deactivate', lifecycleCases],
  ['encrypt', encryptCases],
  ['batch envelope', batchEnvelopeCases],
  ['decrypt and rewrap', decryptCases],
  ['data-key', dataKeyCases],
  ['sign', signCases],
  ['verify', verifyCases],
  ['mac and verify-mac', macCases],
  ['public-key', publicKeyCases],
  ['principals', principalCases],
  ['tokens', tokenCases],
  ['grants', grantCases],
  ['malformed bodies', malformedCases],
];

describe('bad input answers 400 invalid_request naming the field', () => {
  for (const [group, cases] of TABLE) {
    describe(group, () => {
      it.each(cases)('$method $url $desc', async (c) => {
        const r = await send(c);
        expectError(r, c.status, c.code, c.field);
      });
    });
  }
});

describe('huge bodies', () => {
  const mib = 1024 * 1024;
  const huge = (bytes: number, field = 'name') => `{"${field}":"${'A'.repeat(bytes)}"}`;
  const cases: [string, string, string][] = [
    ['POST', '/v1/keys', huge(20 * mib)],
    ['POST', '/v1/keys', huge(2 * mib)],
    ['PATCH', '/v1/keys/enc', huge(20 * mib, 'description')],
    ['POST', '/v1/keys/enc/encrypt', huge(20 * mib, 'plaintext')],
    ['POST', '/v1/keys/enc/decrypt', `{"items":[${`{"ciphertext":"${'A'.repeat(mib)}"},`.repeat(20)}{}]}`],
    ['POST', '/v1/keys/sig/sign', huge(20 * mib, 'message')],
    ['POST', '/v1/principals', huge(20 * mib, 'id')],
    ['POST', '/v1/sys/unseal', huge(20 * mib, 'share')],
    ['POST', '/v1/keys', `{"name":${'['.repeat(2 * mib)}`],
  ];
  it.each(cases)('%s %s of %# answers 413 payload_too_large', async (method, url, body) => {
    const r = await h.call(method, url, body);
    expectError(r, 413, 'payload_too_large', 'body');
  });

  it('a deeply nested body within the limit is a 400, not a crash', async () => {
    const depth = 100_000;
    const r = await h.call('POST', '/v1/keys', `{"algorithm":"aes-256-gcm","owner":"o","name":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
    expectError(r, 400, 'invalid_request', /^(body|name): /);
  });
});

describe('odd URLs', () => {
  it('`..` as a whole path segment never reaches a key route', async () => {
    for (const url of ['/v1/keys/%2e%2e', '/v1/keys/%2e%2e/encrypt', '/v1/keys/%2E%2E/rotate', '/v1/principals/%2e%2e/tokens']) {
      const r = await h.call('POST', url, {});
      // URL normalization resolves the segment before routing (404 no route); a router that keeps it must refuse the name (400).
      if (r.status === 404) expectError(r, 404, 'not_found', /^no route /);
      else expectError(r, 400, 'invalid_request', /^params\.(name|id): /);
    }
  });

  it('bad percent-encoding answers 400 with the standard error shape and X-Request-Id', async () => {
    for (const url of ['/v1/keys/%zz', '/v1/keys/enc%c3/encrypt', '/v1/principals/%']) {
      expectError(await h.call('GET', url), 400, 'invalid_request', /^path: /);
    }
  });

  it('a path parameter far over any limit answers 400 with the standard error shape and X-Request-Id', async () => {
    expectError(await h.call('GET', `/v1/keys/${long(5000)}`), 400, 'invalid_request', /^(path|params\.name): /);
  });
});

describe('init on a file-sealed server', () => {
  it('answers 409 conflict to a valid body (validation passed, the handler refused)', async () => {
    const r = await h.call('POST', '/v1/sys/init', { shares: 5, threshold: 3 }, null);
    expectError(r, 409, 'conflict');
  });

  it('validates before authenticating: a bad body without a credential is still a 400', async () => {
    const r = await h.call('POST', '/v1/keys', { ...createOk, name: 'Bad' }, null);
    expectError(r, 400, 'invalid_request', 'name');
  });
});

describe('bad input writes nothing', () => {
  it('keys, versions, metadata, principals, tokens and grants are exactly as before', async () => {
    const after = await snapshot();
    expect(after.api).toEqual(before.api);
    expect(after.db).toEqual(before.db);
    const enc = after.api['key:enc'] as Record<string, any>;
    expect(enc.primaryVersion).toBe(2);
    expect(enc.versions.map((v: any) => [v.version, v.state])).toEqual([
      [1, 'active'],
      [2, 'active'],
    ]);
    expect((after.api['list:default'] as KeyList).keys.map((k) => k.name)).toEqual(['enc', 'hm', 'sig']);
    expect((after.api['list:team-b'] as KeyList).keys).toEqual([]);
    expect((after.api.principals as { principals: PrincipalView[] }).principals.map((p) => p.id)).not.toContain('svc-new');
    expect((await h.call('GET', '/v1/keys/new-key')).status).toBe(404);
  });
});

describe('the longest valid names work in the path', () => {
  it('a 128-character key name and principal id are addressable', async () => {
    const name = `k${long(127, '7')}`;
    await h.createKey(name);
    expect((await h.call('GET', `/v1/keys/${name}`)).body.name).toBe(name);
    expect((await h.call('POST', `/v1/keys/${name}/encrypt`, { plaintext: b64('x') })).status).toBe(200);
    const id = `p${long(127, '8')}`;
    expect((await h.call('POST', '/v1/principals', { id, kind: 'service' })).status).toBe(201);
    expect((await h.call('GET', `/v1/principals/${id}`)).body.id).toBe(id);
    expect((await h.call('POST', `/v1/principals/${id}/tokens`, {})).status).toBe(201);
    expect((await h.call('GET', `/v1/principals?cursor=${id}`)).status).toBe(200);
  });
});

describe('batch: one malformed item fails alone', () => {
  it('encrypt: the bad items get their own invalid_request, the good ones succeed', async () => {
    const r = await h.call('POST', '/v1/keys/enc/encrypt', {
      items: [
        { plaintext: b64('good one') },
        { plaintext: 'abc' },
        { plaintext: 1 },
        { plaintext: b64('x'), extra: 1 },
        {},
        { plaintext: '-_-_' },
        { plaintext: b64('x'), context: { a: 1 } },
        { plaintext: Buffer.alloc(64 * 1024 + 1).toString('base64') },
        { plaintext: b64('good two'), context: { t: '1' } },
      ],
    });
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    const items = r.body.items as any[];
    expect(items).toHaveLength(9);
    for (const i of [0, 8]) expect(items[i], `item ${i}`).toMatchObject({ ciphertext: expect.any(String), keyVersion: 2 });
    const expected: [number, string, string][] = [
      [1, 'invalid_request', 'plaintext'],
      [2, 'invalid_request', 'plaintext'],
      [3, 'invalid_request', 'extra'],
      [4, 'invalid_request', 'plaintext'],
      [5, 'invalid_request', 'plaintext'],
      [6, 'invalid_request', 'context.a'],
      [7, 'payload_too_large', 'plaintext'],
    ];
    for (const [i, code, field] of expected) {
      expect(Object.keys(items[i]), `item ${i}`).toEqual(['error']);
      expect(items[i].error.code, `item ${i}`).toBe(code);
      expect(items[i].error.message.startsWith(`items[${i}]: ${field}: `), `item ${i}: ${items[i].error.message}`).toBe(true);
    }
    const back = await h.call('POST', '/v1/keys/enc/decrypt', { ciphertext: items[8].ciphertext, context: { t: '1' } });
    expect(back.body.plaintext).toBe(b64('good two'));
  });

  it('a non-object item fails alone too', async () => {
    const r = await h.call('POST', '/v1/keys/enc/encrypt', { items: [{ plaintext: b64('good') }, 42, null, 'x', []] });
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    const items = r.body.items as any[];
    expect(items[0]).toMatchObject({ ciphertext: expect.any(String) });
    for (const i of [1, 2, 3, 4]) {
      expect(items[i].error.code, `item ${i}`).toBe('invalid_request');
      expect(items[i].error.message, `item ${i}`).toMatch(new RegExp(`^items\\[${i}\\]: `));
    }
  });

  for (const op of ['decrypt', 'rewrap'] as const) {
    it(`${op}: the bad items get their own invalid_request, the good ones succeed`, async () => {
      const r = await h.call('POST', `/v1/keys/enc/${op}`, {
        items: [
          { ciphertext },
          { ciphertext: 1 },
          {},
          { ciphertext, plaintext: b64('x') },
          { ciphertext, context: 'ctx' },
          { ciphertext: '' },
          { ciphertext: 'garbage' },
          { ciphertext },
        ],
      });
      expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
      const items = r.body.items as any[];
      expect(items).toHaveLength(8);
      for (const i of [0, 7]) {
        expect(items[i].error, `item ${i}`).toBeUndefined();
        expect(items[i].keyVersion, `item ${i}`).toBe(2);
      }
      if (op === 'decrypt') expect(items[0].plaintext).toBe(b64('secret text'));
      const expected: [number, string, string | null][] = [
        [1, 'invalid_request', 'ciphertext'],
        [2, 'invalid_request', 'ciphertext'],
        [3, 'invalid_request', 'plaintext'],
        [4, 'invalid_request', 'context'],
        [5, 'invalid_request', 'ciphertext'],
        [6, 'invalid_ciphertext', null],
      ];
      for (const [i, code, field] of expected) {
        expect(Object.keys(items[i]), `item ${i}`).toEqual(['error']);
        expect(items[i].error.code, `item ${i}`).toBe(code);
        expect(items[i].error.message, `item ${i}`).toMatch(new RegExp(`^items\\[${i}\\]: ${field ?? ''}`));
      }
    });
  }

  it('the batch answers name the real field, never "must match oneOf"', async () => {
    const r = await h.call('POST', '/v1/keys/enc/encrypt', { items: [{ plaintext: b64('x'), ciphertext: 'y' }] });
    expect(r.status).toBe(200);
    expect(r.body.items[0].error.message).toBe('items[0]: ciphertext: is not a known field');
  });
});
