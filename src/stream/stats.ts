/**
 * Live numbers of one lane, for `stream status`, /metrics and the dashboard: how far behind
 * it is (bytes not yet shipped, and how long the oldest of them has waited) and its
 * throughput over the last minute.
 */

import type { Backend } from '../core/backend.js';
import type { Pacer } from '../lib/bandwidth.js';
import type { SyncEvent } from '../sync/events.js';
import type { TransferGate } from '../sync/gate.js';
import type { StreamJournal } from './journal.js';

const WINDOW_MS = 60_000;

/** What every lane runs with, push or pull. */
export interface LaneContext {
  readonly lane: string;
  /** push: the source root (the pattern's base directory); pull: the prefix objects are under. */
  readonly src: Backend;
  /** push: the destination prefix; pull: the local directory as a backend. */
  readonly dst: Backend;
  readonly journal: StreamJournal;
  readonly pollMs: number;
  /** Ship (or apply) what is there, then return. */
  readonly once: boolean;
  readonly retries: number;
  /** Classification and policy (absent without a classification or policy config). */
  readonly gate?: TransferGate;
  /** Bandwidth: the link lane's share (daemon); each segment takes its bytes first. */
  readonly pacer?: Pacer;
  readonly stats: LaneStats;
  readonly signal: AbortSignal;
  readonly emit: (e: SyncEvent) => void;
}

export interface LaneSnapshot {
  readonly lane: string;
  readonly direction: 'push' | 'pull';
  readonly src: string;
  readonly dst: string;
  readonly state: 'starting' | 'following' | 'stopped' | 'failed';
  readonly segments: number;
  readonly bytes: number;
  /** Bytes at the source not yet stored (push) or appended (pull). */
  readonly lagBytes: number;
  /** Age of the oldest of them, in seconds (0 when caught up). */
  readonly lagSeconds: number;
  /** Stored bytes per second over the last minute. */
  readonly bytesPerSecond: number;
  readonly lastCommitAt: number | null;
  readonly error: string | null;
}

export class LaneStats {
  state: LaneSnapshot['state'] = 'starting';
  segments = 0;
  bytes = 0;
  lastCommitAt: number | null = null;
  error: string | null = null;
  private lag: () => { bytes: number; since: number | undefined } = () => ({ bytes: 0, since: undefined });
  private readonly recent: Array<{ at: number; bytes: number }> = [];
  private readonly startedAt: number;

  constructor(
    readonly lane: string,
    readonly direction: 'push' | 'pull',
    readonly src: string,
    readonly dst: string,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  /** Where the lag comes from (the follower's pending bytes, the pull's listed objects). */
  lagFrom(f: () => { bytes: number; since: number | undefined }): void {
    this.lag = f;
  }

  /**
   * The lane's source closes: its lag stays as it is now (a failed lane is that far behind,
   * and its oldest byte keeps ageing).
   */
  freezeLag(): void {
    const last = this.lag();
    this.lag = () => last;
  }

  /** The lane stopped on an error. */
  fail(message: string): void {
    this.state = 'failed';
    this.error = message;
  }

  committed(bytes: number): void {
    const at = this.now();
    this.segments++;
    this.bytes += bytes;
    this.lastCommitAt = at;
    this.recent.push({ at, bytes });
    while (this.recent.length > 0 && this.recent[0]!.at < at - WINDOW_MS) this.recent.shift();
  }

  snapshot(): LaneSnapshot {
    const now = this.now();
    while (this.recent.length > 0 && this.recent[0]!.at < now - WINDOW_MS) this.recent.shift();
    const windowMs = Math.min(WINDOW_MS, Math.max(1, now - this.startedAt));
    const lag = this.lag();
    return {
      lane: this.lane,
      direction: this.direction,
      src: this.src,
      dst: this.dst,
      state: this.state,
      segments: this.segments,
      bytes: this.bytes,
      lagBytes: lag.bytes,
      lagSeconds: lag.bytes > 0 && lag.since !== undefined ? Math.max(0, (now - lag.since) / 1000) : 0,
      bytesPerSecond: (this.recent.reduce((s, r) => s + r.bytes, 0) * 1000) / windowMs,
      lastCommitAt: this.lastCommitAt,
      error: this.error,
    };
  }
}

/**
 * The lanes of this process (the daemon's /metrics, /api/streams and dashboard read them):
 * each running one, and each that failed until its next attempt takes its place.
 */
export class LaneRegistry {
  private readonly lanes = new Map<string, LaneStats>();

  add(s: LaneStats): void {
    this.lanes.set(s.lane, s);
  }

  /** A lane that ended: gone, unless it failed (kept, with its error, until it runs again). */
  remove(s: LaneStats): void {
    if (this.lanes.get(s.lane) === s && s.state !== 'failed') this.lanes.delete(s.lane);
  }

  snapshots(): LaneSnapshot[] {
    return [...this.lanes.values()].map((s) => s.snapshot());
  }
}
