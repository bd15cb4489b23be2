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
import type { CompletedPart, MultipartJournal, PendingUpload } from '../core/backend.js';
import { sqliteOptions } from '../lib/sqlite.js';

export function defaultStatePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HYBRIDSYNC_STATE_DIR ?? join(homedir(), '.hybridsync'), 'state.db');
}

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  command TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,
  started_at INTEGER NOT NULL, ended_at INTEGER, status TEXT NOT NULL DEFAULT 'running',
  summary TEXT
);
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY, location TEXT NOT NULL, key TEXT NOT NULL,
  fingerprint TEXT NOT NULL, part_size INTEGER NOT NULL, started_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads(location, key);
CREATE TABLE IF NOT EXISTS upload_parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (upload_id, part_number)
);
CREATE TABLE IF NOT EXISTS objects (
  location TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  mtime_ms REAL NOT NULL, md5 TEXT, PRIMARY KEY (location, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS derived (
  location TEXT NOT NULL, key TEXT NOT NULL, dst_size INTEGER NOT NULL, dst_tag TEXT NOT NULL,
  src_size INTEGER NOT NULL, src_mtime_ms REAL NOT NULL, src_md5 TEXT, PRIMARY KEY (location, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_deletes (
  run_id INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
`;

export interface KnownObject {
  readonly size: number;
  /** The ETag for S3 objects, or "size:mtime" for local files (hash cache). */
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
      // v1: part hashes are SHA-256. Journaled uploads of an older format cannot be resumed.
      this.db.exec('DROP TABLE IF EXISTS upload_parts; DROP TABLE IF EXISTS uploads;');
      this.db.exec(SCHEMA);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } else this.db.exec(SCHEMA);
    const d = this.db;
    this.stmts = {
      runStart: d.prepare('INSERT INTO runs (command, src, dst, started_at) VALUES (?, ?, ?, ?)'),
      runEnd: d.prepare('UPDATE runs SET ended_at = ?, status = ?, summary = ? WHERE id = ?'),
      uploadFind: d.prepare('SELECT upload_id, fingerprint, part_size FROM uploads WHERE location = ? AND key = ? AND fingerprint = ? ORDER BY started_at DESC LIMIT 1'),
      uploadParts: d.prepare('SELECT part_number, etag, size, sha256 FROM upload_parts WHERE upload_id = ? ORDER BY part_number'),
      uploadStart: d.prepare('INSERT OR REPLACE INTO uploads (upload_id, location, key, fingerprint, part_size, started_at) VALUES (?, ?, ?, ?, ?, ?)'),
      partDone: d.prepare('INSERT OR REPLACE INTO upload_parts (upload_id, part_number, etag, size, sha256) VALUES (?, ?, ?, ?, ?)'),
      uploadEnd: d.prepare('DELETE FROM uploads WHERE upload_id = ?'),
      uploadPartsEnd: d.prepare('DELETE FROM upload_parts WHERE upload_id = ?'),
      uploadsAt: d.prepare('SELECT upload_id, key FROM uploads WHERE location = ?'),
      objGet: d.prepare('SELECT size, etag, mtime_ms AS mtimeMs, md5 FROM objects WHERE location = ? AND key = ?'),
      objPut: d.prepare('INSERT OR REPLACE INTO objects (location, key, size, etag, mtime_ms, md5) VALUES (?, ?, ?, ?, ?, ?)'),
      objDel: d.prepare('DELETE FROM objects WHERE location = ? AND key = ?'),
      derivedGet: d.prepare('SELECT dst_size AS dstSize, dst_tag AS dstTag, src_size AS size, src_mtime_ms AS mtimeMs, src_md5 AS md5 FROM derived WHERE location = ? AND key = ?'),
      derivedPut: d.prepare('INSERT OR REPLACE INTO derived (location, key, dst_size, dst_tag, src_size, src_mtime_ms, src_md5) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      derivedDel: d.prepare('DELETE FROM derived WHERE location = ? AND key = ?'),
      delAdd: d.prepare('INSERT OR IGNORE INTO pending_deletes (run_id, key) VALUES (?, ?)'),
      delCount: d.prepare('SELECT count(*) AS n FROM pending_deletes WHERE run_id = ?'),
      delPage: d.prepare('SELECT key FROM pending_deletes WHERE run_id = ? AND key > ? ORDER BY key LIMIT ?'),
      delClear: d.prepare('DELETE FROM pending_deletes WHERE run_id = ?'),
    };
  }

  startRun(command: string, src: string, dst: string): number {
    return Number(this.stmts.runStart.run(command, src, dst, Date.now()).lastInsertRowid);
  }

  endRun(id: number, status: string, summary: unknown): void {
    this.flushObjects();
    this.stmts.runEnd.run(Date.now(), status, JSON.stringify(summary), id);
    this.stmts.delClear.run(id);
  }

  /** The multipart journal for one destination location. */
  journalFor(location: string): MultipartJournal {
    return {
      find: (key, fingerprint) => {
        const row = this.stmts.uploadFind.get(location, key, fingerprint) as { upload_id: string; fingerprint: string; part_size: number } | undefined;
        if (!row) return undefined;
        const parts = (this.stmts.uploadParts.all(row.upload_id) as Array<{ part_number: number; etag: string; size: number; sha256: string }>).map(
          (p): CompletedPart => ({ partNumber: p.part_number, etag: p.etag, size: p.size, sha256: p.sha256 }),
        );
        return { key, uploadId: row.upload_id, fingerprint: row.fingerprint, partSize: row.part_size, parts } satisfies PendingUpload;
      },
      started: (u) => void this.stmts.uploadStart.run(u.uploadId, location, u.key, u.fingerprint, u.partSize, Date.now()),
      partDone: (uploadId, p) => void this.stmts.partDone.run(uploadId, p.partNumber, p.etag, p.size, p.sha256),
      finished: (uploadId) => {
        this.stmts.uploadPartsEnd.run(uploadId);
        this.stmts.uploadEnd.run(uploadId);
      },
    };
  }

  /** Uploads journaled for a location that no run has finished or aborted. */
  pendingUploads(location: string): Array<{ uploadId: string; key: string }> {
    return (this.stmts.uploadsAt.all(location) as Array<{ upload_id: string; key: string }>).map((r) => ({ uploadId: r.upload_id, key: r.key }));
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

  addPendingDelete(runId: number, key: string): void {
    this.stmts.delAdd.run(runId, key);
  }

  pendingDeleteCount(runId: number): number {
    return (this.stmts.delCount.get(runId) as { n: number }).n;
  }

  /** Pending deletions in key order, a page at a time (memory stays flat). */
  *pendingDeletes(runId: number, pageSize = 1000): Generator<string> {
    let after = '';
    while (true) {
      const rows = this.stmts.delPage.all(runId, after, pageSize) as Array<{ key: string }>;
      for (const r of rows) yield r.key;
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1]!.key;
    }
  }

  close(): void {
    this.flushObjects();
    this.db.close();
  }
}
