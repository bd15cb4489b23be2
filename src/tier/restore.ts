/**
 * Restore before read: what to do when a store refused to read an object because it is
 * archived (ObjectArchivedError: S3 403 InvalidObjectState, Azure 409 BlobArchived).
 * `decideRestore` is the pure decision over the object's archive state; `restoreForRead`
 * looks at the state, requests the restore when the decision says so, and tells the caller
 * whether to read again now or to come back later. The sync engine (sync/execute.ts) and
 * the gateway's read path (gateway/) both go through here, so a restore is requested the
 * same way wherever a read meets an archived object.
 *
 * The engine only asks after a refused read, never from the storage class alone: Ceph
 * RGW's GLACIER is a placement name whose objects read normally, and a read that works
 * needs no restore, whatever the class is called.
 */
import { hasTierer, type ArchiveState, type Backend, type RestoreAnswer, type RestorePriority } from '../core/backend.js';
import { ObjectArchivedError, RestorePendingError } from '../core/errors.js';
import type { RestoreMode } from '../config/options.js';

export interface RestoreSettings {
  readonly mode: RestoreMode;
  /** S3: days the restored copy stays readable. */
  readonly days: number;
  readonly priority: RestorePriority;
  /** wait: how long to wait for restores (ms). */
  readonly timeoutMs: number;
  /** Azure: the tier a blob is rehydrated to (default Hot). */
  readonly rehydrateTo?: string;
  /** wait: the first pause between looks at pending restores (ms; default 30 s, doubling to 10 min). */
  readonly pollMs?: number;
}

export const DEFAULT_RESTORE: RestoreSettings = { mode: 'request', days: 7, priority: 'standard', timeoutMs: 12 * 3_600_000 };

/** What to do about an object whose read was refused as archived, given its state now. */
export type RestoreStep =
  /** It is readable now (restored meanwhile, or never archived): read it again. */
  | { readonly step: 'read' }
  /** Archived with no restore under way: request one. */
  | { readonly step: 'request'; readonly storageClass: string }
  /** A restore is under way (ours or someone's): wait for it, request nothing. */
  | { readonly step: 'pending'; readonly storageClass: string }
  /** Archived, and restores are off (--restore never): report it. */
  | { readonly step: 'refuse'; readonly storageClass: string }
  /** The object is gone. */
  | { readonly step: 'gone' };

export function decideRestore(state: ArchiveState | undefined, mode: RestoreMode): RestoreStep {
  if (!state) return { step: 'gone' };
  switch (state.state) {
    case 'online':
    case 'restored':
      return { step: 'read' };
    case 'restoring':
      return { step: 'pending', storageClass: state.storageClass };
    case 'archived':
      return mode === 'never' ? { step: 'refuse', storageClass: state.storageClass } : { step: 'request', storageClass: state.storageClass };
  }
}

/** What restoreForRead did: `read` now, or the object stays unreadable for now (`pending`). */
export type RestoreOutcome =
  | { readonly kind: 'read' }
  | { readonly kind: 'gone' }
  | {
      readonly kind: 'pending';
      readonly storageClass: string;
      /** This call asked the store for the restore (false: one was already under way). */
      readonly requested: boolean;
      /** What the store answered, when asked. */
      readonly answer?: RestoreAnswer;
    };

/** A restore this call requested, for the caller's event and audit record. */
export interface RestoreRequested {
  readonly key: string;
  readonly storageClass: string;
  readonly days: number;
  readonly priority: RestorePriority;
  /** Azure: the tier the blob is rehydrated to. */
  readonly rehydrateTo?: string;
}

/**
 * After `b` refused to read `key` as archived: looks at its state and requests a restore
 * when none is under way. Throws the read's ObjectArchivedError when the backend cannot
 * restore or restores are off (--restore never); never throws for a pending restore.
 */
export async function restoreForRead(
  b: Backend,
  key: string,
  refused: ObjectArchivedError,
  s: RestoreSettings,
  o: { signal?: AbortSignal; onRequested?: (r: RestoreRequested) => void } = {},
): Promise<RestoreOutcome> {
  if (!hasTierer(b)) throw refused;
  const step = decideRestore(await b.archiveState(key, o.signal ? { signal: o.signal } : {}), s.mode);
  switch (step.step) {
    case 'read':
    case 'gone':
      return { kind: step.step };
    case 'refuse':
      throw refused;
    case 'pending':
      return { kind: 'pending', storageClass: step.storageClass, requested: false };
    case 'request': {
      const req = { days: s.days, priority: s.priority, storageClass: step.storageClass, ...(s.rehydrateTo ? { rehydrateTo: s.rehydrateTo } : {}) };
      const answer = await b.requestRestore(key, req, o.signal ? { signal: o.signal } : {});
      if (answer === 'not-archived') return { kind: 'read' };
      if (answer === 'requested') o.onRequested?.({ key, storageClass: step.storageClass, days: s.days, priority: s.priority, ...(b.type === 'azureblob' ? { rehydrateTo: s.rehydrateTo ?? 'Hot' } : {}) });
      return { kind: 'pending', storageClass: step.storageClass, requested: answer === 'requested', answer };
    }
  }
}

/** The retry-later error for an object whose restore is pending. */
export function restorePending(where: string, o: { storageClass: string; requested: boolean }): RestorePendingError {
  const what = o.requested ? 'restore requested' : 'a restore is under way';
  return new RestorePendingError(`${where} is archived (${o.storageClass}): ${what}, retry later`, o.storageClass, o.requested);
}
