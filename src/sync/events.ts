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
  /** bisync: both sides changed a file; `winner`'s version is now at `key`, the other kept as `keptAs` or merged in. */
  | { type: 'conflict'; key: string; policy: string; winner: 'path1' | 'path2'; keptAs?: string; merged?: string }
  /** bisync: a file renamed on the other side was moved here (no bytes sent). */
  | { type: 'rename'; key: string; from: string }
  | { type: 'summary'; summary: RunSummary };

export interface RunSummary {
  runId: number;
  /** bisync: a two-way run as a job's history records it (see bisync/run.ts jobSummaryOf). */
  mode: Mode | 'bisync';
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
  /**
   * denied: the policy denied files no earlier run was denied (new, or changed since);
   * known-denials: the only denials are of files an earlier run was denied, unchanged since
   * (or, in a check, denied files that are absent as they should be) — exit code 0.
   */
  status: 'ok' | 'failed' | 'differences' | 'denied' | 'known-denials' | 'aborted';
}
