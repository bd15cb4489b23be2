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
  | 'internal';

export abstract class HybridsyncError extends Error {
  abstract readonly kind: ErrorKind;
  /** Retrying the same operation may succeed. */
  readonly retryable: boolean = false;
  /** No other operation of this run can succeed either: stop the run. */
  readonly fatal: boolean = false;
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
/** A name the destination cannot store (key over 1024 bytes, invalid UTF-8). */
/** The source delivered another number of bytes than it was planned with: it changed while read. */
export function sizeMismatch(where: string, got: number, planned: number): SourceChangedError {
  return new SourceChangedError(`${where}: source has ${got > planned ? 'more' : 'fewer'} bytes than the ${planned} planned`, {
    hint: 'the source changed during the copy; it will be retried',
  });
}

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
