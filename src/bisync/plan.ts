/**
 * The three-way planner of bisync: pure decisions about one key from what path1 and path2
 * hold now and what both held after the last run (the merge base). No I/O — the executor
 * gathers a missing hash and asks again (`resolve`), like the one-way planner
 * (src/sync/plan.ts), so every rule is testable with plain objects.
 *
 * The rules, per key (base = the merge base's row; "changed" = differs from it):
 *   no base, one side          → copy to the other side (first run: a safe merge)
 *   no base, both sides        → same content: record; else a conflict
 *   base, both unchanged       → nothing
 *   base, one side changed     → copy it over
 *   base, both changed         → same content: record; else a conflict
 *   base, deleted on one side  → unchanged on the other: delete there (a tombstone);
 *                                changed there: copy it back (a change beats a delete)
 *   base, deleted on both      → forget the row
 * Renames are deletes plus new files with the deleted content; the executor pairs them
 * by hash (`isRenameOf`) before the delete budget is counted.
 */
import picomatch from 'picomatch';
import type { Entry } from '../core/entry.js';
import type { ConflictPolicy, MergeDriverName, MergeRule, SsotKind } from '../config/bisync.js';
import type { Filter } from '../sync/filter.js';

export type Side = 1 | 2;

/** What the merge base knows about one side of a key. */
export interface BaseSide {
  readonly size: number;
  readonly mtimeMs: number;
  /** Object stores: the ETag after the last run; null for local files. */
  readonly etag: string | null;
  readonly md5: string | null;
}

export interface BaseRow {
  readonly key: string;
  readonly s1: BaseSide;
  readonly s2: BaseSide;
}

/** One key of the three-way march. */
export interface Triple {
  readonly key: string;
  readonly e1?: Entry;
  readonly e2?: Entry;
  readonly base?: BaseRow;
}

export type BisyncDecision =
  | { readonly kind: 'excluded' }
  | { readonly kind: 'unchanged' }
  /** Both sides hold the same content: the base takes both entries. */
  | { readonly kind: 'record' }
  /** Gone on both sides: the base row goes. */
  | { readonly kind: 'forget' }
  | { readonly kind: 'copy'; readonly to: Side; readonly reason: 'new' | 'changed' | 'restore' }
  | { readonly kind: 'delete'; readonly on: Side }
  | { readonly kind: 'conflict'; readonly reason: 'both-changed' | 'both-new' }
  | { readonly kind: 'resolve'; readonly need: 'md5-1' | 'md5-2' };

export interface BisyncPlanOptions {
  /** Mtimes closer than this are equal. */
  readonly modifyWindowMs: number;
  readonly filter?: Filter;
}

/** Whether `e` differs from what the base recorded for its side. */
export function changedSince(e: Entry, b: BaseSide, windowMs: number): boolean {
  if (e.size !== b.size) return true;
  if (e.etag !== undefined && b.etag !== null) return e.etag !== b.etag;
  if (e.md5 !== undefined && b.md5 !== null) return e.md5 !== b.md5;
  if (e.mtimeExact) return Math.abs(e.mtimeMs - b.mtimeMs) > windowMs;
  return true; // nothing to tell by: assume it changed (a copy, never a loss)
}

function inScope(t: Triple, f: Filter | undefined): boolean {
  if (!f) return true;
  const e = t.e1 ?? t.e2;
  if (e) return f.matches(e);
  return f.matchesKey(t.key);
}

/** Same content on both sides, or what to learn first; differing sizes are never the same. */
function sameContent(e1: Entry, e2: Entry): boolean | BisyncDecision {
  if (e1.size !== e2.size) return false;
  if (!e1.md5) return { kind: 'resolve', need: 'md5-1' };
  if (!e2.md5) return { kind: 'resolve', need: 'md5-2' };
  return e1.md5 === e2.md5;
}

function bothPresent(e1: Entry, e2: Entry, reason: 'both-changed' | 'both-new'): BisyncDecision {
  const same = sameContent(e1, e2);
  if (typeof same === 'object') return same;
  return same ? { kind: 'record' } : { kind: 'conflict', reason };
}

export function decideBisync(t: Triple, o: BisyncPlanOptions): BisyncDecision {
  if (!inScope(t, o.filter)) return { kind: 'excluded' };
  const { e1, e2, base } = t;
  if (!base) {
    if (e1 && e2) return bothPresent(e1, e2, 'both-new');
    if (e1) return { kind: 'copy', to: 2, reason: 'new' };
    if (e2) return { kind: 'copy', to: 1, reason: 'new' };
    return { kind: 'unchanged' };
  }
  const c1 = e1 ? changedSince(e1, base.s1, o.modifyWindowMs) : undefined;
  const c2 = e2 ? changedSince(e2, base.s2, o.modifyWindowMs) : undefined;
  if (e1 && e2) {
    if (!c1 && !c2) return { kind: 'unchanged' };
    if (c1 && !c2) return { kind: 'copy', to: 2, reason: 'changed' };
    if (!c1 && c2) return { kind: 'copy', to: 1, reason: 'changed' };
    return bothPresent(e1, e2, 'both-changed');
  }
  if (e1) return c1 ? { kind: 'copy', to: 2, reason: 'restore' } : { kind: 'delete', on: 1 };
  if (e2) return c2 ? { kind: 'copy', to: 1, reason: 'restore' } : { kind: 'delete', on: 2 };
  return { kind: 'forget' };
}

/**
 * A new file on one side is the renamed content of a key deleted on that side when size
 * and MD5 equal what the base held for the deleted key there.
 */
export function isRenameOf(created: Entry, deleted: BaseSide): boolean {
  return created.size === deleted.size && created.md5 !== undefined && deleted.md5 !== null && created.md5 === deleted.md5;
}

// ------------------------------------------------------------------------ conflicts

export interface ConflictContext {
  readonly policy: ConflictPolicy;
  /** The environment kind of each side (from environments:), for --conflict ssot. */
  readonly kinds?: { readonly 1?: string; readonly 2?: string };
  readonly ssot?: SsotKind;
}

export interface ConflictResolution {
  readonly winner: Side;
  /** keep-both: the loser stays under a conflict name instead of being replaced. */
  readonly keepLoser: boolean;
}

/** The side the file of a conflict comes from, and whether the other version is kept. */
export function resolveConflict(e1: Entry, e2: Entry, c: ConflictContext): ConflictResolution {
  const newer: Side = e2.mtimeMs > e1.mtimeMs ? 2 : 1;
  switch (c.policy) {
    case 'keep-both':
      return { winner: newer, keepLoser: true };
    case 'newer':
      return { winner: newer, keepLoser: false };
    case 'older':
      return { winner: e2.mtimeMs < e1.mtimeMs ? 2 : 1, keepLoser: false };
    case 'larger':
      return { winner: e1.size === e2.size ? newer : e2.size > e1.size ? 2 : 1, keepLoser: false };
    case 'path1':
      return { winner: 1, keepLoser: false };
    case 'path2':
      return { winner: 2, keepLoser: false };
    case 'ssot': {
      const winner = ssotSide(c);
      // validated before the run; undecidable here means keep both rather than lose one
      return winner ? { winner, keepLoser: false } : { winner: newer, keepLoser: true };
    }
  }
}

/** The side in an environment of the source-of-truth kind, when exactly one is. */
export function ssotSide(c: Pick<ConflictContext, 'kinds' | 'ssot'>): Side | undefined {
  if (!c.ssot) return undefined;
  const one = c.kinds?.[1] === c.ssot;
  const two = c.kinds?.[2] === c.ssot;
  return one === two ? undefined : one ? 1 : 2;
}

/** `20261202T011600Z` for a time in ms. */
export function conflictStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `dir/name.conflict-<stamp>-path2.ext`: where the losing version of a conflict is kept. */
export function conflictName(key: string, stamp: string, side: Side): string {
  const slash = key.lastIndexOf('/');
  const dir = key.slice(0, slash + 1);
  const base = key.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  return `${dir}${stem}.conflict-${stamp}-path${side}${ext}`;
}

/** A conflict copy made by an earlier run: never itself merged or renamed again. */
export function isConflictCopy(key: string): boolean {
  return /\.conflict-\d{8}T\d{6}Z-path[12](\.[^/]*)?$/.test(key);
}

// --------------------------------------------------------------------- merge drivers

export interface MergeChoice {
  readonly driver: MergeDriverName;
  readonly key?: string;
}

/** The first merge rule matching a key wins; none: `conflict`. */
export function compileMergeRules(rules: readonly MergeRule[]): (key: string) => MergeChoice {
  const compiled = rules.map((r) => ({ r, test: picomatch(r.glob, { dot: true, basename: !r.glob.includes('/') }) }));
  return (key) => {
    const hit = compiled.find((c) => c.test(key));
    return hit ? { driver: hit.r.driver, ...(hit.r.key ? { key: hit.r.key } : {}) } : { driver: 'conflict' };
  };
}
