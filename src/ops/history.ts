/**
 * Job history: one row per job run, in the same SQLite file as the engine's state database
 * (its own table, created here). The scheduler reads the last start to find missed runs;
 * the planner reads volumes; the API and `job history` list it.
 */
import type Database from 'better-sqlite3';
import type { RunSummary } from '../sync/events.js';
import { pidAlive } from '../lib/process.js';
import { openSqlite } from '../lib/sqlite.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS job_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  trigger TEXT NOT NULL,
  scheduled_at INTEGER,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  status TEXT NOT NULL DEFAULT 'running',
  attempt INTEGER NOT NULL DEFAULT 1,
  engine_run_id INTEGER,
  bytes INTEGER NOT NULL DEFAULT 0,
  files INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  message TEXT,
  summary TEXT
);
CREATE INDEX IF NOT EXISTS job_runs_by_job ON job_runs(job, started_at);
CREATE TABLE IF NOT EXISTS job_locks (job TEXT PRIMARY KEY, pid INTEGER NOT NULL, started_at INTEGER NOT NULL);
`;


/**
 * ok / failed / differences as the engine reports; `window-end` and `stopped` are clean stops
 * to be resumed; `restore-pending`: done but for source objects awaiting a restore from an
 * archive tier (the next run copies them); `busy`: not started because another process runs
 * the same job.
 */
export type JobRunStatus = 'running' | 'ok' | 'failed' | 'differences' | 'denied' | 'known-denials' | 'restore-pending' | 'window-end' | 'stopped' | 'interrupted' | 'busy';
export type JobTrigger = 'schedule' | 'catch-up' | 'manual' | 'retry';

export interface JobRun {
  readonly id: number;
  readonly job: string;
  readonly trigger: JobTrigger;
  readonly scheduledAt: number | null;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly status: JobRunStatus;
  readonly attempt: number;
  readonly engineRunId: number | null;
  readonly bytes: number;
  readonly files: number;
  readonly failed: number;
  readonly message: string | null;
}

export class JobHistory {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(readonly path: string) {
    this.db = openSqlite(path, SCHEMA);
    const d = this.db;
    this.stmts = {
      start: d.prepare('INSERT INTO job_runs (job, trigger, scheduled_at, started_at, attempt) VALUES (?, ?, ?, ?, ?)'),
      engine: d.prepare('UPDATE job_runs SET engine_run_id = ? WHERE id = ?'),
      end: d.prepare('UPDATE job_runs SET ended_at = ?, status = ?, bytes = ?, files = ?, failed = ?, message = ?, summary = ? WHERE id = ?'),
      list: d.prepare('SELECT * FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?'),
      recent: d.prepare('SELECT * FROM job_runs ORDER BY id DESC LIMIT ?'),
      get: d.prepare('SELECT * FROM job_runs WHERE id = ?'),
      lastScheduled: d.prepare("SELECT max(coalesce(scheduled_at, started_at)) AS t FROM job_runs WHERE job = ? AND trigger IN ('schedule', 'catch-up', 'retry')"),
      volumes: d.prepare("SELECT bytes FROM job_runs WHERE job = ? AND status IN ('ok', 'differences', 'denied', 'known-denials', 'restore-pending', 'failed') ORDER BY id DESC LIMIT ?"),
      orphans: d.prepare("UPDATE job_runs SET status = 'interrupted', ended_at = ? WHERE status = 'running'"),
    };
  }

  /** Marks runs left 'running' by a process that died as interrupted (call once at daemon start). */
  recoverInterrupted(now: number): number {
    return this.stmts.orphans.run(now).changes;
  }

  start(job: string, trigger: JobTrigger, startedAt: number, scheduledAt?: number, attempt = 1): number {
    return Number(this.stmts.start.run(job, trigger, scheduledAt ?? null, startedAt, attempt).lastInsertRowid);
  }

  linkEngineRun(id: number, engineRunId: number): void {
    this.stmts.engine.run(engineRunId, id);
  }

  finish(id: number, endedAt: number, status: JobRunStatus, summary?: RunSummary, message?: string): void {
    this.stmts.end.run(
      endedAt,
      status,
      summary?.bytes ?? 0,
      summary?.transferred ?? 0,
      summary?.failed ?? 0,
      message ?? null,
      summary ? JSON.stringify(summary) : null,
      id,
    );
  }

  list(job: string, limit = 20): JobRun[] {
    return (this.stmts.list.all(job, limit) as Row[]).map(fromRow);
  }

  recent(limit = 50): JobRun[] {
    return (this.stmts.recent.all(limit) as Row[]).map(fromRow);
  }

  get(id: number): JobRun | undefined {
    const r = this.stmts.get.get(id) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** When the last scheduled run of `job` was due (or started), for catch-up. */
  lastScheduled(job: string): number | undefined {
    const r = this.stmts.lastScheduled.get(job) as { t: number | null };
    return r.t ?? undefined;
  }

  /** Bytes moved by the last `n` completed runs, newest first. */
  volumes(job: string, n = 10): number[] {
    return (this.stmts.volumes.all(job, n) as Array<{ bytes: number }>).map((r) => r.bytes);
  }

  /**
   * Takes the job's lock for this process, across processes sharing the state file (a
   * daemon and a `job run`, two daemons). A lock whose holder died is taken over.
   * Returns undefined on success, else the pid holding it.
   */
  tryLock(job: string, pid = process.pid, now = Date.now()): number | undefined {
    return this.db.transaction((): number | undefined => {
      const row = this.db.prepare('SELECT pid FROM job_locks WHERE job = ?').get(job) as { pid: number } | undefined;
      if (row && row.pid !== pid && pidAlive(row.pid)) return row.pid;
      this.db.prepare('INSERT OR REPLACE INTO job_locks (job, pid, started_at) VALUES (?, ?, ?)').run(job, pid, now);
      return undefined;
    }).immediate();
  }

  unlock(job: string, pid = process.pid): void {
    this.db.prepare('DELETE FROM job_locks WHERE job = ? AND pid = ?').run(job, pid);
  }

  close(): void {
    this.db.close();
  }
}

interface Row {
  id: number;
  job: string;
  trigger: JobTrigger;
  scheduled_at: number | null;
  started_at: number;
  ended_at: number | null;
  status: JobRunStatus;
  attempt: number;
  engine_run_id: number | null;
  bytes: number;
  files: number;
  failed: number;
  message: string | null;
}

function fromRow(r: Row): JobRun {
  return {
    id: r.id,
    job: r.job,
    trigger: r.trigger,
    scheduledAt: r.scheduled_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    status: r.status,
    attempt: r.attempt,
    engineRunId: r.engine_run_id,
    bytes: r.bytes,
    files: r.files,
    failed: r.failed,
    message: r.message,
  };
}
