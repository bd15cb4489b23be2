/**
 * Typed errors. Each carries its retry behaviour (rclone's fserrors idea):
 * `retryable` errors are retried with backoff by the executor, `fatal` errors stop the
 * whole run (no other file can succeed), everything else fails just the one file.
 * Exit codes are mapped from these in exactly one place: src/cli/exit.ts.
 */
export type ErrorKind =
  | 'not-found'
  | 'permission'
  | 'auth'
  | 'config'
  | 'usage'
  | 'transient'
  | 'throttled'
  | 'integrity'
  | 'source-changed'
  | 'invalid-name'
  | 'policy-denied'
  | 'already-exists'
  | 'aborted'
  | 'unreachable'
  | 'unsupported'
  | 'archived'
  | 'restore-pending'
  | 'internal';

export abstract class HybridsyncError extends Error {
  abstract readonly kind: ErrorKind;
  /** Retrying the same operation may succeed. */
  readonly retryable: boolean = false;
  /** No other operation of this run can succeed either: stop the run. */
  readonly fatal: boolean = false;
  /**
   * The operation will succeed when the same command is run again later — hours later, not
   * after a backoff (an archive restore under way). Not retried within the run, and not a
   * failure of it: the run completes everything else and says what to rerun (exit code 5).
   */
  readonly retryLater: boolean = false;
  /** What the user can do about it; printed after the message. */
  readonly hint?: string;
  constructor(message: string, opts?: { cause?: unknown; hint?: string }) {
    super(message, opts?.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    if (opts?.hint) this.hint = opts.hint;
  }
}

export class NotFoundError extends HybridsyncError {
  readonly kind = 'not-found' as const;
}
/** A missing bucket or root: nothing in this run can work. */
export class MissingRootError extends HybridsyncError {
  readonly kind = 'not-found' as const;
  override readonly fatal = true;
}
export class PermissionError extends HybridsyncError {
  readonly kind = 'permission' as const;
}
export class AuthError extends HybridsyncError {
  readonly kind = 'auth' as const;
  override readonly fatal = true;
}
export class ConfigError extends HybridsyncError {
  readonly kind = 'config' as const;
  override readonly fatal = true;
}
export class UsageError extends HybridsyncError {
  readonly kind = 'usage' as const;
  override readonly fatal = true;
}
export class TransientError extends HybridsyncError {
  readonly kind = 'transient' as const;
  override readonly retryable = true;
}
export class ThrottledError extends HybridsyncError {
  readonly kind = 'throttled' as const;
  override readonly retryable = true;
}
export class UnreachableError extends HybridsyncError {
  readonly kind = 'unreachable' as const;
  override readonly retryable = true;
}
/** Bytes at the destination do not match the bytes read from the source. */
export class IntegrityError extends HybridsyncError {
  readonly kind = 'integrity' as const;
  override readonly retryable = true;
}
/** The source changed while it was being read; the copy would be torn. */
export class SourceChangedError extends HybridsyncError {
  readonly kind = 'source-changed' as const;
  override readonly retryable = true;
}
/** The source delivered another number of bytes than it was planned with: it changed while read. */
export function sizeMismatch(where: string, got: number, planned: number): SourceChangedError {
  return new SourceChangedError(`${where}: source has ${got > planned ? 'more' : 'fewer'} bytes than the ${planned} planned`, {
    hint: 'the source changed during the copy; it will be retried',
  });
}

/** A name the destination cannot store (key over 1024 bytes, invalid UTF-8). */
export class InvalidNameError extends HybridsyncError {
  readonly kind = 'invalid-name' as const;
}
/** A create-only write (WriteOptions.ifAbsent) found the key already stored. */
export class AlreadyExistsError extends HybridsyncError {
  readonly kind = 'already-exists' as const;
}
export class PolicyDeniedError extends HybridsyncError {
  readonly kind = 'policy-denied' as const;
}
export class AbortedError extends HybridsyncError {
  readonly kind = 'aborted' as const;
  override readonly fatal = true;
}
/** The server does not implement the operation (S3 501 NotImplemented): asking again cannot help. */
export class UnsupportedError extends HybridsyncError {
  readonly kind = 'unsupported' as const;
}

/**
 * The object is in an archive tier (S3 GLACIER / DEEP_ARCHIVE without a completed restore,
 * Azure Archive) and the server refused to read it: S3 403 InvalidObjectState, Azure 409
 * BlobArchived. Not retryable as such: the engine requests a restore (Tierer.requestRestore)
 * and waits or reports RestorePendingError.
 */
export class ObjectArchivedError extends HybridsyncError {
  readonly kind = 'archived' as const;
  constructor(
    message: string,
    /** The archive class the server named, when it named one. */
    readonly storageClass?: string,
    opts?: { cause?: unknown; hint?: string },
  ) {
    super(message, opts);
  }
}

/**
 * An archived object is being restored (requested by this run or an earlier one) and cannot
 * be read yet. Retry later: rerun the same command once the restore completes (S3: minutes
 * to 48 hours by tier; Azure rehydration: up to 15 hours) and the object is copied then.
 */
export class RestorePendingError extends HybridsyncError {
  readonly kind = 'restore-pending' as const;
  override readonly retryLater = true;
  constructor(
    message: string,
    readonly storageClass: string | undefined,
    /** Whether this run requested the restore (false: an earlier request is still running). */
    readonly requested: boolean,
    opts?: { cause?: unknown; hint?: string },
  ) {
    super(message, { hint: 'rerun the same command after the restore completes: the file is copied then, the rest is not sent again', ...opts });
  }
}

export class InternalError extends HybridsyncError {
  readonly kind = 'internal' as const;
}

export function isHybridsyncError(e: unknown): e is HybridsyncError {
  return e instanceof HybridsyncError;
}

/** A one-line description for logs and summaries; never includes secrets. */
export function describeError(e: unknown): string {
  if (e instanceof HybridsyncError) return e.hint ? `${e.message} (${e.hint})` : e.message;
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}
