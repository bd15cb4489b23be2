/**
 * The write-back queue: empties the journal into the cloud in batches. A batch hard-links
 * the dirty files into the outbox (a snapshot: a later PUT of the same key writes a new
 * file) and hands the outbox and the batch's keys to an uploader — the engine, so policy,
 * PII scrubbing, bandwidth timetable and audit apply (api/gateway.ts). Each key's outcome
 * settles its journal row: done (unless a newer write replaced it meanwhile), denied by
 * policy (kept locally, reported, never retried until rewritten), or failed (retried with
 * exponential backoff, visible as pending).
 */
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { JournalRow } from './cache-index.js';
import { dataPath, type CacheDirs } from './cache.js';
import type { GatewayCore } from './gateway.js';

export type KeyOutcome = { readonly ok: true } | { readonly ok: false; readonly denied?: boolean; readonly message: string };

/** Uploads the files under `outbox` for the `puts` and removes the `deletes` at the upstream. */
export type BatchUploader = (batch: { outbox: string; puts: readonly string[]; deletes: readonly string[] }) => Promise<Map<string, KeyOutcome>>;

export interface WriteBackOptions {
  readonly batchSize?: number;
  /** First retry delay (ms); doubled per attempt up to maxBackoffMs. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How often the queue looks for due retries when nothing wakes it (ms). */
  readonly pollMs?: number;
  readonly onBatch?: (b: { uploaded: number; deleted: number; failed: number; denied: number; bytes: number }) => void;
  readonly onError?: (message: string) => void;
}

export interface WriteBackCounters {
  uploadedFiles: number;
  uploadedBytes: number;
  deletes: number;
  failures: number;
  denied: number;
  batches: number;
  lastUploadAt: number | null;
}

export class WriteBack {
  readonly counters: WriteBackCounters = { uploadedFiles: 0, uploadedBytes: 0, deletes: 0, failures: 0, denied: 0, batches: 0, lastUploadAt: null };
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly dirs: CacheDirs;

  constructor(
    private readonly core: GatewayCore,
    private readonly upload: BatchUploader,
    private readonly o: WriteBackOptions = {},
  ) {
    this.dirs = core.dirs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
  }

  /** Something was journaled: look now. */
  kick(): void {
    this.wake?.();
  }

  /** Starts every pending upload now (no backoff wait); resolves with how many are pending. */
  hurry(): { pending: number } {
    this.core.index.retryNow();
    this.kick();
    return { pending: this.core.index.journalStats().pending };
  }

  /**
   * Resolves when every write journaled before the call is in the cloud (or denied by
   * policy, which no retry changes); with the keys denied. Failed uploads keep being retried.
   */
  async flush(signal?: AbortSignal): Promise<{ flushedUpTo: number; denied: string[] }> {
    const target = this.core.index.lastSeq();
    this.core.index.retryNow();
    this.kick();
    while (this.core.index.pendingUpTo(target) > 0) {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('flush aborted');
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    const denied = this.core.index.journalRows().filter((j) => j.status === 'denied' && j.seq <= target).map((j) => j.key);
    return { flushedUpTo: target, denied };
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const rows = this.core.index.due(Date.now(), this.o.batchSize ?? 1000);
      if (rows.length === 0) {
        this.notify();
        await this.sleep(this.o.pollMs ?? 1000);
        continue;
      }
      try {
        await this.batch(rows);
      } catch (err) {
        this.o.onError?.(`write-back batch failed: ${(err as Error).message}`);
        const at = Date.now() + (this.o.backoffMs ?? 1000);
        for (const r of rows) this.core.index.journalFailed(r.key, r.seq, (err as Error).message, at);
      }
      this.notify();
    }
  }

  private backoff(attempts: number): number {
    return Math.min(this.o.maxBackoffMs ?? 5 * 60_000, (this.o.backoffMs ?? 1000) * 2 ** attempts);
  }

  private async batch(rows: readonly JournalRow[]): Promise<void> {
    const outbox = this.dirs.outbox;
    await fsp.rm(outbox, { recursive: true, force: true });
    await fsp.mkdir(outbox, { recursive: true });
    const puts: string[] = [];
    const deletes: string[] = [];
    const results = new Map<string, KeyOutcome>();
    for (const r of rows) {
      if (r.op === 'delete') {
        deletes.push(r.key);
        continue;
      }
      const to = join(outbox, ...r.key.split('/'));
      try {
        await fsp.mkdir(dirname(to), { recursive: true });
        await fsp.link(dataPath(this.dirs, r.key), to);
        puts.push(r.key);
      } catch (err) {
        results.set(r.key, { ok: false, message: `cannot stage ${r.key} for upload: ${(err as Error).message}` });
      }
    }
    const uploaded = puts.length + deletes.length > 0 ? await this.upload({ outbox, puts, deletes }) : new Map<string, KeyOutcome>();
    for (const [k, v] of uploaded) results.set(k, v);
    let ok = 0;
    let del = 0;
    let failed = 0;
    let denied = 0;
    let bytes = 0;
    const now = Date.now();
    for (const r of rows) {
      const res = results.get(r.key) ?? { ok: false, message: 'the upload run reported nothing for this key' };
      if (res.ok) {
        if (this.core.index.journalDone(r.key, r.seq) && r.op === 'put') {
          const up = await this.core.upstream.stat(r.key).catch(() => undefined);
          if (up && this.core.index.entry(r.key)) this.core.index.setUpstreamEtag(r.key, up.etag ?? up.md5 ?? null);
        }
        if (r.op === 'put') {
          ok++;
          bytes += r.size;
        } else del++;
      } else if (res.denied) {
        this.core.index.journalDenied(r.key, r.seq, res.message);
        denied++;
      } else {
        this.core.index.journalFailed(r.key, r.seq, res.message, now + this.backoff(r.attempts));
        failed++;
      }
    }
    await fsp.rm(outbox, { recursive: true, force: true });
    const c = this.counters;
    c.uploadedFiles += ok;
    c.uploadedBytes += bytes;
    c.deletes += del;
    c.failures += failed;
    c.denied += denied;
    c.batches++;
    if (ok + del > 0) c.lastUploadAt = now;
    this.o.onBatch?.({ uploaded: ok, deleted: del, failed, denied, bytes });
  }
}
