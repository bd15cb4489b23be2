/**
 * The lineage index: which dataset snapshots and model versions exist where, and which
 * model was trained on which snapshot. A SQLite file beside the state database
 * (`lineage.db`), kept apart from state.db's schema. It is an index, not the record: the
 * signed manifests at the locations are, and `snapshot list LOCATION` / `model list
 * LOCATION` re-index a location from them.
 */
import type Database from 'better-sqlite3';
import { dirname, join, resolve } from 'node:path';
import { openSqlite } from '../lib/sqlite.js';

export function lineageIndexPath(statePath: string): string {
  return statePath === ':memory:' ? ':memory:' : join(dirname(resolve(statePath)), 'lineage.db');
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS snapshots (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL,
  location_id TEXT NOT NULL, location TEXT NOT NULL, created TEXT NOT NULL,
  files INTEGER NOT NULL, bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_by_name ON snapshots(name, created);
CREATE TABLE IF NOT EXISTS models (
  location_id TEXT NOT NULL, version_id TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL,
  sha256 TEXT NOT NULL, location TEXT NOT NULL, dataset_id TEXT NOT NULL, dataset_sha256 TEXT NOT NULL, run_id TEXT NOT NULL,
  git_commit TEXT NOT NULL, created TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
  PRIMARY KEY (location_id, version_id)
);
CREATE INDEX IF NOT EXISTS models_by_version ON models(version_id);
CREATE INDEX IF NOT EXISTS models_by_dataset ON models(dataset_id);
CREATE TABLE IF NOT EXISTS promotions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, version_id TEXT NOT NULL, sha256 TEXT NOT NULL,
  target_id TEXT NOT NULL, target TEXT NOT NULL, promoted TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS promotions_by_version ON promotions(version_id);
`;

export interface SnapshotRow {
  readonly id: string;
  readonly name: string;
  readonly sha256: string;
  readonly locationId: string;
  /** The location as written when the snapshot was made. */
  readonly location: string;
  readonly created: string;
  readonly files: number;
  readonly bytes: number;
}

export interface ModelRow {
  readonly versionId: string;
  readonly model: string;
  readonly version: number;
  readonly sha256: string;
  readonly locationId: string;
  readonly location: string;
  readonly datasetId: string;
  readonly datasetSha256: string;
  readonly runId: string;
  readonly commit: string;
  readonly created: string;
  readonly files: number;
  readonly bytes: number;
}

export interface PromotionRow {
  readonly versionId: string;
  readonly sha256: string;
  readonly targetId: string;
  readonly target: string;
  readonly promoted: string;
}

const SNAPSHOT_COLS = 'id, name, sha256, location_id AS locationId, location, created, files, bytes';
const MODEL_COLS =
  'version_id AS versionId, model, version, sha256, location_id AS locationId, location, dataset_id AS datasetId, dataset_sha256 AS datasetSha256, run_id AS runId, git_commit AS "commit", created, files, bytes';

export class LineageIndex {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    this.db = openSqlite(path, SCHEMA);
  }

  putSnapshot(s: SnapshotRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO snapshots (id, name, sha256, location_id, location, created, files, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(s.id, s.name, s.sha256, s.locationId, s.location, s.created, s.files, s.bytes);
  }

  snapshot(id: string): SnapshotRow | undefined {
    return this.db.prepare(`SELECT ${SNAPSHOT_COLS} FROM snapshots WHERE id = ?`).get(id) as SnapshotRow | undefined;
  }

  /** Snapshots of a name, newest first. */
  snapshotsNamed(name: string): SnapshotRow[] {
    return this.db.prepare(`SELECT ${SNAPSHOT_COLS} FROM snapshots WHERE name = ? ORDER BY created DESC, id`).all(name) as SnapshotRow[];
  }

  snapshots(locationId?: string): SnapshotRow[] {
    return (
      locationId === undefined
        ? this.db.prepare(`SELECT ${SNAPSHOT_COLS} FROM snapshots ORDER BY name, created DESC`).all()
        : this.db.prepare(`SELECT ${SNAPSHOT_COLS} FROM snapshots WHERE location_id = ? ORDER BY name, created DESC`).all(locationId)
    ) as SnapshotRow[];
  }

  putModel(m: ModelRow): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO models (location_id, version_id, model, version, sha256, location, dataset_id, dataset_sha256, run_id, git_commit, created, files, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(m.locationId, m.versionId, m.model, m.version, m.sha256, m.location, m.datasetId, m.datasetSha256, m.runId, m.commit, m.created, m.files, m.bytes);
  }

  /** Every indexed copy of a model version (one per model location). */
  modelVersions(versionId: string): ModelRow[] {
    return this.db.prepare(`SELECT ${MODEL_COLS} FROM models WHERE version_id = ? ORDER BY location_id`).all(versionId) as ModelRow[];
  }

  models(locationId?: string): ModelRow[] {
    return (
      locationId === undefined
        ? this.db.prepare(`SELECT ${MODEL_COLS} FROM models ORDER BY model, version`).all()
        : this.db.prepare(`SELECT ${MODEL_COLS} FROM models WHERE location_id = ? ORDER BY model, version`).all(locationId)
    ) as ModelRow[];
  }

  modelsTrainedOn(datasetId: string): ModelRow[] {
    return this.db.prepare(`SELECT ${MODEL_COLS} FROM models WHERE dataset_id = ? ORDER BY model, version`).all(datasetId) as ModelRow[];
  }

  addPromotion(p: PromotionRow): void {
    this.db.prepare('INSERT INTO promotions (version_id, sha256, target_id, target, promoted) VALUES (?, ?, ?, ?, ?)').run(p.versionId, p.sha256, p.targetId, p.target, p.promoted);
  }

  promotions(versionId: string): PromotionRow[] {
    return this.db
      .prepare('SELECT version_id AS versionId, sha256, target_id AS targetId, target, promoted FROM promotions WHERE version_id = ? ORDER BY id')
      .all(versionId) as PromotionRow[];
  }

  close(): void {
    this.db.close();
  }
}
