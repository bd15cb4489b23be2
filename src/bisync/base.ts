/**
 * The merge base of bisync, in the state database: per pair of locations (both canonical
 * ids) and per path, what each side held after the last run — size, mtime, ETag, MD5.
 * Rows are committed one by one as each action completes (no batching: a crash must not
 * lose a commit, or the next run would see a change that is not one). Also: the plan of
 * the current run (spooled, so memory stays flat) and the conflicts seen, each with the
 * stamp its loser's name carries, so a rerun after a crash reuses the name.
 */
import type Database from 'better-sqlite3';
import type { Entry } from '../core/entry.js';
import type { BaseRow, BaseSide, Side } from './plan.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bisync_base (
  pair TEXT NOT NULL, key TEXT NOT NULL,
  size1 INTEGER NOT NULL, mtime1 REAL NOT NULL, etag1 TEXT, md5_1 TEXT,
  size2 INTEGER NOT NULL, mtime2 REAL NOT NULL, etag2 TEXT, md5_2 TEXT,
  PRIMARY KEY (pair, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bisync_conflicts (
  pair TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, stamp TEXT NOT NULL, seen_at INTEGER NOT NULL,
  PRIMARY KEY (pair, key, fingerprint)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bisync_plan (
  run INTEGER NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL, side INTEGER NOT NULL,
  size INTEGER, md5 TEXT, e1 TEXT, e2 TEXT, base TEXT, detail TEXT,
  PRIMARY KEY (run, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bisync_plan_by_action ON bisync_plan(run, action, side, size);
`;

export type PlanAction = 'copy' | 'delete' | 'conflict' | 'rename';

/** One spooled action of a run. */
export interface PlanRow {
  readonly key: string;
  readonly action: PlanAction;
  /** copy/rename: the destination side; delete: the side deleted on; conflict: 0. */
  readonly side: Side | 0;
  /** copy: the source's size and MD5 (if known); delete: the base's for the side it went from. */
  readonly size?: number;
  readonly md5?: string;
  readonly e1?: Entry;
  readonly e2?: Entry;
  readonly base?: BaseRow;
  /** copy: the reason; rename: the key it moves from. */
  readonly detail?: string;
}

interface RawPlan {
  key: string;
  action: PlanAction;
  side: number;
  size: number | null;
  md5: string | null;
  e1: string | null;
  e2: string | null;
  base: string | null;
  detail: string | null;
}

interface RawBase {
  key: string;
  size1: number;
  mtime1: number;
  etag1: string | null;
  md5_1: string | null;
  size2: number;
  mtime2: number;
  etag2: string | null;
  md5_2: string | null;
}

function rowOf(r: RawBase): BaseRow {
  return {
    key: r.key,
    s1: { size: r.size1, mtimeMs: r.mtime1, etag: r.etag1, md5: r.md5_1 },
    s2: { size: r.size2, mtimeMs: r.mtime2, etag: r.etag2, md5: r.md5_2 },
  };
}

function planOf(r: RawPlan): PlanRow {
  return {
    key: r.key,
    action: r.action,
    side: r.side as Side | 0,
    ...(r.size !== null ? { size: r.size } : {}),
    ...(r.md5 !== null ? { md5: r.md5 } : {}),
    ...(r.e1 ? { e1: JSON.parse(r.e1) as Entry } : {}),
    ...(r.e2 ? { e2: JSON.parse(r.e2) as Entry } : {}),
    ...(r.base ? { base: JSON.parse(r.base) as BaseRow } : {}),
    ...(r.detail !== null ? { detail: r.detail } : {}),
  };
}

/** A side's base record from an entry as it is now on that side. */
export function baseSideOf(e: Entry, md5?: string | null): BaseSide {
  return { size: e.size, mtimeMs: e.mtimeMs, etag: e.etag ?? null, md5: md5 ?? e.md5 ?? null };
}

export class MergeBase {
  private readonly s;

  /** `pair` identifies the two locations (both canonical ids, in path1, path2 order). */
  constructor(
    private readonly db: Database.Database,
    readonly pair: string,
  ) {
    db.exec(SCHEMA);
    this.s = {
      get: db.prepare('SELECT * FROM bisync_base WHERE pair = ? AND key = ?'),
      put: db.prepare('INSERT OR REPLACE INTO bisync_base (pair, key, size1, mtime1, etag1, md5_1, size2, mtime2, etag2, md5_2) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      del: db.prepare('DELETE FROM bisync_base WHERE pair = ? AND key = ?'),
      page: db.prepare('SELECT * FROM bisync_base WHERE pair = ? AND key > ? ORDER BY key LIMIT ?'),
      pageUnder: db.prepare('SELECT * FROM bisync_base WHERE pair = ? AND key > ? AND key >= ? AND key < ? ORDER BY key LIMIT ?'),
      count: db.prepare('SELECT count(*) AS n FROM bisync_base WHERE pair = ?'),
      stampGet: db.prepare('SELECT stamp FROM bisync_conflicts WHERE pair = ? AND key = ? AND fingerprint = ?'),
      stampPut: db.prepare('INSERT OR IGNORE INTO bisync_conflicts (pair, key, fingerprint, stamp, seen_at) VALUES (?, ?, ?, ?, ?)'),
      planPut: db.prepare('INSERT OR REPLACE INTO bisync_plan (run, key, action, side, size, md5, e1, e2, base, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      planGet: db.prepare('SELECT * FROM bisync_plan WHERE run = ? AND key = ?'),
      planDel: db.prepare('DELETE FROM bisync_plan WHERE run = ? AND key = ?'),
      planPage: db.prepare('SELECT * FROM bisync_plan WHERE run = ? AND action = ? AND key > ? ORDER BY key LIMIT ?'),
      planPageSide: db.prepare('SELECT * FROM bisync_plan WHERE run = ? AND action = ? AND side = ? AND key > ? ORDER BY key LIMIT ?'),
      planCount: db.prepare('SELECT count(*) AS n FROM bisync_plan WHERE run = ? AND action = ? AND side = ?'),
      planBySize: db.prepare("SELECT * FROM bisync_plan WHERE run = ? AND action = 'copy' AND side = ? AND size = ? AND detail = 'new' ORDER BY key"),
      planClear: db.prepare('DELETE FROM bisync_plan WHERE run = ?'),
    };
  }

  get(key: string): BaseRow | undefined {
    const r = this.s.get.get(this.pair, key) as RawBase | undefined;
    return r && rowOf(r);
  }

  put(key: string, s1: BaseSide, s2: BaseSide): void {
    this.s.put.run(this.pair, key, s1.size, s1.mtimeMs, s1.etag, s1.md5, s2.size, s2.mtimeMs, s2.etag, s2.md5);
  }

  forget(key: string): void {
    this.s.del.run(this.pair, key);
  }

  count(): number {
    return (this.s.count.get(this.pair) as { n: number }).n;
  }

  /** Every row in key order, a page at a time. */
  async *rows(pageSize = 1000): AsyncGenerator<BaseRow> {
    let after = '';
    while (true) {
      const page = this.s.page.all(this.pair, after, pageSize) as RawBase[];
      for (const r of page) yield rowOf(r);
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.key;
    }
  }

  /** The rows under a directory prefix (ending in '/'), in key order. */
  async *rowsUnder(prefix: string, pageSize = 1000): AsyncGenerator<BaseRow> {
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    let after = '';
    while (true) {
      const page = this.s.pageUnder.all(this.pair, after, prefix, end, pageSize) as RawBase[];
      for (const r of page) yield rowOf(r);
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.key;
    }
  }

  /** The stamp of this conflict (same key, same two versions) if a run saw it before, else `fresh`, recorded. */
  conflictStamp(key: string, fingerprint: string, fresh: string): string {
    const known = this.s.stampGet.get(this.pair, key, fingerprint) as { stamp: string } | undefined;
    if (known) return known.stamp;
    this.s.stampPut.run(this.pair, key, fingerprint, fresh, Date.now());
    return fresh;
  }

  // ---------------------------------------------------------------- a run's plan

  addPlan(run: number, p: PlanRow): void {
    this.s.planPut.run(
      run,
      p.key,
      p.action,
      p.side,
      p.size ?? null,
      p.md5 ?? null,
      p.e1 ? JSON.stringify(p.e1) : null,
      p.e2 ? JSON.stringify(p.e2) : null,
      p.base ? JSON.stringify(p.base) : null,
      p.detail ?? null,
    );
  }

  getPlan(run: number, key: string): PlanRow | undefined {
    const r = this.s.planGet.get(run, key) as RawPlan | undefined;
    return r && planOf(r);
  }

  dropPlan(run: number, key: string): void {
    this.s.planDel.run(run, key);
  }

  planCount(run: number, action: PlanAction, side: Side | 0): number {
    return (this.s.planCount.get(run, action, side) as { n: number }).n;
  }

  /** New files planned to be copied to `side` with this size: the rename candidates of a delete there. */
  newCopiesOfSize(run: number, side: Side, size: number): PlanRow[] {
    return (this.s.planBySize.all(run, side, size) as RawPlan[]).map(planOf);
  }

  /** A run's actions of one kind (and side) in key order, a page at a time; rows added meanwhile after the cursor are seen too. */
  *plan(run: number, action: PlanAction, side?: Side | 0, pageSize = 500): Generator<PlanRow> {
    let after = '';
    while (true) {
      const page = (side === undefined ? this.s.planPage.all(run, action, after, pageSize) : this.s.planPageSide.all(run, action, side, after, pageSize)) as RawPlan[];
      for (const r of page) yield planOf(r);
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.key;
    }
  }

  clearPlan(run: number): void {
    this.s.planClear.run(run);
  }
}
