/**
 * The tiering planner: pure decisions about one object, given the rules that cover its
 * location, what its listing says and when a gateway last served it. No I/O — where the
 * decision needs the content's real modification time and the listing had only the
 * store's Last-Modified, it asks for it (`resolve`), and the executor (apply.ts) asks again
 * with the fact filled in, as the sync planner does.
 *
 * Which rule wins: of the rules whose location, globs, size and ages hold for the object,
 * the one with the coldest class (the first in the file among equals) — so the order of
 * rules in the file does not matter, as with S3 lifecycle transitions. An object is only
 * ever moved to a colder class, never warmed up, and an object already in a class that
 * needs a restore to be read (S3 GLACIER/DEEP_ARCHIVE, Azure Archive) is left alone: S3
 * copies it only once restored, so moving it further is a job for the store's own
 * lifecycle rules.
 */
import type { Entry } from '../core/entry.js';
import type { BackendType } from '../core/location.js';
import { canonicalClass, classRank, needsRestore } from '../config/tier.js';
import type { Filter } from '../sync/filter.js';

/** A rule as the planner uses it, relative to the root the executor lists. */
export interface PlannedRule {
  readonly name: string;
  /** The rule location's key prefix below the listing root ('' or ending in '/'). */
  readonly prefix: string;
  /** Globs and size bound, applied to the key relative to the rule's location. */
  readonly filter: Filter;
  readonly olderThanMs?: number;
  readonly notAccessedForMs?: number;
  /** The class objects move to, as the store spells it. */
  readonly storageClass: string;
}

export interface TierPlanContext {
  readonly type: BackendType;
  readonly rules: readonly PlannedRule[];
  readonly now: number;
}

export interface TierFacts {
  /** The object as listed (keys relative to the listing root), or as stat'ed once the planner asked. */
  readonly entry: Entry;
  /** When a gateway last served it (ms), where a gateway cache recorded it. */
  readonly accessedMs?: number;
}

export type KeepReason =
  /** No rule covers it (location, globs, size). */
  | 'no-rule'
  /** Every covering rule's class is no colder than its class now. */
  | 'already-colder'
  /** It is in a class that needs a restore before it can be copied (GLACIER, DEEP_ARCHIVE, Archive). */
  | 'archived'
  /** Modified too recently for every colder rule. */
  | 'too-young'
  /** Read through a gateway too recently for every colder rule. */
  | 'recently-accessed'
  /** Its class is none hybridsync knows (a server's own placement name): left alone. */
  | 'unknown-class';

export type TierDecision =
  | { readonly kind: 'transition'; readonly from: string; readonly to: string; readonly rule: string }
  | { readonly kind: 'keep'; readonly reason: KeepReason; readonly storageClass: string; readonly rule?: string }
  /** The content's modification time is needed (the listing had only Last-Modified). */
  | { readonly kind: 'resolve'; readonly need: 'mtime' };

/** The class an entry is in: as listed, else the store's default (S3 STANDARD, Azure Hot). */
export function classOf(type: BackendType, e: Entry): string {
  return e.storageClass ?? (type === 'azureblob' ? 'Hot' : 'STANDARD');
}

type Holds = 'yes' | 'no' | 'maybe';

/**
 * Whether a rule's ages hold. Without the exact mtime the listing's Last-Modified stands in:
 * it is at or after the content's mtime (an upload or a copy comes after the edit), so an
 * age that holds on it holds, and one that does not is only a maybe.
 */
function agesHold(r: PlannedRule, f: TierFacts, now: number): { holds: Holds; failed?: 'modified' | 'accessed' } {
  const e = f.entry;
  const modifiedAge = now - e.mtimeMs;
  const unknown: Holds = e.mtimeExact ? 'no' : 'maybe';
  if (r.olderThanMs !== undefined && modifiedAge < r.olderThanMs) return { holds: unknown, failed: 'modified' };
  if (r.notAccessedForMs !== undefined) {
    // never served by a gateway (or no gateway named): the last modification stands in
    const accessedAge = f.accessedMs !== undefined ? now - Math.max(f.accessedMs, e.mtimeExact ? e.mtimeMs : -Infinity) : modifiedAge;
    if (accessedAge < r.notAccessedForMs) return f.accessedMs !== undefined ? { holds: 'no', failed: 'accessed' } : { holds: unknown, failed: 'modified' };
  }
  return { holds: 'yes' };
}

/** Decides what happens to one object. */
export function decideTier(f: TierFacts, c: TierPlanContext): TierDecision {
  const e = f.entry;
  const listed = classOf(c.type, e);
  const from = canonicalClass(c.type, listed) ?? listed;
  const covering = c.rules.filter((r) => e.key.startsWith(r.prefix) && r.filter.matches({ ...e, key: e.key.slice(r.prefix.length) }));
  if (covering.length === 0) return { kind: 'keep', reason: 'no-rule', storageClass: from };
  const rank = classRank(c.type, from);
  if (rank === undefined) return { kind: 'keep', reason: 'unknown-class', storageClass: from };
  const colder = covering.filter((r) => (classRank(c.type, r.storageClass) ?? -1) > rank);
  if (colder.length === 0) return { kind: 'keep', reason: 'already-colder', storageClass: from, rule: covering[0]!.name };
  if (needsRestore(c.type, from)) return { kind: 'keep', reason: 'archived', storageClass: from };
  let best: PlannedRule | undefined;
  let bestRank = -1;
  let maybeColder = -1;
  let failed: 'modified' | 'accessed' | undefined;
  for (const r of colder) {
    const to = classRank(c.type, r.storageClass)!;
    const h = agesHold(r, f, c.now);
    if (h.holds === 'yes' && to > bestRank) {
      best = r;
      bestRank = to;
    } else if (h.holds === 'maybe') maybeColder = Math.max(maybeColder, to);
    else if (h.holds === 'no') failed ??= h.failed;
  }
  // a colder rule might hold on the content's real mtime: learn it before settling
  if (maybeColder > bestRank) return { kind: 'resolve', need: 'mtime' };
  if (best) return { kind: 'transition', from, to: best.storageClass, rule: best.name };
  return { kind: 'keep', reason: failed === 'accessed' ? 'recently-accessed' : 'too-young', storageClass: from, rule: colder[0]!.name };
}
