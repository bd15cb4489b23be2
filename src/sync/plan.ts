/**
 * The planner: pure decisions about one key, given what is known about both sides.
 * No I/O — the executor gathers missing facts (a destination HEAD, a content hash) and
 * asks again (`resolve`), which keeps every rule here testable with plain objects
 * (changesets' assembleReleasePlan / rclone's NeedTransfer).
 */
import { keyBytes, type Entry } from '../core/entry.js';
import { derivedFromMetadata } from './derived.js';
import type { Filter } from './filter.js';
import type { MarchPair } from './march.js';

import type { Compare, Mode } from '../config/options.js';

export type { Compare, Mode };

export interface PlanOptions {
  readonly mode: Mode;
  readonly compare: Compare;
  /** Mtimes closer than this are equal (filesystems and S3 metadata round differently). */
  readonly modifyWindowMs: number;
  readonly ignoreExisting?: boolean;
  readonly filter?: Filter;
  /** Destination naming limits (from its features) and its key prefix length in bytes. */
  readonly dstMaxKeyBytes?: number;
  readonly dstPrefixBytes?: number;
  /**
   * Destination files may be transforms of their source (a governed run, or a check) whose
   * object metadata records the source version they were made from: before calling such
   * a file different, the planner asks for its metadata ('dst-meta') when the listing did
   * not carry it.
   */
  readonly derivations?: boolean;
}

export type TransferReason = 'missing' | 'size' | 'mtime' | 'checksum';
export type Decision =
  | { readonly kind: 'transfer'; readonly reason: TransferReason }
  /** derived: the destination is a transform (e.g. PII-scrubbed) of exactly this source version */
  | { readonly kind: 'skip'; readonly reason: 'identical' | 'same-content' | 'existing' | 'derived' }
  | { readonly kind: 'excluded' }
  | { readonly kind: 'delete' }
  /** dst-only in copy mode: left alone; in check mode: reported as extra */
  | { readonly kind: 'extra' }
  | { readonly kind: 'resolve'; readonly need: 'src-stat' | 'dst-stat' | 'src-md5' | 'dst-md5' | 'dst-meta' }
  | { readonly kind: 'invalid'; readonly message: string; readonly hint: string };

function mtimeEqual(a: Entry, b: Entry, window: number): boolean {
  return Math.abs(a.mtimeMs - b.mtimeMs) <= window;
}

/** The source version a transformed destination file was made from (see StateDb.getDerived). */
export interface SourceVersion {
  readonly size: number;
  readonly mtimeMs: number;
  readonly md5?: string | null;
}

export interface PlanPair extends MarchPair {
  /** Set when the destination is a transform (e.g. PII-scrubbed) of a known source version. */
  readonly dstDerivedFrom?: SourceVersion;
}

export function decide(pair: PlanPair, o: PlanOptions): Decision {
  const { src, dst } = pair;
  if (o.filter) {
    const inScope = src ? o.filter.matches(src) : dst ? o.filter.matches(dst) : false;
    if (!inScope) return { kind: 'excluded' };
  }
  if (!src) return o.mode === 'sync' ? { kind: 'delete' } : { kind: 'extra' };

  if (o.dstMaxKeyBytes !== undefined) {
    const n = keyBytes(src.key) + (o.dstPrefixBytes ?? 0);
    if (n > o.dstMaxKeyBytes) {
      return {
        kind: 'invalid',
        message: `${src.key}: name is ${n} bytes, over the destination's ${o.dstMaxKeyBytes}-byte key limit`,
        hint: 'shorten the path or use a shorter destination prefix, or --exclude it',
      };
    }
  }
  if (!dst) return { kind: 'transfer', reason: 'missing' };
  if (o.ignoreExisting) return { kind: 'skip', reason: 'existing' };
  // the destination differs from the source by design: compare with what it was made from
  const from = pair.dstDerivedFrom ?? derivedFromMetadata(dst.metadata);
  if (from) return compareWithOrigin(src, from, o);
  const d = compareDirect(src, dst, o);
  // before calling a file different, look for a record that it is a transform of the source
  const differs = d.kind === 'transfer' || (d.kind === 'resolve' && d.need === 'dst-md5');
  if (differs && o.derivations && dst.metadata === undefined) return { kind: 'resolve', need: 'dst-meta' };
  return d;
}

/** A transformed destination: the source must still be the version it was made from. */
function compareWithOrigin(src: Entry, from: SourceVersion, o: PlanOptions): Decision {
  if (src.size !== from.size) return { kind: 'transfer', reason: 'size' };
  if (o.compare === 'size-only') return { kind: 'skip', reason: 'derived' };
  if (o.compare === 'checksum' && from.md5) {
    if (!src.md5) return { kind: 'resolve', need: 'src-md5' };
    return src.md5 === from.md5 ? { kind: 'skip', reason: 'derived' } : { kind: 'transfer', reason: 'checksum' };
  }
  if (!src.mtimeExact) return { kind: 'resolve', need: 'src-stat' };
  return Math.abs(src.mtimeMs - from.mtimeMs) <= o.modifyWindowMs ? { kind: 'skip', reason: 'derived' } : { kind: 'transfer', reason: 'mtime' };
}

/** Source and destination hold the same bytes when they are in sync. */
function compareDirect(src: Entry, dst: Entry, o: PlanOptions): Decision {
  if (src.size !== dst.size) return { kind: 'transfer', reason: 'size' };
  if (o.compare === 'size-only') return { kind: 'skip', reason: 'identical' };

  if (o.compare === 'checksum') {
    if (!src.md5) return { kind: 'resolve', need: 'src-md5' };
    if (!dst.md5) {
      if (!dst.mtimeExact) return { kind: 'resolve', need: 'dst-stat' };
      return { kind: 'resolve', need: 'dst-md5' };
    }
    return src.md5 === dst.md5 ? { kind: 'skip', reason: 'identical' } : { kind: 'transfer', reason: 'checksum' };
  }

  // size + mtime
  if (!src.mtimeExact) return { kind: 'resolve', need: 'src-stat' };
  if (!dst.mtimeExact) return { kind: 'resolve', need: 'dst-stat' };
  if (mtimeEqual(src, dst, o.modifyWindowMs)) return { kind: 'skip', reason: 'identical' };
  // Same size, different mtime: the content may or may not differ (a same-size edit, or a
  // touch). When both hashes are known for free they decide; otherwise transfer.
  if (src.md5 && dst.md5) return src.md5 === dst.md5 ? { kind: 'skip', reason: 'same-content' } : { kind: 'transfer', reason: 'checksum' };
  return { kind: 'transfer', reason: 'mtime' };
}
