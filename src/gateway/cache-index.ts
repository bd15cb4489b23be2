/**
 * The gateway's index (SQLite, WAL, in the cache directory): what the gateway shows
 * (`entries`: the upstream listing merged with what was written locally), which upstream
 * prefixes were listed when (`listings`, for staleness), which bytes are on local disk
 * (`cached`: complete objects, or the aligned blocks of a partly fetched one, with access
 * times for LRU), the write-back journal (`journal`: every local write or delete not yet
 * in the cloud, in sequence order — it survives SIGKILL — with the upstream object each write
 * was made over, its `base`), open multipart uploads, and the conflicts with the cloud that
 * were found and how each ended (`conflicts`).
 */
import Database from 'better-sqlite3';
import { sqliteOptions } from '../lib/sqlite.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
  key TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, etag TEXT NOT NULL,
  content_type TEXT, metadata TEXT, upstream_etag TEXT, storage_class TEXT, listed_gen INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS listings (prefix TEXT PRIMARY KEY, listed_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cached (
  key TEXT PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL, complete INTEGER NOT NULL,
  blocks BLOB, bytes INTEGER NOT NULL, atime_ms INTEGER NOT NULL, partial TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cached_lru ON cached(atime_ms);
CREATE TABLE IF NOT EXISTS journal (
  key TEXT PRIMARY KEY, op TEXT NOT NULL, seq INTEGER NOT NULL, since_ms INTEGER NOT NULL, size INTEGER NOT NULL,
  staged TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  status TEXT NOT NULL DEFAULT 'pending', base TEXT, md5 TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS journal_seq ON journal(seq);
CREATE TABLE IF NOT EXISTS conflicts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL, outcome TEXT NOT NULL,
  dataset TEXT, ssot TEXT, base TEXT, cloud_etag TEXT, local_md5 TEXT, kept TEXT, why TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY, key TEXT NOT NULL, created_ms INTEGER NOT NULL, content_type TEXT, metadata TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, file TEXT NOT NULL,
  PRIMARY KEY (upload_id, part)
) WITHOUT ROWID;
`;

export interface EntryRow {
  readonly key: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** The ETag the gateway answers with (its own for objects written through it). */
  readonly etag: string;
  readonly contentType: string | null;
  readonly metadata: Readonly<Record<string, string>> | null;
  /** The upstream object's ETag this entry stands for; null until a local write is uploaded. */
  readonly upstreamEtag: string | null;
  readonly storageClass: string | null;
}

export interface CachedRow {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly complete: boolean;
  /** One bit per block of the partial file. */
  readonly blocks: Buffer | null;
  readonly bytes: number;
  readonly atimeMs: number;
  /** File name under partial/ while incomplete. */
  readonly partial: string | null;
}

export type JournalOp = 'put' | 'delete';
/** pending: to upload; denied: the policy keeps it from the cloud; conflict: the cloud changed meanwhile and no source of truth decides. */
export type JournalStatus = 'pending' | 'denied' | 'conflict';

export interface JournalRow {
  readonly key: string;
  readonly op: JournalOp;
  readonly seq: number;
  readonly sinceMs: number;
  readonly size: number;
  /** A staged file not yet renamed into place (a crash between the two steps). */
  readonly staged: string | null;
  readonly attempts: number;
  readonly nextAt: number;
  readonly lastError: string | null;
  readonly status: JournalStatus;
  /** The upstream object the write was made over: its ETag, '' for none, null when the gateway did not know. */
  readonly base: string | null;
  /** MD5 of the written content (null for a delete). */
  readonly md5: string | null;
}

/** How a conflict with the cloud ended: the gateway's write uploaded over it, the cloud's version kept (the write kept aside), or held for someone to decide. */
export type ConflictOutcome = 'gateway-won' | 'cloud-won' | 'held';

export interface ConflictRow {
  readonly at: number;
  readonly key: string;
  readonly op: JournalOp;
  readonly outcome: ConflictOutcome;
  readonly dataset: string | null;
  readonly ssot: string | null;
  readonly base: string | null;
  readonly cloudEtag: string | null;
  readonly localMd5: string | null;
  /** Where the gateway's version was kept (cloud-won). */
  readonly kept: string | null;
  readonly why: string;
}

export interface PartRow {
  readonly part: number;
  readonly size: number;
  readonly etag: string;
  readonly file: string;
}

type Raw = Record<string, unknown>;

const entryOf = (r: Raw): EntryRow => ({
  key: r.key as string,
  size: r.size as number,
  mtimeMs: r.mtime_ms as number,
  etag: r.etag as string,
  contentType: (r.content_type as string | null) ?? null,
  metadata: r.metadata ? (JSON.parse(r.metadata as string) as Record<string, string>) : null,
  upstreamEtag: (r.upstream_etag as string | null) ?? null,
  storageClass: (r.storage_class as string | null) ?? null,
});
const cachedOf = (r: Raw): CachedRow => ({
  key: r.key as string,
  etag: r.etag as string,
  size: r.size as number,
  complete: r.complete === 1,
  blocks: (r.blocks as Buffer | null) ?? null,
  bytes: r.bytes as number,
  atimeMs: r.atime_ms as number,
  partial: (r.partial as string | null) ?? null,
});
const journalOf = (r: Raw): JournalRow => ({
  key: r.key as string,
  op: r.op as JournalOp,
  seq: r.seq as number,
  sinceMs: r.since_ms as number,
  size: r.size as number,
  staged: (r.staged as string | null) ?? null,
  attempts: r.attempts as number,
  nextAt: r.next_at as number,
  lastError: (r.last_error as string | null) ?? null,
  status: r.status as JournalStatus,
  base: (r.base as string | null) ?? null,
  md5: (r.md5 as string | null) ?? null,
});
/** A row with snake_case columns as camelCase fields, values as SQLite gives them (NULL is null). */
const camel = (r: Raw): Raw => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
const conflictOf = (r: Raw): ConflictRow => camel(r) as unknown as ConflictRow;

export class CacheIndex {
  readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path, sqliteOptions());
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL'); // a journaled write is acknowledged to a client: it must survive power loss
    this.db.exec(SCHEMA);
    // an index made before the journal remembered each write's base
    const columns = new Set((this.db.prepare('PRAGMA table_info(journal)').all() as Array<{ name: string }>).map((c) => c.name));
    for (const c of ['base', 'md5']) if (!columns.has(c)) this.db.exec(`ALTER TABLE journal ADD COLUMN ${c} TEXT`);
  }

  close(): void {
    this.db.close();
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ------------------------------------------------------------------ entries

  entry(key: string): EntryRow | undefined {
    const r = this.db.prepare('SELECT * FROM entries WHERE key = ?').get(key) as Raw | undefined;
    return r ? entryOf(r) : undefined;
  }

  putEntry(e: EntryRow, gen = 0): void {
    this.db
      .prepare(
        `INSERT INTO entries (key, size, mtime_ms, etag, content_type, metadata, upstream_etag, storage_class, listed_gen) VALUES (?,?,?,?,?,?,?,?,?)
         ON CONFLICT(key) DO UPDATE SET size=excluded.size, mtime_ms=excluded.mtime_ms, etag=excluded.etag, content_type=excluded.content_type,
           metadata=excluded.metadata, upstream_etag=excluded.upstream_etag, storage_class=excluded.storage_class, listed_gen=excluded.listed_gen`,
      )
      .run(e.key, e.size, e.mtimeMs, e.etag, e.contentType, e.metadata ? JSON.stringify(e.metadata) : null, e.upstreamEtag, e.storageClass, gen);
  }

  touchListed(key: string, gen: number): void {
    this.db.prepare('UPDATE entries SET listed_gen = ? WHERE key = ?').run(gen, key);
  }

  setUpstreamEtag(key: string, etag: string | null): void {
    this.db.prepare('UPDATE entries SET upstream_etag = ? WHERE key = ?').run(etag, key);
  }

  removeEntry(key: string): void {
    this.db.prepare('DELETE FROM entries WHERE key = ?').run(key);
  }

  /** Entries from `from` (inclusive) on, in byte order, at most `limit`. */
  entriesFrom(from: string, limit: number): EntryRow[] {
    return (this.db.prepare('SELECT * FROM entries WHERE key >= ? ORDER BY key LIMIT ?').all(from, limit) as Raw[]).map(entryOf);
  }

  /** Keys under `prefix` listed before generation `gen` and not in the journal: gone upstream. */
  staleUnder(prefix: string, gen: number): string[] {
    return (
      this.db
        .prepare('SELECT key FROM entries e WHERE key >= ? AND substr(key, 1, ?) = ? AND listed_gen < ? AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.key = e.key)')
        .all(prefix, prefix.length, prefix, gen) as Array<{ key: string }>
    ).map((r) => r.key);
  }

  entriesUnder(prefix: string): EntryRow[] {
    return (this.db.prepare('SELECT * FROM entries WHERE key >= ? AND substr(key, 1, ?) = ? ORDER BY key').all(prefix, prefix.length, prefix) as Raw[]).map(entryOf);
  }

  countEntries(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
  }

  // ----------------------------------------------------------------- listings

  listings(): Array<{ prefix: string; listedAt: number }> {
    return (this.db.prepare('SELECT prefix, listed_at FROM listings').all() as Raw[]).map((r) => ({ prefix: r.prefix as string, listedAt: r.listed_at as number }));
  }

  setListed(prefix: string, at: number): void {
    this.db.prepare('INSERT INTO listings (prefix, listed_at) VALUES (?, ?) ON CONFLICT(prefix) DO UPDATE SET listed_at = excluded.listed_at').run(prefix, at);
    // a listing of a prefix covers the listings below it
    this.db.prepare('DELETE FROM listings WHERE prefix > ? AND substr(prefix, 1, ?) = ?').run(prefix, prefix.length, prefix);
  }

  forgetListings(prefix: string): void {
    this.db.prepare('DELETE FROM listings WHERE substr(prefix, 1, ?) = ? OR substr(?, 1, length(prefix)) = prefix').run(prefix.length, prefix, prefix);
  }

  nextGen(): number {
    const g = Number(this.getMeta('gen') ?? '0') + 1;
    this.setMeta('gen', String(g));
    return g;
  }

  getMeta(k: string): string | undefined {
    return (this.db.prepare('SELECT v FROM meta WHERE k = ?').get(k) as { v: string } | undefined)?.v;
  }

  setMeta(k: string, v: string): void {
    this.db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v').run(k, v);
  }

  // ------------------------------------------------------------------- cached

  cached(key: string): CachedRow | undefined {
    const r = this.db.prepare('SELECT * FROM cached WHERE key = ?').get(key) as Raw | undefined;
    return r ? cachedOf(r) : undefined;
  }

  putCached(c: CachedRow): void {
    this.db
      .prepare(
        `INSERT INTO cached (key, etag, size, complete, blocks, bytes, atime_ms, partial) VALUES (?,?,?,?,?,?,?,?)
         ON CONFLICT(key) DO UPDATE SET etag=excluded.etag, size=excluded.size, complete=excluded.complete, blocks=excluded.blocks,
           bytes=excluded.bytes, atime_ms=excluded.atime_ms, partial=excluded.partial`,
      )
      .run(c.key, c.etag, c.size, c.complete ? 1 : 0, c.blocks, c.bytes, c.atimeMs, c.partial);
  }

  touchCached(key: string, at: number): void {
    this.db.prepare('UPDATE cached SET atime_ms = ? WHERE key = ?').run(at, key);
  }

  removeCached(key: string): void {
    this.db.prepare('DELETE FROM cached WHERE key = ?').run(key);
  }

  cachedBytes(): number {
    return (this.db.prepare('SELECT coalesce(sum(bytes), 0) AS n FROM cached').get() as { n: number }).n;
  }

  /** Clean cached objects (no journal row), least recently used first. */
  *evictionCandidates(): Generator<CachedRow> {
    const stmt = this.db.prepare('SELECT c.* FROM cached c WHERE NOT EXISTS (SELECT 1 FROM journal j WHERE j.key = c.key) ORDER BY atime_ms LIMIT 256');
    yield* (stmt.all() as Raw[]).map(cachedOf);
  }

  cachedUnder(prefix: string): CachedRow[] {
    return (this.db.prepare('SELECT * FROM cached WHERE key >= ? AND substr(key, 1, ?) = ?').all(prefix, prefix.length, prefix) as Raw[]).map(cachedOf);
  }

  // ------------------------------------------------------------------ journal

  nextSeq(): number {
    const s = Number(this.getMeta('seq') ?? '0') + 1;
    this.setMeta('seq', String(s));
    return s;
  }

  lastSeq(): number {
    return Number(this.getMeta('seq') ?? '0');
  }

  journalRow(key: string): JournalRow | undefined {
    const r = this.db.prepare('SELECT * FROM journal WHERE key = ?').get(key) as Raw | undefined;
    return r ? journalOf(r) : undefined;
  }

  /**
   * Journals a write or delete. A key already journaled keeps its first `base` (the upstream
   * object the first of its unuploaded writes was made over) and its first time.
   */
  journal(op: JournalOp, key: string, size: number, staged: string | null, now: number, base: string | null = null, md5: string | null = null): number {
    const seq = this.nextSeq();
    this.db
      .prepare(
        `INSERT INTO journal (key, op, seq, since_ms, size, staged, attempts, next_at, last_error, status, base, md5) VALUES (?,?,?,?,?,?,0,0,NULL,'pending',?,?)
         ON CONFLICT(key) DO UPDATE SET op=excluded.op, seq=excluded.seq, size=excluded.size, staged=excluded.staged, attempts=0, next_at=0,
           last_error=NULL, status='pending', since_ms=min(journal.since_ms, excluded.since_ms), md5=excluded.md5`,
      )
      .run(key, op, seq, now, size, staged, base, md5);
    return seq;
  }

  /** Records the base a write was made over, found after it was journaled (only while none is known). */
  pinBase(key: string, base: string): void {
    this.db.prepare('UPDATE journal SET base = ? WHERE key = ? AND base IS NULL').run(base, key);
  }

  /** The write is uploaded over what the cloud holds now: its base becomes that, and it is pending again. */
  journalRebase(key: string, seq: number, base: string): boolean {
    return this.db.prepare("UPDATE journal SET base = ?, status = 'pending', attempts = 0, next_at = 0, last_error = NULL WHERE key = ? AND seq = ?").run(base, key, seq).changes > 0;
  }

  /** A newer write of the key than `seq` is now made over `base` (the older one was just uploaded). */
  journalAdvanceBase(key: string, seq: number, base: string): void {
    this.db.prepare('UPDATE journal SET base = ? WHERE key = ? AND seq > ?').run(base, key, seq);
  }

  /** The write goes up over what the cloud holds now (it was decided so): later attempts compare with that. */
  journalOverwrite(key: string, seq: number, base: string): void {
    this.db.prepare('UPDATE journal SET base = ? WHERE key = ? AND seq = ?').run(base, key, seq);
  }

  journalConflict(key: string, seq: number, message: string): void {
    this.db.prepare("UPDATE journal SET status = 'conflict', last_error = ? WHERE key = ? AND seq = ?").run(message, key, seq);
  }

  /** Removes the journal row if nothing newer replaced it (the write was given up for the cloud's version). */
  journalDrop(key: string, seq: number): boolean {
    return this.db.prepare('DELETE FROM journal WHERE key = ? AND seq = ?').run(key, seq).changes > 0;
  }

  clearStaged(key: string): void {
    this.db.prepare('UPDATE journal SET staged = NULL WHERE key = ?').run(key);
  }

  staged(): JournalRow[] {
    return (this.db.prepare('SELECT * FROM journal WHERE staged IS NOT NULL').all() as Raw[]).map(journalOf);
  }

  /** Pending rows due for an attempt, in sequence order. */
  due(now: number, limit: number): JournalRow[] {
    return (this.db.prepare("SELECT * FROM journal WHERE status = 'pending' AND next_at <= ? ORDER BY seq LIMIT ?").all(now, limit) as Raw[]).map(journalOf);
  }

  /**
   * The journal row is done if nothing newer replaced it. The entry counts as listed by
   * the newest listing generation: an upstream listing that started before the upload
   * finished does not show it, and must not take it for deleted upstream.
   */
  journalDone(key: string, seq: number): boolean {
    return this.tx(() => {
      const done = this.db.prepare('DELETE FROM journal WHERE key = ? AND seq = ?').run(key, seq).changes > 0;
      if (done) this.db.prepare('UPDATE entries SET listed_gen = ? WHERE key = ?').run(Number(this.getMeta('gen') ?? '0'), key);
      return done;
    });
  }

  journalFailed(key: string, seq: number, error: string, nextAt: number): void {
    this.db.prepare('UPDATE journal SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE key = ? AND seq = ?').run(error, nextAt, key, seq);
  }

  journalDenied(key: string, seq: number, reason: string): void {
    this.db.prepare("UPDATE journal SET status = 'denied', last_error = ? WHERE key = ? AND seq = ?").run(reason, key, seq);
  }

  /** Brings every pending attempt up to now (a flush does not wait for a backoff). */
  retryNow(): void {
    this.db.prepare("UPDATE journal SET next_at = 0 WHERE status = 'pending'").run();
  }

  journalRows(): JournalRow[] {
    return (this.db.prepare('SELECT * FROM journal ORDER BY seq').all() as Raw[]).map(journalOf);
  }

  /** Pending rows at or before `seq`: what a flush waits for. */
  pendingUpTo(seq: number): number {
    return (this.db.prepare("SELECT count(*) AS n FROM journal WHERE status = 'pending' AND seq <= ?").get(seq) as { n: number }).n;
  }

  journalStats(): { pending: number; denied: number; conflicts: number; dirtyBytes: number; oldestMs: number | null; failing: number } {
    const r = this.db
      .prepare(
        `SELECT sum(status = 'pending') AS pending, sum(status = 'denied') AS denied, sum(status = 'conflict') AS conflicts, coalesce(sum(CASE WHEN op = 'put' THEN size ELSE 0 END), 0) AS bytes,
           min(CASE WHEN status = 'pending' THEN since_ms END) AS oldest, sum(status = 'pending' AND attempts > 0) AS failing FROM journal`,
      )
      .get() as Raw;
    return {
      pending: (r.pending as number | null) ?? 0,
      denied: (r.denied as number | null) ?? 0,
      conflicts: (r.conflicts as number | null) ?? 0,
      dirtyBytes: r.bytes as number,
      oldestMs: (r.oldest as number | null) ?? null,
      failing: (r.failing as number | null) ?? 0,
    };
  }

  // ---------------------------------------------------------------- conflicts

  addConflict(c: ConflictRow): void {
    this.db
      .prepare('INSERT INTO conflicts (at, key, op, outcome, dataset, ssot, base, cloud_etag, local_md5, kept, why) VALUES (?,?,?,?,?,?,?,?,?,?,?)')
      .run(c.at, c.key, c.op, c.outcome, c.dataset, c.ssot, c.base, c.cloudEtag, c.localMd5, c.kept, c.why);
  }

  /** The latest conflicts, newest first. */
  conflicts(limit: number): ConflictRow[] {
    return (this.db.prepare('SELECT at, key, op, outcome, dataset, ssot, base, cloud_etag, local_md5, kept, why FROM conflicts ORDER BY id DESC LIMIT ?').all(limit) as Raw[]).map(conflictOf);
  }

  conflictCounts(): Record<ConflictOutcome, number> {
    const out: Record<ConflictOutcome, number> = { 'gateway-won': 0, 'cloud-won': 0, held: 0 };
    for (const r of this.db.prepare('SELECT outcome, count(*) AS n FROM conflicts GROUP BY outcome').all() as Array<{ outcome: ConflictOutcome; n: number }>) out[r.outcome] = r.n;
    return out;
  }

  // ---------------------------------------------------------------- multipart

  createUpload(id: string, key: string, now: number, contentType: string | null, metadata: Record<string, string>): void {
    this.db.prepare('INSERT INTO uploads (id, key, created_ms, content_type, metadata) VALUES (?,?,?,?,?)').run(id, key, now, contentType, JSON.stringify(metadata));
  }

  upload(id: string): { key: string; contentType: string | null; metadata: Record<string, string>; createdMs: number } | undefined {
    const r = this.db.prepare('SELECT * FROM uploads WHERE id = ?').get(id) as Raw | undefined;
    return r
      ? { key: r.key as string, contentType: (r.content_type as string | null) ?? null, metadata: JSON.parse((r.metadata as string) || '{}') as Record<string, string>, createdMs: r.created_ms as number }
      : undefined;
  }

  uploads(): Array<{ id: string; key: string; createdMs: number }> {
    return (this.db.prepare('SELECT id, key, created_ms FROM uploads ORDER BY key, created_ms').all() as Raw[]).map((r) => ({ id: r.id as string, key: r.key as string, createdMs: r.created_ms as number }));
  }

  putPart(id: string, p: PartRow): string | undefined {
    const old = this.db.prepare('SELECT file FROM parts WHERE upload_id = ? AND part = ?').get(id, p.part) as { file: string } | undefined;
    this.db.prepare('INSERT INTO parts (upload_id, part, size, etag, file) VALUES (?,?,?,?,?) ON CONFLICT(upload_id, part) DO UPDATE SET size=excluded.size, etag=excluded.etag, file=excluded.file').run(id, p.part, p.size, p.etag, p.file);
    return old?.file;
  }

  parts(id: string): PartRow[] {
    return this.db.prepare('SELECT part, size, etag, file FROM parts WHERE upload_id = ? ORDER BY part').all(id) as PartRow[];
  }

  partsBytes(): number {
    return (this.db.prepare('SELECT coalesce(sum(size), 0) AS n FROM parts').get() as { n: number }).n;
  }

  removeUpload(id: string): void {
    this.db.prepare('DELETE FROM parts WHERE upload_id = ?').run(id);
    this.db.prepare('DELETE FROM uploads WHERE id = ?').run(id);
  }
}
