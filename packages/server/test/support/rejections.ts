import { expect } from 'vitest';

/** What `promise` rejects with, checked to be an instance of `type`; fails the test when it resolves or rejects with anything else. */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}
