/**
 * Response schemas of the routes on the hot path and of the key views.
 *
 * Each compiles to a serializer (serialization.ts) that writes exactly the
 * listed properties: faster than JSON.stringify for the inventory's pages of
 * 100 keys, and a property added to a view by mistake is never sent — a
 * response carries what its schema says and nothing else. They also
 * document the answers in `/v1/openapi.json`. Keep them in step with the
 * views in @keyward/wire (types.ts); the test suite serializes every answer
 * both ways and fails on any difference (serialization.ts).
 */

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;
const boolean = { type: 'boolean' } as const;

export const versionViewSchema = {
  type: 'object',
  required: [
    'version',
    'state',
    'createdAt',
    'activatedAt',
    'deactivatedAt',
    'compromisedAt',
    'destroyedAt',
    'uses',
    'fingerprint',
    'publicKey',
    'trigger',
    'activationDate',
    'origin',
  ],
  properties: {
    version: integer,
    state: string,
    createdAt: string,
    activatedAt: nullableString,
    deactivatedAt: nullableString,
    compromisedAt: nullableString,
    destroyedAt: nullableString,
    uses: integer,
    fingerprint: string,
    publicKey: nullableString,
    trigger: string,
    activationDate: nullableString,
    origin: string,
  },
} as const;

export const keyViewSchema = {
  type: 'object',
  required: [
    'id',
    'name',
    'namespace',
    'algorithm',
    'usage',
    'state',
    'owner',
    'class',
    'environment',
    'description',
    'tags',
    'rotationPeriod',
    'maxUsesPerVersion',
    'nextRotationAt',
    'primaryVersion',
    'exportable',
    'protection',
    'deletionWindowDays',
    'deletionDate',
    'createdAt',
    'updatedAt',
    'minDecryptionVersion',
    'prepublishPeriod',
    'originatorPeriod',
    'lastReviewedAt',
    'nextReviewAt',
  ],
  properties: {
    id: string,
    name: string,
    namespace: string,
    algorithm: string,
    usage: string,
    state: string,
    owner: string,
    class: string,
    environment: string,
    description: string,
    tags: { type: 'object', additionalProperties: string },
    rotationPeriod: nullableString,
    maxUsesPerVersion: nullableInteger,
    nextRotationAt: nullableString,
    primaryVersion: integer,
    exportable: boolean,
    protection: string,
    deletionWindowDays: integer,
    deletionDate: nullableString,
    createdAt: string,
    updatedAt: string,
    minDecryptionVersion: integer,
    prepublishPeriod: nullableString,
    originatorPeriod: nullableString,
    lastReviewedAt: nullableString,
    nextReviewAt: nullableString,
    /** Only on answers about one key (GET /v1/keys/{name}, create, rotate). */
    versions: { type: 'array', items: versionViewSchema },
  },
} as const;

export const keyListSchema = {
  type: 'object',
  required: ['keys', 'nextCursor'],
  properties: { keys: { type: 'array', items: keyViewSchema }, nextCursor: nullableString },
} as const;

const itemError = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: string, message: string },
} as const;

/**
 * The answer of an operation with a batch form: the single result's
 * properties, or `items` — one result or `{error}` per item, in order.
 */
function batchable(result: { properties: Record<string, object> }): object {
  return {
    type: 'object',
    description: 'The result of a single operation, or `items`: one result or `error` per item of a batch, in order.',
    properties: {
      ...result.properties,
      items: { type: 'array', items: { type: 'object', properties: { ...result.properties, error: itemError } } },
    },
  };
}

const ciphertextResult = { properties: { ciphertext: string, keyVersion: integer } };

export const encryptResponse = batchable(ciphertextResult);
export const decryptResponse = batchable({ properties: { plaintext: string, keyVersion: integer } });

export const dataKeyResponse = {
  type: 'object',
  required: ['ciphertext', 'keyVersion'],
  properties: { plaintext: string, ciphertext: string, keyVersion: integer },
} as const;

export const signResponse = {
  type: 'object',
  required: ['signature', 'keyVersion'],
  properties: { signature: string, keyVersion: integer },
} as const;

export const macResponse = {
  type: 'object',
  required: ['mac', 'keyVersion'],
  properties: { mac: string, keyVersion: integer },
} as const;

/** verify and verify-mac: `keyVersion` is the version that matched, null when none did. */
export const verifyResponse = {
  type: 'object',
  required: ['valid', 'keyVersion'],
  properties: { valid: boolean, keyVersion: nullableInteger },
} as const;
