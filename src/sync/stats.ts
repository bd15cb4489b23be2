/** Live counters of a run, read by progress reporters, the HTTP API and the summary. */
export class Stats {
  readonly startedAt = Date.now();
  filesPlanned = 0;
  bytesPlanned = 0;
  filesDone = 0;
  /** Bytes read from sources and handed to destinations (what crossed the wire). */
  bytesDone = 0;
  checks = 0;
  skipped = 0;
  deleted = 0;
  failed = 0;
  denied = 0;
  /** Of the denied: the same source version an earlier run was denied for (or, in a check, any). */
  deniedKnown = 0;
  /** Skipped because the destination is a recorded transform of exactly this source version. */
  derived = 0;
  differences = 0;
  retries = 0;
  serverSideCopies = 0;
  /** Bytes that did not need sending because a multipart upload resumed. */
  bytesResumed = 0;
  /** Files left for a later run: their source object awaits a restore from an archive tier. */
  restorePending = 0;
  /** Restores this run requested. */
  restoresRequested = 0;
  private lastSample = { t: this.startedAt, bytes: 0 };
  private rate = 0;

  /** Smoothed bytes/s (EWMA over ~5 s), refreshed at most every 500 ms. */
  speed(now = Date.now()): number {
    const dt = now - this.lastSample.t;
    if (dt >= 500) {
      const inst = ((this.bytesDone - this.lastSample.bytes) * 1000) / dt;
      const alpha = Math.min(1, dt / 5000);
      this.rate = this.rate === 0 ? inst : this.rate + alpha * (inst - this.rate);
      this.lastSample = { t: now, bytes: this.bytesDone };
    }
    return this.rate;
  }

  /** Estimated ms left for what is planned so far; Infinity when unknown. */
  etaMs(now = Date.now()): number {
    const s = this.speed(now);
    const left = this.bytesPlanned - this.bytesDone;
    return s > 0 && left >= 0 ? (left / s) * 1000 : Infinity;
  }

  snapshot(now = Date.now()) {
    return {
      elapsedMs: now - this.startedAt,
      filesPlanned: this.filesPlanned,
      bytesPlanned: this.bytesPlanned,
      filesDone: this.filesDone,
      bytesDone: this.bytesDone,
      checks: this.checks,
      skipped: this.skipped,
      deleted: this.deleted,
      failed: this.failed,
      denied: this.denied,
      speed: Math.round(this.speed(now)),
      etaMs: this.etaMs(now),
    };
  }
}
export type StatsSnapshot = ReturnType<Stats['snapshot']>;

/** The counters of several runs at once (bisync's two directions) as one. */
export function sumSnapshots(parts: readonly StatsSnapshot[]): StatsSnapshot {
  const sum = (k: keyof StatsSnapshot): number => parts.reduce((n, p) => n + p[k], 0);
  const bytesPlanned = sum('bytesPlanned');
  const bytesDone = sum('bytesDone');
  const speed = sum('speed');
  return {
    elapsedMs: Math.max(0, ...parts.map((p) => p.elapsedMs)),
    filesPlanned: sum('filesPlanned'),
    bytesPlanned,
    filesDone: sum('filesDone'),
    bytesDone,
    checks: sum('checks'),
    skipped: sum('skipped'),
    deleted: sum('deleted'),
    failed: sum('failed'),
    denied: sum('denied'),
    speed,
    etaMs: speed > 0 && bytesPlanned >= bytesDone ? ((bytesPlanned - bytesDone) / speed) * 1000 : Infinity,
  };
}
