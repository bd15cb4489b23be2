/**
 * One bandwidth governor per declared link, shared by every job that crosses it. Jobs take
 * tokens through a lane: experiment metadata > model artifacts > bulk training data.
 *
 * Scheduling is start-time fair queuing over the lanes: each grant advances its lane's
 * virtual clock by bytes / weight, and the lane with the earliest start tag goes next. With
 * the default weights 16:4:1 a metadata transfer waits for at most the chunk already on the
 * wire, never behind a queue of bulk chunks, while bulk still gets a share (never zero) when
 * everything is busy, and the whole link when it is alone (work-conserving). Within a lane,
 * requests are served first come, first served.
 *
 * Grants are paced: the governor hands out at most `lookaheadMs` of link time ahead of the
 * clock and holds the rest in the lane queues, so priorities decide who sends next.
 */
import { BandwidthLimiter, type Pacer } from '../lib/bandwidth.js';
import { systemClock, type Clock, type Timer } from './clock.js';

export type { Pacer };

export const LANES = ['metadata', 'artifacts', 'bulk'] as const;
export type Lane = (typeof LANES)[number];
export const DEFAULT_LANE_WEIGHTS: Readonly<Record<Lane, number>> = { metadata: 16, artifacts: 4, bulk: 1 };

interface Request {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

interface LaneState {
  readonly queue: Request[];
  /** Virtual finish tag of the last grant. */
  finish: number;
  bytes: number;
}

export interface GovernorOptions {
  readonly name: string;
  /** Link capacity in bytes per second; a function so a timetable can change it. Infinity: unlimited. */
  readonly bytesPerSecond: () => number;
  readonly clock?: Clock;
  readonly weights?: Partial<Record<Lane, number>>;
  readonly lookaheadMs?: number;
}

export class LinkGovernor {
  readonly name: string;
  private readonly clock: Clock;
  private readonly weights: Record<Lane, number>;
  private readonly lookaheadMs: number;
  private readonly lanes = new Map<Lane, LaneState>(LANES.map((l) => [l, { queue: [], finish: 0, bytes: 0 }]));
  private virtual = 0;
  /** When the link has sent everything granted so far. */
  private busyUntil = 0;
  private timer: Timer | undefined;
  private total = 0;

  constructor(private readonly o: GovernorOptions) {
    this.name = o.name;
    this.clock = o.clock ?? systemClock;
    this.weights = { ...DEFAULT_LANE_WEIGHTS, ...o.weights };
    this.lookaheadMs = o.lookaheadMs ?? 50;
    for (const l of LANES) if (!(this.weights[l] > 0)) throw new RangeError(`lane weight for ${l} must be positive`);
  }

  /** Capacity in force, bytes per second. */
  currentRate(): number {
    return this.o.bytesPerSecond();
  }

  /** Bytes granted since the start, in total and per lane. */
  get bytesGranted(): number {
    return this.total;
  }

  bytesGrantedIn(lane: Lane): number {
    return this.lanes.get(lane)!.bytes;
  }

  queuedIn(lane: Lane): number {
    return this.lanes.get(lane)!.queue.length;
  }

  /** A limiter for one job in `lane`, optionally under the job's own bwlimit as well. */
  lane(lane: Lane, own?: BandwidthLimiter): LaneLimiter {
    return new LaneLimiter(this, lane, own);
  }

  /** Resolves when `bytes` may be sent in `lane`; rejects with the signal's reason on abort. */
  take(lane: Lane, bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(reasonOf(signal));
    const state = this.lanes.get(lane);
    if (!state) return Promise.reject(new RangeError(`unknown lane "${lane}"`));
    return new Promise<void>((resolve, reject) => {
      const req: Request = {
        bytes,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = state.queue.indexOf(req);
          if (i >= 0) state.queue.splice(i, 1);
          reject(reasonOf(signal!));
        },
      };
      signal?.addEventListener('abort', req.onAbort, { once: true });
      if (state.queue.length === 0 && this.allIdle()) {
        // an idle lane starts at the current virtual time: no credit for having been idle
        state.finish = Math.max(state.finish, this.virtual);
      }
      state.queue.push(req);
      this.pump();
    });
  }

  private allIdle(): boolean {
    for (const s of this.lanes.values()) if (s.queue.length > 0) return false;
    return true;
  }

  private pump(): void {
    this.timer?.cancel();
    this.timer = undefined;
    while (true) {
      const next = this.pick();
      if (!next) return;
      const rate = this.currentRate();
      const now = this.clock.now();
      const limited = Number.isFinite(rate) && rate > 0;
      if (limited) {
        if (this.busyUntil < now) this.busyUntil = now;
        const ahead = this.busyUntil - now;
        if (ahead > this.lookaheadMs) {
          this.timer = this.clock.setTimer(() => this.pump(), ahead - this.lookaheadMs);
          return;
        }
      }
      const [lane, state] = next;
      const req = state.queue.shift()!;
      const start = Math.max(this.virtual, state.finish);
      this.virtual = start;
      state.finish = start + req.bytes / this.weights[lane];
      state.bytes += req.bytes;
      this.total += req.bytes;
      if (limited) this.busyUntil += (req.bytes * 1000) / rate;
      req.signal?.removeEventListener('abort', req.onAbort);
      req.resolve();
    }
  }

  /** The lane whose next request has the earliest start tag; ties go to the higher priority. */
  private pick(): [Lane, LaneState] | undefined {
    let best: [Lane, LaneState] | undefined;
    let bestTag = Infinity;
    for (const lane of LANES) {
      const s = this.lanes.get(lane)!;
      if (s.queue.length === 0) continue;
      const tag = Math.max(this.virtual, s.finish);
      if (tag < bestTag) {
        best = [lane, s];
        bestTag = tag;
      }
    }
    return best;
  }
}

/**
 * A job's handle on a link: the engine's limiter for that job (RunOptions.limiter). It is a
 * BandwidthLimiter so the engine accepts it unchanged; take() goes through the job's own
 * bwlimit first, if any, then through the link's lane.
 */
export class LaneLimiter extends BandwidthLimiter implements Pacer {
  private sent = 0;

  constructor(
    readonly governor: LinkGovernor,
    readonly laneName: Lane,
    private readonly own?: BandwidthLimiter,
  ) {
    super(() => Math.min(governor.currentRate(), own?.currentRate() ?? Infinity));
  }

  /** Bytes this job has sent through the link. */
  get bytes(): number {
    return this.sent;
  }

  override async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.own) await this.own.take(bytes, signal);
    await this.governor.take(this.laneName, bytes, signal);
    this.sent += bytes;
  }
}

function reasonOf(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error('aborted');
}
