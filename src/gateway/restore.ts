/**
 * Restore before read on the gateway's read path. A cache miss whose upstream object is
 * archived (the upstream refuses the read: S3 InvalidObjectState, Azure BlobArchived)
 * triggers the restore once (tier/restore.ts) and is answered with a retryable error;
 * until the next look at the upstream (`recheckMs`), further GETs of that key are answered
 * the same way at once, without asking the upstream again. Never a 500, never a hang.
 *
 * Why 503 ServiceUnavailable with Retry-After, not S3's own 403 InvalidObjectState: S3
 * answers InvalidObjectState because the client must restore the object itself; here the
 * gateway already has, so for the client the condition is temporary. AWS SDKs (JS v3,
 * boto3/botocore in legacy, standard and adaptive modes) and aws-cli retry a 503 on their
 * own; a 403 they give up on at once. ServiceUnavailable rather than SlowDown: both are 503
 * and retried alike, but SlowDown is a throttling code, which makes adaptive-mode clients
 * slow down all their requests — including reads of cached objects — for what is one
 * object's restore. Retry-After names when the gateway looks at the upstream again.
 */
import type { Backend } from '../core/backend.js';
import { ObjectArchivedError } from '../core/errors.js';
import { restoreForRead, type RestoreRequested, type RestoreSettings } from '../tier/restore.js';
import { S3Error } from './errors.js';

export interface UpstreamRestoreOptions {
  /** Restore days and priority (the transfer options' restoreDays / restorePriority). */
  readonly settings: RestoreSettings;
  /** How long a key known to be restoring is answered without asking the upstream (ms; default 60 s). */
  readonly recheckMs?: number;
  /** A restore the gateway requested (for the audit trail). */
  readonly onRequested?: (r: RestoreRequested) => void;
}

/** The retryable answer for an object being restored; `retryAfterSeconds` becomes the Retry-After header. */
export class RestoreInProgress extends S3Error {
  constructor(
    key: string,
    storageClass: string,
    requested: boolean,
    readonly retryAfterSeconds: number,
  ) {
    super(
      'ServiceUnavailable',
      `${key} is archived at the upstream (${storageClass}); ${requested ? 'the gateway requested its restore' : 'its restore is under way'}: retry later (a restore takes minutes to hours)`,
      { Key: key },
    );
  }
}

export class UpstreamRestores {
  /** Keys whose restore is pending: when the upstream was last asked, and the class. */
  private readonly pending = new Map<string, { at: number; storageClass: string }>();
  private readonly recheckMs: number;

  constructor(
    private readonly upstream: Backend,
    private readonly o: UpstreamRestoreOptions,
  ) {
    this.recheckMs = o.recheckMs ?? 60_000;
  }

  private answer(key: string, storageClass: string, requested: boolean): RestoreInProgress {
    return new RestoreInProgress(key, storageClass, requested, Math.max(1, Math.ceil(this.recheckMs / 1000)));
  }

  /** Runs the upstream read `fn` of `key`, turning an archived object into a requested restore and a retryable answer. */
  async read<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const known = this.pending.get(key);
    if (known && Date.now() - known.at < this.recheckMs) throw this.answer(key, known.storageClass, false);
    try {
      const r = await fn();
      this.pending.delete(key);
      return r;
    } catch (err) {
      if (!(err instanceof ObjectArchivedError)) throw err;
      const out = await restoreForRead(this.upstream, key, err, { ...this.o.settings, mode: 'request' }, { ...(signal ? { signal } : {}), ...(this.o.onRequested ? { onRequested: this.o.onRequested } : {}) });
      if (out.kind === 'read') return fn();
      if (out.kind === 'gone') throw new S3Error('NoSuchKey', 'the specified key does not exist', { Key: key });
      this.pending.set(key, { at: Date.now(), storageClass: out.storageClass });
      throw this.answer(key, out.storageClass, out.requested);
    }
  }
}
