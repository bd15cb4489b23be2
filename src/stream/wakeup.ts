/**
 * A lane's sleep between rounds that something can cut short: an upload that settled, a
 * kernel event on a followed file, the signal (which rejects, as lib/abort's sleep does).
 * A wake while nobody sleeps is kept for the next sleep, so none is lost between rounds.
 */
export class Wakeup {
  private pending = false;
  private resolve: (() => void) | undefined;

  constructor(private readonly signal: AbortSignal) {}

  wake(): void {
    this.pending = true;
    this.resolve?.();
  }

  /** Sleeps up to `ms`; returns early on a wake (or at once for one that came meanwhile). */
  sleep(ms: number): Promise<void> {
    const { signal } = this;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(reasonOf(signal));
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.resolve = undefined;
        this.pending = false;
        resolve();
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        this.resolve = undefined;
        reject(reasonOf(signal));
      };
      // even a wake already pending yields to the event loop (setTimeout 0), so I/O and signals get in
      const timer = setTimeout(done, this.pending ? 0 : ms);
      signal.addEventListener('abort', onAbort, { once: true });
      this.resolve = done;
    });
  }

  close(): void {
    this.resolve = undefined;
  }
}

function reasonOf(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error('aborted');
}
