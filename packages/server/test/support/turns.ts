/** Whether `promise` has settled after the event loop has taken `turns` turns (it may be still pending). */
export async function settledAfter(promise: Promise<unknown>, turns: number): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}
