/**
 * Conflicts between a write made through the gateway and the cloud, decided purely: a write
 * is journaled over the upstream object the gateway knew (its `base`: an ETag, '' for none,
 * null when it did not know); at upload time the upstream's object is looked at again, and
 * when it is no longer that base the cloud changed meanwhile. Who wins is the source of truth
 * the config declares for the key (a dataset's `ssot`): the gateway's write (`gateway`), the
 * cloud's version (`cloud`), or, with none declared, neither — the write is held and
 * reported until someone resolves it (`gateway resolve`).
 */
import type { Entry } from '../core/entry.js';
import type { JournalRow } from './cache-index.js';

/** Which side wins a conflict on a key; undefined when no source of truth is declared for it. */
export type ConflictWinner = 'gateway' | 'cloud';

/** The source of truth the config declares for a key. */
export interface KeyTruth {
  /** The dataset whose locations hold the key. */
  readonly dataset?: string;
  /** Its `ssot:` (cloud | onprem). */
  readonly ssot?: string;
  /** The side that wins: the gateway is the on-prem side, the upstream the cloud side. */
  readonly winner?: ConflictWinner;
}

export interface CloudChange {
  /** What the upstream holds now: its ETag, or null for nothing. */
  readonly cloudEtag: string | null;
  readonly why: string;
}

/** The ETag (or MD5) by which the gateway remembers an upstream object. */
export function etagOf(e: Pick<Entry, 'etag' | 'md5' | 'size' | 'mtimeMs'>): string {
  return e.etag ?? e.md5 ?? `${e.size}-${Math.round(e.mtimeMs)}`;
}

/** The object's MD5 when the store vouches for it (a multipart ETag is not one). */
function md5Of(e: Entry): string | undefined {
  if (e.md5) return e.md5;
  return e.etag && /^[0-9a-f]{32}$/.test(e.etag) ? e.etag : undefined;
}

/**
 * Whether the cloud changed since the journaled write was made: undefined when it did not
 * (or already holds exactly this write, e.g. an upload whose reply was lost), else what
 * it holds now. Without a known base, an object modified after the write counts as changed.
 */
export function cloudChange(row: Pick<JournalRow, 'op' | 'base' | 'md5' | 'sinceMs'>, upstream: Entry | undefined): CloudChange | undefined {
  if (row.op === 'put' && upstream && row.md5 && md5Of(upstream) === row.md5) return undefined;
  if (row.op === 'delete' && !upstream) return undefined;
  const now = upstream ? etagOf(upstream) : null;
  if (row.base === null) {
    if (upstream && upstream.mtimeMs > row.sinceMs) return { cloudEtag: now, why: `the cloud object was modified at ${new Date(upstream.mtimeMs).toISOString()}, after this write was accepted` };
    return undefined;
  }
  if (row.base === '') return upstream ? { cloudEtag: now, why: 'an object was created in the cloud after this write was accepted' } : undefined;
  if (!upstream) return { cloudEtag: null, why: `the object was deleted in the cloud (it was ETag ${row.base} when this write was accepted)` };
  return now === row.base ? undefined : { cloudEtag: now, why: `the cloud object changed (ETag ${row.base} when this write was accepted, now ${now})` };
}
