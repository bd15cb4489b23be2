/**
 * The events a run emits, in order. The CLI prints them as NDJSON with --json; the audit
 * trail, the HTTP API and the dashboard subscribe to the same stream. Versioned by `v`.
 */
import type { ErrorKind } from '../core/errors.js';
import type { Mode, TransferReason } from './plan.js';

export const EVENT_VERSION = 1;

export type SyncEvent =
  | { type: 'run-start'; runId: number; mode: Mode; src: string; dst: string; dryRun: boolean }
  | {
      type: 'plan';
      action: 'transfer' | 'delete';
      key: string;
      size?: number;
      reason?: TransferReason;
      classification?: string;
      transforms?: string[];
    }
  | {
      type: 'denied';
      key: string;
      size: number;
      classification: string;
      reason: string;
      rule?: string;
      /** An earlier run was denied this same source version with the same verdict (ISO time of the first denial). */
      knownSince?: string;
    }
  | {
      type: 'transfer';
      key: string;
      size: number;
      bytesSent: number;
      md5: string;
      reason: TransferReason;
      method: 'stream' | 'server-copy';
      durationMs: number;
      attempts: number;
      classification?: string;
      /** MD5 of the source bytes when transforms changed them (md5 is then of the stored bytes). */
      md5Before?: string;
      transforms?: Array<{ name: string; report: Record<string, unknown> }>;
    }
  | { type: 'skip'; key: string; reason: string }
  | { type: 'delete'; key: string }
  | { type: 'differ'; key: string; reason: 'missing-on-dst' | 'missing-on-src' | 'size' | 'content' | 'mtime' }
  | { type: 'unverified'; key: string; reason: string }
  | { type: 'error'; key?: string; kind: ErrorKind | 'unknown'; message: string; hint?: string }
  | { type: 'retry'; key?: string; what: string; attempt: number; message: string }
  | { type: 'notice'; message: string }
  /** A run a safety guard stopped before anything moved (bisync: an emptied side, too many deletes…). */
  | { type: 'refused'; what: string; message: string; hint?: string }
  /**
   * An archived source object: its restore was requested now (`requested`), one was already
   * under way (`in-progress`), or it completed while the run waited (`ready`, --restore wait).
   */
  | {
      type: 'restore';
      key: string;
      storageClass: string;
      status: 'requested' | 'in-progress' | 'ready';
      days?: number;
      priority?: string;
      rehydrateTo?: string;
    }
  /** An archived source object not copied in this run: rerun after its restore completes (exit code 5). */
  | { type: 'restore-pending'; key: string; storageClass?: string; requested: boolean; message: string; hint?: string }
  /** bisync: both sides changed a file; `winner`'s version is now at `key`, the other kept as `keptAs` or merged in. */
  | { type: 'conflict'; key: string; policy: string; winner: 'path1' | 'path2'; keptAs?: string; merged?: string }
  /** bisync: a file renamed on the other side was moved here (no bytes sent). */
  | { type: 'rename'; key: string; from: string }
  | { type: 'summary'; summary: RunSummary }
  | StreamEvent;

/** What a streaming lane emits (src/stream): its start and end, and one event per segment. */
export type StreamEvent =
  | { type: 'stream-start'; lane: string; direction: 'push' | 'pull'; src: string; dst: string }
  | {
      type: 'segment';
      lane: string;
      direction: 'push' | 'pull';
      /** Where the bytes came from, relative to the lane's source: the file (push), the segment key (pull). */
      file: string;
      /** Where they went, relative to the lane's destination: the segment key (push), the local file (pull). */
      key: string;
      fileId: string;
      generation: number;
      seq: number;
      /** Byte range [start, end) of the source stream. */
      start: number;
      end: number;
      /** Bytes stored (after scrubbing). */
      bytes: number;
      sha256: string;
      md5: string;
      /** SHA-256 of the source bytes when transforms changed them. */
      srcSha256?: string;
      classification?: string;
      transforms?: Array<{ name: string; report: Record<string, unknown> }>;
      reason: 'size' | 'age' | 'final' | 'retry' | 'pull';
      /** Split inside a record longer than the segment size. */
      forced?: boolean;
      /** Found already stored (or appended) by an earlier attempt: nothing was sent twice. */
      confirmed?: boolean;
    }
  | { type: 'stream-end'; lane: string; direction: 'push' | 'pull'; status: 'ok' | 'stopped' | 'failed'; segments: number; bytes: number; message?: string };

export interface RunSummary {
  runId: number;
  /** bisync: a two-way run as a job's history records it (see bisync/run.ts jobSummaryOf); tier: a tiering job (ops/tier-job.ts). */
  mode: Mode | 'bisync' | 'tier';
  dryRun: boolean;
  src: string;
  dst: string;
  transferred: number;
  bytes: number;
  bytesResumed: number;
  serverSideCopies: number;
  skipped: number;
  deleted: number;
  failed: number;
  denied: number;
  /** Of the denied: known, unchanged denials (every denial in a check, where denied files are expected absent). */
  deniedKnown: number;
  /** Unchanged files whose destination is a recorded transform (PII-scrubbed) of the source. */
  derived: number;
  differences: number;
  checks: number;
  retries: number;
  durationMs: number;
  /** bytes/s over the whole run */
  rate: number;
  /** deletions that were due but not done (errors, or over --max-delete) */
  deletesHeldBack: number;
  /** Files not copied because their source object awaits a restore from an archive tier: rerun later. */
  restorePending?: number;
  /** Restores this run requested. */
  restoresRequested?: number;
  /**
   * denied: the policy denied files no earlier run was denied (new, or changed since);
   * known-denials: the only denials are of files an earlier run was denied, unchanged since
   * (or, in a check, denied files that are absent as they should be) — exit code 0.
   * restore-pending: everything else is done; some source objects await a restore from an
   * archive tier — rerun later (exit code 5).
   */
  status: 'ok' | 'failed' | 'differences' | 'denied' | 'known-denials' | 'restore-pending' | 'aborted';
}
