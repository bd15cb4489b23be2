/**
 * What a tiering run emits, in order: its start, one event per object (planned with
 * --dry-run, moved otherwise; kept objects too, which the CLI shows with -v), errors and the
 * summary. `hybridsync tier apply --json` prints them as NDJSON; the audit trail records
 * the moves. Keys are relative to `location`, the listing root as the user wrote it.
 */
import type { ErrorKind } from '../core/errors.js';
import type { KeepReason } from './plan.js';

export type TierEvent =
  | { type: 'tier-start'; dryRun: boolean; rules: string[]; locations: string[] }
  | { type: 'tier-plan'; location: string; key: string; size: number; from: string; to: string; rule: string }
  | {
      type: 'tier';
      location: string;
      key: string;
      size: number;
      from: string;
      to: string;
      rule: string;
      /** The ETag before and after: S3 gives a copied multipart object a new one (the content is the same). */
      etagBefore?: string;
      etagAfter?: string;
      durationMs: number;
    }
  | { type: 'tier-keep'; location: string; key: string; storageClass: string; reason: KeepReason; rule?: string }
  | { type: 'error'; location?: string; key?: string; kind: ErrorKind | 'unknown'; message: string; hint?: string }
  | { type: 'retry'; location?: string; key?: string; what: string; attempt: number; message: string }
  | { type: 'tier-summary'; summary: TierSummary };

export interface TierSummary {
  readonly dryRun: boolean;
  /** Objects listed under the rules' locations. */
  readonly objects: number;
  /** Objects moved (with --dry-run: that would be moved). */
  readonly transitioned: number;
  readonly bytes: number;
  readonly kept: number;
  readonly failed: number;
  /** Per target class: objects and bytes moved there. */
  readonly byClass: Readonly<Record<string, { objects: number; bytes: number }>>;
  readonly durationMs: number;
  readonly status: 'ok' | 'failed' | 'aborted';
}
