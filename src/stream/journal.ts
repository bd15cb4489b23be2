/**
 * The stream journal: a SQLite file of its own (`stream.db` beside the state database), so
 * streaming lanes share no schema migrations with sync. Exactly once rests on its order of
 * writes: a segment's intent (file, generation, seq, byte range, hashes) is journaled before
 * its upload starts; the file's offset moves only when the stored object is verified, in
 * seq order, in the same transaction that drops that intent. A file may have several
 * intents (segments in flight, up to the lane's window), always the contiguous run of
 * seqs that follows its committed offset. A run that dies in between finds them and
 * completes those very segments — same keys, same bytes — before cutting another.
 *
 * Durability: an intent is fsync'd before its upload (`synchronous = FULL`), since a range
 * cut again after a power loss could end elsewhere and be stored under a second key. A
 * commit is not fsync'd on its own (`synchronous = NORMAL` for that transaction; the next
 * intent's fsync carries it, the WAL being written in order): a commit lost with the power
 * leaves its intent, and the next run finds that segment stored and commits it again. On a
 * busy disk this halves the fsyncs that hold up a lane.
 *
 * Holds no content and no secret: paths, device/inode numbers, offsets and SHA-256 digests.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { pidAlive } from '../lib/process.js';
import { sqliteOptions } from '../lib/sqlite.js';

const SCHEMA_VERSION = 2;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS lanes (
  lane TEXT PRIMARY KEY, direction TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,
  segments INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
  last_commit_at INTEGER, last_error TEXT, pid INTEGER, updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS push_files (
  lane TEXT NOT NULL, file_id TEXT NOT NULL, path TEXT NOT NULL, dev TEXT NOT NULL, ino TEXT NOT NULL,
  generation INTEGER NOT NULL, offset INTEGER NOT NULL, next_seq INTEGER NOT NULL,
  head_len INTEGER NOT NULL, head_sha TEXT NOT NULL, tail_len INTEGER NOT NULL, tail_sha TEXT NOT NULL,
  header_len INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (lane, file_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS push_files_by_inode ON push_files(lane, dev, ino);
CREATE TABLE IF NOT EXISTS push_intents (
  lane TEXT NOT NULL, file_id TEXT NOT NULL, generation INTEGER NOT NULL, seq INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, key TEXT NOT NULL, src_sha256 TEXT NOT NULL,
  sha256 TEXT NOT NULL, md5 TEXT NOT NULL, size INTEGER NOT NULL, intent_at INTEGER NOT NULL,
  window INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (lane, file_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pull_files (
  lane TEXT NOT NULL, file_id TEXT NOT NULL, generation INTEGER NOT NULL, next_seq INTEGER NOT NULL,
  src_end INTEGER NOT NULL, offset INTEGER NOT NULL, last_key TEXT, updated_at INTEGER NOT NULL,
  PRIMARY KEY (lane, file_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pull_plain (
  lane TEXT PRIMARY KEY, last_key TEXT NOT NULL, updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

export function streamJournalPath(statePath: string): string {
  return statePath === ':memory:' ? ':memory:' : join(dirname(statePath), 'stream.db');
}

/** What identifies a followed file and where its stream stands. */
export interface PushFile {
  readonly fileId: string;
  readonly path: string;
  readonly dev: string;
  readonly ino: string;
  readonly generation: number;
  /** Bytes of this generation stored and verified. */
  readonly offset: number;
  readonly nextSeq: number;
  /** SHA-256 of the first headLen bytes: the same inode with another head is another file. */
  readonly headLen: number;
  readonly headSha: string;
  /** SHA-256 of the tailLen bytes before `offset`: changed bytes there mean the file was rewritten. */
  readonly tailLen: number;
  readonly tailSha: string;
  /** Length of the generation's first record (the CSV header), once known. */
  readonly headerLen: number;
  readonly state: 'active' | 'done' | 'lost' | 'denied';
}

export interface SegmentIntent {
  readonly fileId: string;
  readonly generation: number;
  readonly seq: number;
  readonly start: number;
  readonly end: number;
  readonly key: string;
  /** SHA-256 of the source bytes [start, end). */
  readonly srcSha256: string;
  /** SHA-256 and MD5 of the stored bytes (after scrubbing). */
  readonly sha256: string;
  readonly md5: string;
  readonly size: number;
  /**
   * The lane's window when this segment was cut: at most this many segments of the file,
   * this one included, were uncommitted then — so every seq up to `seq - window` was stored.
   * Stored with the object (metadata `hybridsync-stream-window`): a pull lane's evidence that
   * a gap before it is a loss, not a segment in flight.
   */
  readonly window: number;
}

export interface PullFile {
  readonly fileId: string;
  readonly generation: number;
  readonly nextSeq: number;
  /** End of the last applied segment in the source's offsets: where the next one must start. */
  readonly srcEnd: number;
  /** Bytes of the local file that the applied segments account for. */
  readonly offset: number;
  readonly lastKey: string | undefined;
}

export interface LaneRow {
  readonly lane: string;
  readonly direction: 'push' | 'pull';
  readonly src: string;
  readonly dst: string;
  readonly segments: number;
  readonly bytes: number;
  readonly lastCommitAt: number | undefined;
  readonly lastError: string | undefined;
  /** The process that holds the lane, if one took it and did not release it. */
  readonly pid: number | undefined;
}

type Row = Record<string, unknown>;

function pushFileOf(r: Row): PushFile {
  return {
    fileId: r.file_id as string,
    path: r.path as string,
    dev: r.dev as string,
    ino: r.ino as string,
    generation: r.generation as number,
    offset: r.offset as number,
    nextSeq: r.next_seq as number,
    headLen: r.head_len as number,
    headSha: r.head_sha as string,
    tailLen: r.tail_len as number,
    tailSha: r.tail_sha as string,
    headerLen: r.header_len as number,
    state: r.state as PushFile['state'],
  };
}

export class StreamJournal {
  readonly db: Database.Database;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, sqliteOptions());
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    const v = this.db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION) throw new Error(`${path} was written by a newer hybridsync (stream journal v${v})`);
    this.db.transaction(() => {
      // v1 kept one intent per file (one segment in flight): carried over with window 1
      if (v === 1) this.db.exec('ALTER TABLE push_intents RENAME TO push_intents_v1');
      this.db.exec(SCHEMA);
      if (v === 1) {
        this.db.exec(`INSERT INTO push_intents (lane, file_id, generation, seq, start, end, key, src_sha256, sha256, md5, size, intent_at, window)
          SELECT lane, file_id, generation, seq, start, end, key, src_sha256, sha256, md5, size, intent_at, 1 FROM push_intents_v1;
          DROP TABLE push_intents_v1;`);
      }
      if (v < SCHEMA_VERSION) this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` as one transaction that is not fsync'd (see the durability note at the top): for commits a rerun can replay. */
  private unsynced(fn: () => void): void {
    this.db.pragma('synchronous = NORMAL');
    try {
      this.db.transaction(fn)();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  // ------------------------------------------------------------------------ lanes

  registerLane(lane: string, direction: 'push' | 'pull', src: string, dst: string, now = Date.now()): void {
    const row = this.db.prepare('SELECT direction, src, dst FROM lanes WHERE lane = ?').get(lane) as Row | undefined;
    if (row && (row.direction !== direction || row.src !== src || row.dst !== dst)) {
      throw new ConfigError(`lane "${lane}" is journaled as ${row.direction as string} ${row.src as string} -> ${row.dst as string}`, {
        hint: 'give this stream its own --lane name (a lane keeps one source, one destination and their offsets)',
      });
    }
    this.db
      .prepare('INSERT INTO lanes (lane, direction, src, dst, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(lane) DO UPDATE SET updated_at = excluded.updated_at, last_error = NULL')
      .run(lane, direction, src, dst, now);
  }

  /**
   * Takes the lane for this process: one process per lane, or two would cut the same range
   * twice. A holder that no longer runs (killed) is taken over.
   */
  lock(lane: string, pid = process.pid): void {
    this.db.transaction(() => {
      const holder = (this.db.prepare('SELECT pid FROM lanes WHERE lane = ?').get(lane) as Row | undefined)?.pid as number | null | undefined;
      if (holder && holder !== pid && pidAlive(holder)) {
        throw new ConfigError(`lane "${lane}" is running in process ${holder}`, { hint: 'stop that process first, or give this stream another --lane' });
      }
      this.db.prepare('UPDATE lanes SET pid = ? WHERE lane = ?').run(pid, lane);
    })();
  }

  unlock(lane: string, pid = process.pid): void {
    this.db.prepare('UPDATE lanes SET pid = NULL WHERE lane = ? AND pid = ?').run(lane, pid);
  }

  laneError(lane: string, message: string): void {
    this.db.prepare('UPDATE lanes SET last_error = ? WHERE lane = ?').run(message, lane);
  }

  lanes(): LaneRow[] {
    return (this.db.prepare('SELECT * FROM lanes ORDER BY lane').all() as Row[]).map((r) => ({
      lane: r.lane as string,
      direction: r.direction as 'push' | 'pull',
      src: r.src as string,
      dst: r.dst as string,
      segments: r.segments as number,
      bytes: r.bytes as number,
      lastCommitAt: (r.last_commit_at as number | null) ?? undefined,
      lastError: (r.last_error as string | null) ?? undefined,
      pid: (r.pid as number | null) ?? undefined,
    }));
  }

  // ------------------------------------------------------------------------- push

  pushFiles(lane: string, states: ReadonlyArray<PushFile['state']> = ['active']): PushFile[] {
    const rows = this.db.prepare(`SELECT * FROM push_files WHERE lane = ? AND state IN (${states.map(() => '?').join(',')}) ORDER BY file_id`).all(lane, ...states) as Row[];
    return rows.map(pushFileOf);
  }

  /** Files journaled for this device and inode (usually one; more after inode reuse). */
  byInode(lane: string, dev: string, ino: string): PushFile[] {
    return (this.db.prepare('SELECT * FROM push_files WHERE lane = ? AND dev = ? AND ino = ? ORDER BY updated_at DESC').all(lane, dev, ino) as Row[]).map(pushFileOf);
  }

  upsertFile(lane: string, f: PushFile, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO push_files (lane, file_id, path, dev, ino, generation, offset, next_seq, head_len, head_sha, tail_len, tail_sha, header_len, state, updated_at)
         VALUES (@lane, @fileId, @path, @dev, @ino, @generation, @offset, @nextSeq, @headLen, @headSha, @tailLen, @tailSha, @headerLen, @state, @now)
         ON CONFLICT(lane, file_id) DO UPDATE SET path = excluded.path, dev = excluded.dev, ino = excluded.ino, generation = excluded.generation,
           offset = excluded.offset, next_seq = excluded.next_seq, head_len = excluded.head_len, head_sha = excluded.head_sha,
           tail_len = excluded.tail_len, tail_sha = excluded.tail_sha, header_len = excluded.header_len, state = excluded.state, updated_at = excluded.updated_at`,
      )
      .run({ lane, ...f, now });
  }

  /** A file's journaled intents (its segments in flight when the last run stopped), in seq order. */
  intents(lane: string, fileId: string): SegmentIntent[] {
    const rows = this.db.prepare('SELECT * FROM push_intents WHERE lane = ? AND file_id = ? ORDER BY seq').all(lane, fileId) as Row[];
    return rows.map((r) => ({
      fileId,
      generation: r.generation as number,
      seq: r.seq as number,
      start: r.start as number,
      end: r.end as number,
      key: r.key as string,
      srcSha256: r.src_sha256 as string,
      sha256: r.sha256 as string,
      md5: r.md5 as string,
      size: r.size as number,
      window: r.window as number,
    }));
  }

  /** Segments journaled and not yet committed, per lane (in flight, or left by a killed run). */
  intentCount(lane: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM push_intents WHERE lane = ?').get(lane) as Row).n as number;
  }

  /** Journals a segment before its upload (synchronous, durable: synchronous=FULL). */
  intend(lane: string, i: SegmentIntent, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO push_intents (lane, file_id, generation, seq, start, end, key, src_sha256, sha256, md5, size, intent_at, window)
         VALUES (@lane, @fileId, @generation, @seq, @start, @end, @key, @srcSha256, @sha256, @md5, @size, @now, @window)`,
      )
      .run({ lane, ...i, now });
  }

  dropIntent(lane: string, fileId: string, seq: number): void {
    this.db.prepare('DELETE FROM push_intents WHERE lane = ? AND file_id = ? AND seq = ?').run(lane, fileId, seq);
  }

  /** Drops a file's intents from `fromSeq` on (all of them without it). */
  dropIntents(lane: string, fileId: string, fromSeq = 0): void {
    this.db.prepare('DELETE FROM push_intents WHERE lane = ? AND file_id = ? AND seq >= ?').run(lane, fileId, fromSeq);
  }

  /**
   * Segment `seq` is stored and verified: the file's offset moves past it (`file`, the record
   * after it) and its intent goes, atomically. Segments commit in seq order.
   */
  commit(lane: string, file: PushFile, seq: number, storedBytes: number, now = Date.now()): void {
    this.unsynced(() => {
      this.upsertFile(lane, file, now);
      this.dropIntent(lane, file.fileId, seq);
      this.db.prepare('UPDATE lanes SET segments = segments + 1, bytes = bytes + ?, last_commit_at = ? WHERE lane = ?').run(storedBytes, now, lane);
    });
  }

  // ------------------------------------------------------------------------- pull

  pullFiles(lane: string): PullFile[] {
    return (this.db.prepare('SELECT * FROM pull_files WHERE lane = ? ORDER BY file_id').all(lane) as Row[]).map((r) => ({
      fileId: r.file_id as string,
      generation: r.generation as number,
      nextSeq: r.next_seq as number,
      srcEnd: r.src_end as number,
      offset: r.offset as number,
      lastKey: (r.last_key as string | null) ?? undefined,
    }));
  }

  /** A pulled segment is appended (and fsync'd): the file's offset moves past it. Replayable, so not fsync'd itself. */
  commitPull(lane: string, f: PullFile, bytes: number, now = Date.now()): void {
    this.unsynced(() => {
      this.db
        .prepare(
          `INSERT INTO pull_files (lane, file_id, generation, next_seq, src_end, offset, last_key, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(lane, file_id) DO UPDATE SET generation = excluded.generation, next_seq = excluded.next_seq, src_end = excluded.src_end, offset = excluded.offset,
             last_key = excluded.last_key, updated_at = excluded.updated_at`,
        )
        .run(lane, f.fileId, f.generation, f.nextSeq, f.srcEnd, f.offset, f.lastKey ?? null, now);
      this.db.prepare('UPDATE lanes SET segments = segments + 1, bytes = bytes + ?, last_commit_at = ? WHERE lane = ?').run(bytes, now, lane);
    });
  }

  plainWatermark(lane: string): string | undefined {
    return (this.db.prepare('SELECT last_key FROM pull_plain WHERE lane = ?').get(lane) as Row | undefined)?.last_key as string | undefined;
  }

  /** A plain object is written (atomically, fsync'd): the watermark moves past it. Replayable, so not fsync'd itself. */
  commitPlain(lane: string, key: string, bytes: number, now = Date.now()): void {
    this.unsynced(() => {
      this.db.prepare('INSERT INTO pull_plain (lane, last_key, updated_at) VALUES (?, ?, ?) ON CONFLICT(lane) DO UPDATE SET last_key = excluded.last_key, updated_at = excluded.updated_at').run(lane, key, now);
      this.db.prepare('UPDATE lanes SET segments = segments + 1, bytes = bytes + ?, last_commit_at = ? WHERE lane = ?').run(bytes, now, lane);
    });
  }
}
