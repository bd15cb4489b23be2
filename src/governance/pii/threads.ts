/**
 * Scrubbing on worker threads. A scrubber is synchronous JavaScript and holds a core while
 * it works; on the thread that also reads, hashes and uploads, every file of a run shares
 * that one core. Here each file's stream goes to one of a few threads (a scrubber keeps
 * state across a file, so a file stays on its thread), and files scrub in parallel.
 *
 * The bytes out are those of a scrub on the calling thread (the thread runs the same
 * createScrubber); back-pressure holds (at most WINDOW chunks of a file are in a thread, and
 * Node's Transform holds the write callback while the output is unread); an error in the
 * thread fails that file with the same error type (ScrubInputError, ConfigError; anything
 * else arrives as an InternalError with the same message); a thread that dies fails only
 * the files it had. A stream takes a thread at its first byte, threads start on first use
 * and end after IDLE_MS without work, so an idle process holds none.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InternalError } from '../../core/errors.js';
import { errorFromWire, type FromWorker, type ToWorker, type WorkerSetup } from './thread-protocol.js';

/** The built worker; absent when running from the TypeScript source (then scrubs stay on the calling thread). */
export const WORKER_FILE = fileURLToPath(new URL('./scrub-worker.js', import.meta.url));
/** Chunks of one file in its thread at once: the thread scrubs one while the next is on its way. */
const WINDOW = 2;
/** A thread with no file for this long ends. */
const IDLE_MS = 10_000;

/** `threads: auto`: a thread per core, at most 4; none on one core (a thread there only adds its cost). */
export function autoThreads(cores = availableParallelism()): number {
  return cores < 2 ? 0 : Math.min(4, cores);
}

/** A stream's place on its thread. */
interface Link {
  readonly id: number;
  post(m: ToWorker, transfer?: ArrayBuffer[]): void;
  /** The stream is over: the thread may go idle. */
  leave(): void;
}

interface Lane {
  readonly worker: Worker;
  readonly streams: Map<number, ThreadedScrub>;
  idle: NodeJS.Timeout | undefined;
}

export class ScrubThreads {
  private readonly lanes: Lane[] = [];
  private nextId = 0;
  private startedCount = 0;

  constructor(
    private readonly setup: WorkerSetup,
    /** Threads at most. */
    readonly max: number,
    private readonly file: string = WORKER_FILE,
    /** How long a thread without files lives on. */
    private readonly idleMs: number = IDLE_MS,
  ) {}

  /** Whether the worker file exists (a build, not the source). */
  static available(file: string = WORKER_FILE): boolean {
    return existsSync(file);
  }

  /** Threads running now. */
  get running(): number {
    return this.lanes.length;
  }

  /** Threads started so far. */
  get started(): number {
    return this.startedCount;
  }

  /**
   * A scrubbing stream for one file. It takes a thread (the one with the fewest files, a new
   * one while under `max`) at its first byte or its end, not before: a stream made and never
   * used (its source could not be opened) holds no thread and keeps nothing alive.
   * `discard`: a scan for its report only; the stream outputs nothing.
   */
  open(fileName: string, opts: { discard?: boolean } = {}): { transform: Transform; report(): Record<string, unknown> } {
    const s: ThreadedScrub = new ThreadedScrub(() => this.attach(s, fileName, opts.discard === true));
    return { transform: s, report: () => s.result() };
  }

  private attach(s: ThreadedScrub, fileName: string, discard: boolean): Link {
    let lane = this.lanes.reduce<Lane | undefined>((best, l) => (best === undefined || l.streams.size < best.streams.size ? l : best), undefined);
    if (lane === undefined || (lane.streams.size > 0 && this.lanes.length < this.max)) lane = this.start();
    const id = ++this.nextId;
    lane.streams.set(id, s);
    if (lane.idle) clearTimeout(lane.idle);
    lane.idle = undefined;
    lane.worker.ref();
    const worker = lane.worker;
    worker.postMessage({ op: 'open', id, fileName, ...(discard ? { discard: true } : {}) } satisfies ToWorker);
    return { id, post: (m, transfer) => worker.postMessage(m, transfer), leave: () => this.release(lane, id) };
  }

  /** Ends every thread; files still in one fail. */
  async close(): Promise<void> {
    const lanes = this.lanes.splice(0);
    await Promise.all(lanes.map((l) => l.worker.terminate()));
  }

  private start(): Lane {
    const worker = new Worker(this.file, { workerData: this.setup });
    this.startedCount++;
    const lane: Lane = { worker, streams: new Map(), idle: undefined };
    worker.on('message', (m: FromWorker) => lane.streams.get(m.id)?.onMessage(m));
    const down = (why: string): void => {
      const i = this.lanes.indexOf(lane);
      if (i >= 0) this.lanes.splice(i, 1);
      if (lane.idle) clearTimeout(lane.idle);
      const err = new InternalError(`the PII scrubbing thread stopped (${why})`, { hint: 'run again; if it recurs, set pii.threads: 0 to scrub on the main thread and report the file' });
      for (const s of [...lane.streams.values()]) s.fail(err);
      lane.streams.clear();
    };
    worker.on('error', (err) => down(err.message));
    worker.on('exit', (code) => down(`exit code ${code}`));
    worker.unref();
    this.lanes.push(lane);
    return lane;
  }

  private release(lane: Lane, id: number): void {
    if (!lane.streams.delete(id) || lane.streams.size > 0) return;
    lane.worker.unref();
    lane.idle = setTimeout(() => {
      const i = this.lanes.indexOf(lane);
      if (i < 0 || lane.streams.size > 0) return;
      this.lanes.splice(i, 1);
      void lane.worker.terminate();
    }, this.idleMs);
    lane.idle.unref();
  }
}

/**
 * One file's scrub in a thread, as a Transform. Input chunks are copied and moved to the
 * thread; the write callback waits while WINDOW chunks are there. Output arrives in order
 * and is pushed; the stream ends when the thread reports the scrubber's end.
 */
class ThreadedScrub extends Transform {
  private inThread = 0;
  private waiting: TransformCallback | undefined;
  private flushed: TransformCallback | undefined;
  private report: Record<string, unknown> | undefined;
  /** Set at the first byte or the end (see ScrubThreads.open). */
  private link: Link | undefined;
  private over = false;

  constructor(private readonly attach: () => Link) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.over) return cb(new InternalError('a write after the scrub on its thread ended'));
    const link = (this.link ??= this.attach());
    const bytes = new Uint8Array(chunk.length);
    bytes.set(chunk);
    link.post({ op: 'data', id: link.id, bytes }, [bytes.buffer as ArrayBuffer]);
    if (++this.inThread < WINDOW) cb();
    else this.waiting = cb;
  }

  override _flush(cb: TransformCallback): void {
    if (this.report) return cb();
    const link = (this.link ??= this.attach());
    this.flushed = cb;
    link.post({ op: 'end', id: link.id });
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.link && !this.over) {
      this.link.post({ op: 'abort', id: this.link.id });
      this.leave();
    }
    this.over = true;
    cb(err);
  }

  onMessage(m: FromWorker): void {
    if ('out' in m) {
      this.push(Buffer.from(m.out.buffer, m.out.byteOffset, m.out.length));
    } else if ('ack' in m) {
      this.inThread--;
      const w = this.waiting;
      this.waiting = undefined;
      w?.();
    } else if ('done' in m) {
      this.report = m.done;
      this.leave();
      const f = this.flushed;
      this.flushed = undefined;
      f?.();
    } else {
      this.fail(errorFromWire(m.error));
    }
  }

  /** Fails the stream (the thread reported an error or died). */
  fail(err: Error): void {
    this.leave();
    const cb = this.flushed ?? this.waiting;
    this.flushed = this.waiting = undefined;
    if (cb) cb(err);
    else this.destroy(err);
  }

  /** The scrubber's report (complete once the stream has ended), marked as scrubbed on a thread. */
  result(): Record<string, unknown> {
    return { ...(this.report ?? {}), onThread: true };
  }

  private leave(): void {
    if (this.over) return;
    this.over = true;
    this.link?.leave();
  }
}
