import { KeywardError } from '@keyward/wire';

/**
 * The fields a background failure is logged with. Only Keyward's own errors
 * carry their message: it is written for API clients, names the key or job
 * at fault and never holds a secret. Any other error (a driver's, the file
 * system's) is logged by type and code alone, as its message may quote a
 * connection string, a path or a value.
 */
export function errorFields(error: unknown): { err: { type: string; code: unknown; message?: string } } {
  const err: { type: string; code: unknown; message?: string } = {
    type: error instanceof Error ? error.name : typeof error,
    code: (error as { code?: unknown } | null)?.code,
  };
  if (error instanceof KeywardError) err.message = error.message;
  return { err };
}
