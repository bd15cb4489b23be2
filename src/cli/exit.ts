/**
 * The one place errors become exit codes.
 *   0  everything done (check: no differences)
 *   1  some files failed or differ; the rest completed
 *   2  usage or configuration error: nothing was transferred (bad flag, malformed URL,
 *      unknown scheme, missing credentials or bucket, unreachable endpoint)
 *   3  some files were denied by the data-classification policy (new denials: a file no
 *      earlier run was denied, or one that changed since). A run whose only denials are
 *      known and unchanged ends with status known-denials and exit code 0; a check counts
 *      denied files, absent at the destination as they should be, the same way.
 *   4  nothing was run: `job run --respect-window` outside the job's run window
 *   5  everything else is done, but some source objects are archived (S3 GLACIER/DEEP_ARCHIVE,
 *      Azure Archive) and await a restore: rerun the same command after it completes
 *   130 interrupted (SIGINT/SIGTERM); rerun the same command to resume
 */
import { HybridsyncError } from '../core/errors.js';
import type { RunSummary } from '../sync/events.js';

export const EXIT = { ok: 0, partial: 1, usage: 2, policy: 3, notRun: 4, restorePending: 5, interrupted: 130 } as const;

export function exitCodeForError(err: unknown): number {
  if (err instanceof HybridsyncError) {
    switch (err.kind) {
      case 'usage':
      case 'config':
      case 'auth':
      case 'unreachable':
        return EXIT.usage;
      case 'not-found':
        return err.fatal ? EXIT.usage : EXIT.partial;
      case 'aborted':
        return EXIT.interrupted;
      case 'policy-denied':
        return EXIT.policy;
      case 'restore-pending':
        return EXIT.restorePending;
      default:
        return EXIT.partial;
    }
  }
  if (err instanceof RangeError || (err as { code?: string })?.code?.startsWith?.('commander.')) return EXIT.usage;
  return EXIT.partial;
}

export function exitCodeForSummary(s: RunSummary): number {
  if (s.status === 'aborted') return EXIT.interrupted;
  if (s.failed > 0 || s.differences > 0) return EXIT.partial;
  if (s.status === 'denied') return EXIT.policy;
  if (s.status === 'restore-pending' || (s.restorePending ?? 0) > 0) return EXIT.restorePending;
  return EXIT.ok;
}
