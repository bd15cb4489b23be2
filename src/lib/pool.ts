/**
 * Runs `worker` over every item of `source` with at most `concurrency` in flight.
 * Workers pull from one shared iterator (lib-storage's pattern), so memory is bounded by
 * `concurrency` however long the source is. Rejects with the first error after every
 * in-flight call has settled; stops pulling new items once one failed or the signal fired.
 */
export async function forEachConcurrent<T>(
  source: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  worker: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const it = (Symbol.asyncIterator in source
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (source as Iterable<T>)[Symbol.iterator]()) as AsyncIterator<T> | Iterator<T>;
  let failed: { err: unknown } | undefined;
  let pulling: Promise<unknown> = Promise.resolve();
  // Serialise next() calls: async generators queue them anyway, sync iterators need it.
  const next = (): Promise<IteratorResult<T>> => {
    const p = pulling.then(() => it.next());
    pulling = p.catch(() => undefined);
    return p;
  };
  const run = async (): Promise<void> => {
    while (!failed && !signal?.aborted) {
      let r: IteratorResult<T>;
      try {
        r = await next();
      } catch (err) {
        failed ??= { err };
        return;
      }
      if (r.done) return;
      try {
        await worker(r.value);
      } catch (err) {
        failed ??= { err };
        return;
      }
    }
  };
  const n = Math.max(1, Math.floor(concurrency));
  await Promise.allSettled(Array.from({ length: n }, run));
  if (failed) {
    await it.return?.();
    throw failed.err;
  }
  if (signal?.aborted) {
    await it.return?.();
    const r: unknown = signal.reason;
    throw r instanceof Error ? r : new Error('aborted');
  }
}
