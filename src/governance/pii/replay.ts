/**
 * Scrubbed output kept from classification's content scan, for the transfer of the same
 * file. Classification runs the scrubber over the first MiB of a file to count its PII; when
 * that is the whole file and the file must then be scrubbed on its way out, the scrub would
 * do the same work again on the same bytes. The scan keeps its output here (bounded), and
 * the file's transform replays it — only after checking that the bytes it receives are the
 * very bytes that were scanned. Anything else (the file changed, a retry, a segment of a
 * followed file) is scrubbed afresh, so what is written never depends on the cache.
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface Scanned {
  /** The bytes scanned: the whole file. */
  readonly input: Buffer;
  /** What the scrubber wrote for them. */
  readonly output: Buffer;
  readonly report: Record<string, unknown>;
}

/** Scans kept for their files' transfers, by key, oldest dropped first past `maxBytes` (inputs and outputs). */
export class ScanCache {
  private readonly byKey = new Map<string, Scanned>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  put(key: string, s: Scanned): void {
    this.take(key);
    const size = s.input.length + s.output.length;
    if (size > this.maxBytes) return;
    this.byKey.set(key, s);
    this.bytes += size;
    for (const [k, old] of this.byKey) {
      if (this.bytes <= this.maxBytes) break;
      this.byKey.delete(k);
      this.bytes -= old.input.length + old.output.length;
    }
  }

  /** The scan of `key` if one is kept, which is then no longer kept (a retry scrubs afresh). */
  take(key: string): Scanned | undefined {
    const s = this.byKey.get(key);
    if (!s) return undefined;
    this.byKey.delete(key);
    this.bytes -= s.input.length + s.output.length;
    return s;
  }

  get size(): number {
    return this.byKey.size;
  }
}

/**
 * Replays `scanned.output` when the bytes written are exactly `scanned.input`; otherwise
 * runs them through `fallback()` (a fresh scrubber). Holds at most the scanned size plus
 * one chunk before it knows which.
 */
export class ReplayTransform extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Set once the input is known to differ: the rest streams through it. */
  private scrubber: { transform: Transform; report(): Record<string, unknown> } | undefined;
  private ended: Record<string, unknown> | undefined;

  constructor(
    private readonly scanned: Scanned,
    private readonly fallback: () => { transform: Transform; report(): Record<string, unknown> },
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.scrubber) return void this.scrubber.transform.write(chunk, cb);
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes <= this.scanned.input.length) return cb();
    this.divert(cb);
  }

  override _flush(cb: TransformCallback): void {
    if (!this.scrubber && this.heldBytes === this.scanned.input.length && Buffer.concat(this.held).equals(this.scanned.input)) {
      this.held = [];
      this.ended = this.scanned.report;
      if (this.scanned.output.length > 0) this.push(this.scanned.output);
      return cb();
    }
    if (!this.scrubber) return this.divert(() => this.finish(cb));
    this.finish(cb);
  }

  report(): Record<string, unknown> {
    return this.ended ?? this.scrubber?.report() ?? {};
  }

  /** From here on the input goes through a fresh scrubber, starting with what was held. */
  private divert(cb: TransformCallback): void {
    const s = (this.scrubber = this.fallback());
    s.transform.on('data', (c: Buffer) => this.push(c));
    s.transform.once('error', (err) => this.destroy(err));
    const held = Buffer.concat(this.held);
    this.held = [];
    s.transform.write(held, cb);
  }

  private finish(cb: TransformCallback): void {
    const t = this.scrubber!.transform;
    t.once('end', () => cb());
    t.end();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.scrubber?.transform.destroy();
    cb(err);
  }
}
