/**
 * A budget of bytes held in memory at once, shared by every transfer of a run: a file read
 * whole and each chunk of a large upload take their size before their bytes are read and
 * give it back once stored. With many transfers in flight (a long-latency link wants many),
 * memory stays at the budget instead of growing with transfers × chunk size × chunks in
 * flight. Waiters are served in order; a request larger than the whole budget waits until
 * nothing else is held, then goes alone.
 */
export class ByteBudget {
  private held = 0;
  private readonly waiting: Array<{ n: number; go: () => void }> = [];

  constructor(readonly capacity: number) {}

  /** Resolves with the function that gives the bytes back (call it exactly once). */
  async take(bytes: number, signal?: AbortSignal): Promise<() => void> {
    const n = Math.min(Math.max(0, bytes), this.capacity);
    if (this.waiting.length > 0 || this.held + n > this.capacity) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const w = {
          n,
          go: (): void => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = (): void => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          this.wake();
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(w);
      });
    } else {
      this.held += n;
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.held -= n;
      this.wake();
    };
  }

  /** Bytes held now. */
  get inUse(): number {
    return this.held;
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.held + this.waiting[0]!.n <= this.capacity) {
      const w = this.waiting.shift()!;
      this.held += w.n;
      w.go();
    }
  }
}
