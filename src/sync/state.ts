/**
 * The state database (SQLite, WAL): the run journal, resumable multipart uploads, a
 * cache of what is known about stored objects (so an unchanged re-sync needs no HEAD per
 * object) and the deletions a sync defers until every transfer has succeeded.
 * One file per user by default: $HYBRIDSYNC_STATE_DIR or ~/.hybridsync/state.db.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import type { ChunkJournal, CompletedChunk, JournaledUpload } from '../core/backend.js';
import { sqliteOptions } from '../lib/sqlite.js';

export function defaultStatePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HYBRIDSYNC_STATE_DIR ?? join(homedir(), '.hybridsync'), 'state.db');
}

const SCHEMA_VERSION = 2;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  command TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,
  started_at INTEGER NOT NULL, ended_at INTEGER, status TEXT NOT NULL DEFAULT 'running',
  summary TEXT
);
CREATE TABLE IF NOT EXISTS chunked_uploads (
  upload_token TEXT NOT NULL, location TEXT NOT NULL, key TEXT NOT NULL,
  fingerprint TEXT NOT NULL, chunk_size INTEGER NOT NULL, started_at INTEGER NOT NULL,
  PRIMARY KEY (location, upload_token)
);
CREATE INDEX IF NOT EXISTS chunked_uploads_by_key ON chunked_uploads(location, key);
CREATE TABLE IF NOT EXISTS chunked_upload_openings (
  id INTEGER PRIMARY KEY AUTOINCREMENT, location TEXT NOT NULL, key TEXT NOT NULL, started_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS upload_chunks (
  location TEXT NOT NULL, upload_token TEXT NOT NULL, idx INTEGER NOT NULL, token TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (location, upload_token, idx)
);
CREATE TABLE IF NOT EXISTS objects (
  location TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  mtime_ms REAL NOT NULL, md5 TEXT, PRIMARY KEY (location, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS derived (
  location TEXT NOT NULL, key TEXT NOT NULL, dst_size INTEGER NOT NULL, dst_tag TEXT NOT NULL,
  src_size INTEGER NOT NULL, src_mtime_ms REAL NOT NULL, src_md5 TEXT, PRIMARY KEY (location, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS denials (
  src TEXT NOT NULL, dst TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL,
  verdict TEXT NOT NULL, first_run INTEGER NOT NULL, first_at INTEGER NOT NULL, PRIMARY KEY (src, dst, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_deletes (
  run_id INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_restores (
  run_id INTEGER NOT NULL, key TEXT NOT NULL, side TEXT NOT NULL, PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
`;

export interface KnownObject {
  readonly size: number;
  /** The ETag for S3 objects, or "size:mtime:changeTag" for local files (the MD5 cache, see hashCacheTag in execute.ts). */
  readonly etag: string;
  readonly mtimeMs: number;
  readonly md5: string | null;
}

export interface DerivedFrom {
  readonly dstSize: number;
  readonly dstTag: string;
  /** The source version the destination was made from. */
  readonly size: number;
  readonly mtimeMs: number;
  readonly md5?: string | null;
}

/** A policy denial as remembered between runs: which source version, which verdict. */
export interface Denial {
  readonly size: number;
  readonly mtimeMs: number;
  /** A digest of the classification, rule and reason (no reason text is stored). */
  readonly verdict: string;
}

export interface KnownDenial {
  readonly firstRun: number;
  readonly firstAt: number;
}

/** The keys of one run in a parking table, in key order, a page at a time (memory stays flat). */
function* pages(page: Database.Statement, runId: number, pageSize: number): Generator<string> {
  let after = '';
  while (true) {
    const rows = page.all(runId, after, pageSize) as Array<{ key: string }>;
    for (const r of rows) yield r.key;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.key;
  }
}

export class StateDb {
  readonly db: Database.Database;
  private readonly stmts;
  private readonly pendingObjects = new Map<string, KnownObject>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(readonly path: string = defaultStatePath()) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.db = new Database(path, sqliteOptions());
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    if ((this.db.pragma('user_version', { simple: true }) as number) < SCHEMA_VERSION) {
      // v2: chunked uploads with opaque tokens (S3 parts, Azure blocks) keyed by canonical
      // location ids. Journaled uploads and cached object facts of an older format are
      // dropped: the uploads are not resumed (the next run aborts nothing it cannot name;
      // S3 lifecycle rules or the server expire them), the caches refill.
      this.db.exec('DROP TABLE IF EXISTS upload_parts; DROP TABLE IF EXISTS uploads; DROP TABLE IF EXISTS objects; DROP TABLE IF EXISTS derived;');
      this.db.exec(SCHEMA);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } else this.db.exec(SCHEMA);
    const d = this.db;
    this.stmts = {
      runStart: d.prepare('INSERT INTO runs (command, src, dst, started_at) VALUES (?, ?, ?, ?)'),
      runEnd: d.prepare('UPDATE runs SET ended_at = ?, status = ?, summary = ? WHERE id = ?'),
      uploadFind: d.prepare(
        'SELECT upload_token, fingerprint, chunk_size FROM chunked_uploads WHERE location = ? AND key = ? AND fingerprint = ? ORDER BY started_at DESC LIMIT 1',
      ),
      uploadChunks: d.prepare('SELECT idx, token, size, sha256 FROM upload_chunks WHERE location = ? AND upload_token = ? ORDER BY idx'),
      uploadStart: d.prepare('INSERT OR REPLACE INTO chunked_uploads (upload_token, location, key, fingerprint, chunk_size, started_at) VALUES (?, ?, ?, ?, ?, ?)'),
      openingAdd: d.prepare('INSERT INTO chunked_upload_openings (location, key, started_at) VALUES (?, ?, ?)'),
      openingDel: d.prepare('DELETE FROM chunked_upload_openings WHERE location = ? AND id = ?'),
      openingsAt: d.prepare('SELECT id, key, started_at FROM chunked_upload_openings WHERE location = ? ORDER BY id'),
      chunkDone: d.prepare('INSERT OR REPLACE INTO upload_chunks (location, upload_token, idx, token, size, sha256) VALUES (?, ?, ?, ?, ?, ?)'),
      uploadEnd: d.prepare('DELETE FROM chunked_uploads WHERE location = ? AND upload_token = ?'),
      uploadChunksEnd: d.prepare('DELETE FROM upload_chunks WHERE location = ? AND upload_token = ?'),
      uploadsAt: d.prepare('SELECT upload_token, key FROM chunked_uploads WHERE location = ?'),
      objGet: d.prepare('SELECT size, etag, mtime_ms AS mtimeMs, md5 FROM objects WHERE location = ? AND key = ?'),
      objPut: d.prepare('INSERT OR REPLACE INTO objects (location, key, size, etag, mtime_ms, md5) VALUES (?, ?, ?, ?, ?, ?)'),
      objDel: d.prepare('DELETE FROM objects WHERE location = ? AND key = ?'),
      derivedGet: d.prepare('SELECT dst_size AS dstSize, dst_tag AS dstTag, src_size AS size, src_mtime_ms AS mtimeMs, src_md5 AS md5 FROM derived WHERE location = ? AND key = ?'),
      derivedPut: d.prepare('INSERT OR REPLACE INTO derived (location, key, dst_size, dst_tag, src_size, src_mtime_ms, src_md5) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      derivedDel: d.prepare('DELETE FROM derived WHERE location = ? AND key = ?'),
      denialGet: d.prepare('SELECT size, mtime_ms AS mtimeMs, verdict, first_run AS firstRun, first_at AS firstAt FROM denials WHERE src = ? AND dst = ? AND key = ?'),
      denialPut: d.prepare('INSERT OR REPLACE INTO denials (src, dst, key, size, mtime_ms, verdict, first_run, first_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      denialDel: d.prepare('DELETE FROM denials WHERE src = ? AND dst = ? AND key = ?'),
      denialAny: d.prepare('SELECT 1 FROM denials WHERE src = ? AND dst = ? LIMIT 1'),
      delAdd: d.prepare('INSERT OR IGNORE INTO pending_deletes (run_id, key) VALUES (?, ?)'),
      delCount: d.prepare('SELECT count(*) AS n FROM pending_deletes WHERE run_id = ?'),
      delPage: d.prepare('SELECT key FROM pending_deletes WHERE run_id = ? AND key > ? ORDER BY key LIMIT ?'),
      delClear: d.prepare('DELETE FROM pending_deletes WHERE run_id = ?'),
      restoreAdd: d.prepare('INSERT OR REPLACE INTO pending_restores (run_id, key, side) VALUES (?, ?, ?)'),
      restoreSide: d.prepare('SELECT side FROM pending_restores WHERE run_id = ? AND key = ?'),
      restoreDel: d.prepare('DELETE FROM pending_restores WHERE run_id = ? AND key = ?'),
      restoreCount: d.prepare('SELECT count(*) AS n FROM pending_restores WHERE run_id = ?'),
      restorePage: d.prepare('SELECT key FROM pending_restores WHERE run_id = ? AND key > ? ORDER BY key LIMIT ?'),
      restoreClear: d.prepare('DELETE FROM pending_restores WHERE run_id = ?'),
    };
  }

  startRun(command: string, src: string, dst: string): number {
    return Number(this.stmts.runStart.run(command, src, dst, Date.now()).lastInsertRowid);
  }

  endRun(id: number, status: string, summary: unknown): void {
    this.flushObjects();
    this.stmts.runEnd.run(Date.now(), status, JSON.stringify(summary), id);
    this.stmts.delClear.run(id);
    this.stmts.restoreClear.run(id);
  }

  /** The chunked-upload journal of one destination location (its canonical id). */
  journalFor(location: string): ChunkJournal {
    return {
      find: (key, fingerprint) => {
        const row = this.stmts.uploadFind.get(location, key, fingerprint) as { upload_token: string; fingerprint: string; chunk_size: number } | undefined;
        if (!row) return undefined;
        const chunks = (this.stmts.uploadChunks.all(location, row.upload_token) as Array<{ idx: number; token: string; size: number; sha256: string }>).map(
          (c): CompletedChunk => ({ index: c.idx, token: c.token, size: c.size, sha256: c.sha256 }),
        );
        return { key, uploadToken: row.upload_token, fingerprint: row.fingerprint, chunkSize: row.chunk_size, chunks } satisfies JournaledUpload;
      },
      opening: (key) => String(this.stmts.openingAdd.run(location, key, Date.now()).lastInsertRowid),
      started: (u, opening) =>
        this.db.transaction(() => {
          this.stmts.uploadStart.run(u.uploadToken, location, u.key, u.fingerprint, u.chunkSize, Date.now());
          if (opening !== undefined) this.stmts.openingDel.run(location, Number(opening));
        })(),
      openings: () =>
        (this.stmts.openingsAt.all(location) as Array<{ id: number; key: string; started_at: number }>).map((r) => ({
          id: String(r.id),
          key: r.key,
          since: new Date(r.started_at),
        })),
      openingResolved: (id) => void this.stmts.openingDel.run(location, Number(id)),
      chunkDone: (token, c) => void this.stmts.chunkDone.run(location, token, c.index, c.token, c.size, c.sha256),
      finished: (token) => {
        this.stmts.uploadChunksEnd.run(location, token);
        this.stmts.uploadEnd.run(location, token);
      },
      pending: () =>
        (this.stmts.uploadsAt.all(location) as Array<{ upload_token: string; key: string }>).map((r) => ({ uploadToken: r.upload_token, key: r.key })),
    };
  }

  getObject(location: string, key: string): KnownObject | undefined {
    return this.pendingObjects.get(`${location}\0${key}`) ?? (this.stmts.objGet.get(location, key) as KnownObject | undefined);
  }

  /**
   * Object-cache writes are batched into one transaction per 500 rows (or per second):
   * a commit per file would cost more than the file's upload. Losing a batch in a crash
   * only costs HEAD requests on the next run; the upload journal is never batched.
   */
  putObject(location: string, key: string, o: KnownObject): void {
    this.pendingObjects.set(`${location}\0${key}`, o);
    if (this.pendingObjects.size >= 500) this.flushObjects();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flushObjects(), 1000);
      this.flushTimer.unref();
    }
  }

  forgetObject(location: string, key: string): void {
    this.pendingObjects.delete(`${location}\0${key}`);
    this.stmts.objDel.run(location, key);
  }

  flushObjects(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingObjects.size === 0 || !this.db.open) return;
    const rows = [...this.pendingObjects];
    this.pendingObjects.clear();
    this.db.transaction(() => {
      for (const [k, o] of rows) {
        const i = k.indexOf('\0');
        this.stmts.objPut.run(k.slice(0, i), k.slice(i + 1), o.size, o.etag, o.mtimeMs, o.md5);
      }
    })();
  }

  /**
   * Destination files that transforms (PII scrubbing) derived from a source version: their
   * size and content differ from the source by design, so change detection compares the
   * source with the version they were made from. `dstTag` identifies the stored result
   * (ETag, or size:mtime for files); a destination changed since is not trusted.
   */
  getDerived(location: string, key: string): DerivedFrom | undefined {
    return this.stmts.derivedGet.get(location, key) as DerivedFrom | undefined;
  }

  putDerived(location: string, key: string, d: DerivedFrom): void {
    this.stmts.derivedPut.run(location, key, d.dstSize, d.dstTag, d.size, d.mtimeMs, d.md5 ?? null);
  }

  forgetDerived(location: string, key: string): void {
    this.stmts.derivedDel.run(location, key);
  }

  /**
   * Remembers that the policy denied this source version going to `dst`. Returns when it
   * was first denied if an earlier run denied the very same version with the same verdict
   * (a known denial), else undefined (a new one, recorded now).
   */
  noteDenial(src: string, dst: string, key: string, d: Denial, runId: number): KnownDenial | undefined {
    const known = this.findDenial(src, dst, key, d, runId);
    if (!known) this.stmts.denialPut.run(src, dst, key, d.size, d.mtimeMs, d.verdict, runId, Date.now());
    return known;
  }

  /** noteDenial without recording: when an earlier run denied this same version. */
  findDenial(src: string, dst: string, key: string, d: Denial, runId: number): KnownDenial | undefined {
    const prev = this.stmts.denialGet.get(src, dst, key) as (Denial & KnownDenial) | undefined;
    if (prev && prev.size === d.size && prev.mtimeMs === d.mtimeMs && prev.verdict === d.verdict && prev.firstRun !== runId) {
      return { firstRun: prev.firstRun, firstAt: prev.firstAt };
    }
    return undefined;
  }

  /** Whether any denial is remembered for this pair of locations. */
  hasDenials(src: string, dst: string): boolean {
    return this.stmts.denialAny.get(src, dst) !== undefined;
  }

  forgetDenial(src: string, dst: string, key: string): void {
    this.stmts.denialDel.run(src, dst, key);
  }

  addPendingDelete(runId: number, key: string): void {
    this.stmts.delAdd.run(runId, key);
  }

  pendingDeleteCount(runId: number): number {
    return (this.stmts.delCount.get(runId) as { n: number }).n;
  }

  /** Pending deletions in key order, a page at a time (memory stays flat). */
  pendingDeletes(runId: number, pageSize = 1000): Generator<string> {
    return pages(this.stmts.delPage, runId, pageSize);
  }

  /** Parks a key whose object on `side` awaits a restore (--restore wait), until it is readable. */
  addPendingRestore(runId: number, key: string, side: 'src' | 'dst'): void {
    this.stmts.restoreAdd.run(runId, key, side);
  }

  /** The side whose object a parked key waits for, or undefined when it is not parked. */
  pendingRestoreSide(runId: number, key: string): 'src' | 'dst' | undefined {
    return (this.stmts.restoreSide.get(runId, key) as { side: 'src' | 'dst' } | undefined)?.side;
  }

  removePendingRestore(runId: number, key: string): void {
    this.stmts.restoreDel.run(runId, key);
  }

  pendingRestoreCount(runId: number): number {
    return (this.stmts.restoreCount.get(runId) as { n: number }).n;
  }

  /** Keys awaiting a restore in key order, a page at a time; removing the key just yielded is safe. */
  pendingRestores(runId: number, pageSize = 1000): Generator<string> {
    return pages(this.stmts.restorePage, runId, pageSize);
  }

  close(): void {
    this.flushObjects();
    this.db.close();
  }
}
