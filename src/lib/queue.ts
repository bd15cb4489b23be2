/**
 * A bounded async channel: producers `await push()` while it is full, consumers iterate.
 * Connects pipeline stages that run at different concurrency (checkers -> transfers)
 * without letting memory grow.
 */
export class BoundedQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private closed = false;
  private failure: { err: unknown } | undefined;
  private readonly waitingConsumers: Array<() => void> = [];
  private readonly waitingProducers: Array<() => void> = [];

  constructor(private readonly capacity: number) {}

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed) {
      await new Promise<void>((r) => this.waitingProducers.push(r));
    }
    if (this.closed) throw new Error('push on a closed queue');
    this.items.push(item);
    this.waitingConsumers.shift()?.();
  }

  /** No more items will be pushed; consumers finish what is queued. */
  close(): void {
    this.closed = true;
    for (const w of this.waitingConsumers.splice(0)) w();
    for (const w of this.waitingProducers.splice(0)) w();
  }

  /** Consumers stop with this error; producers' pushes reject. */
  fail(err: unknown): void {
    this.failure ??= { err };
    this.items.length = 0;
    this.close();
  }

  get size(): number {
    return this.items.length;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.failure) throw this.failure.err;
      const item = this.items.shift();
      if (item !== undefined) {
        this.waitingProducers.shift()?.();
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((r) => this.waitingConsumers.push(r));
    }
  }
}

/**
 * Iterates `source` up to `capacity` items ahead of the consumer, so a paged listing
 * fetches its next page while the current one is used — and two listings merged by one
 * consumer (a march) are fetched at the same time instead of in turns. Memory is bounded
 * by `capacity`; stopping early stops the source.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, capacity: number): AsyncGenerator<T> {
  const queue = new BoundedQueue<T>(capacity);
  let stopped = false;
  const producing = (async () => {
    try {
      for await (const item of source) {
        if (stopped) return;
        await queue.push(item);
      }
      queue.close();
    } catch (err) {
      queue.fail(err);
    }
  })();
  try {
    yield* queue;
  } finally {
    stopped = true;
    queue.close(); // a producer waiting to push wakes up and stops
    await producing;
  }
}
