import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

export type ValidationIssue = Pick<ErrorObject, 'instancePath' | 'keyword' | 'params' | 'message'>;

/**
 * Request bodies are validated strictly: no type coercion, no defaults, and
 * unknown fields rejected (not silently dropped). Query strings and path
 * parameters arrive as text, so those are coerced to the declared types.
 */
const strict = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false });
const coercing = new Ajv({ allErrors: false, coerceTypes: true, useDefaults: false, removeAdditional: false, strict: false });

/** Marks a body schema that accepts one item or `{ items: [...] }` (API.md, batch form). */
export const BATCH_OF = 'x-keyward-batch-of';
export const MAX_BATCH_ITEMS = 1000;

const batchEnvelope = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  // Each item is validated on its own (compileItemValidator), so even a non-object item fails alone (API.md, batch form).
  properties: { items: { type: 'array', minItems: 1, maxItems: MAX_BATCH_ITEMS } },
} as const;

/** The body schema of an operation with a batch form: one item, or up to 1000 items each validated on their own. */
export function batchable(item: object): object {
  return { [BATCH_OF]: item, oneOf: [item, batchEnvelope] };
}

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

export function compileValidator(schema: Record<string, unknown>, httpPart: string | undefined): Validator {
  const item = schema[BATCH_OF];
  if (typeof item === 'object' && item !== null) {
    // Validate whichever form was sent, so errors name the real field instead of "must match oneOf".
    const single = strict.compile(item);
    const batch = strict.compile(batchEnvelope);
    const validate: Validator = (data) => {
      const chosen = typeof data === 'object' && data !== null && 'items' in data ? batch : single;
      const ok = chosen(data);
      validate.errors = chosen.errors ?? null;
      return ok;
    };
    return validate;
  }
  return (httpPart === 'body' ? strict : coercing).compile(schema);
}

/** A validator for one item of a batch, so one bad item fails alone. */
export function compileItemValidator(schema: object): ValidateFunction {
  return strict.compile(schema);
}

/** `/items/3/plaintext` → `items[3].plaintext`. */
function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter((p) => p.length > 0);
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path === '' ? part : `${path}.${part}`), '');
}

/** One message naming the field, e.g. `algorithm: must be one of …`. */
export function formatValidationError(issue: ValidationIssue, part: string): string {
  const { keyword, params, instancePath } = issue;
  const prefix = (field: string) => (field === '' ? part : part === 'body' ? field : `${part}.${field}`);
  switch (keyword) {
    case 'required':
      return `${prefix(fieldPath(instancePath, String(params.missingProperty)))}: is required`;
    case 'additionalProperties':
      return `${prefix(fieldPath(instancePath, String(params.additionalProperty)))}: is not a known field`;
    case 'enum':
      return `${prefix(fieldPath(instancePath))}: must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'oneOf':
      // Only sign and verify bodies use oneOf: message and digest are alternatives.
      return `${prefix(fieldPath(instancePath))}: send exactly one of message and digest`;
    case 'propertyNames':
      return `${prefix(fieldPath(instancePath))}: has an invalid key`;
    default:
      return `${prefix(fieldPath(instancePath))}: ${issue.message ?? 'is invalid'}`;
  }
}
