/**
 * Explicit classification labels (`hybridsync classify set PATH LEVEL`), kept in the
 * state database in a table of their own. A label names a file or a directory tree by
 * its canonical URI: `file:///abs/path` for local files, `s3://bucket/key` for objects; a
 * tree's URI ends in `/`. The nearest label wins: a file's own label over its directory's.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { sqliteOptions } from '../lib/sqlite.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS classification_labels (
  uri TEXT PRIMARY KEY,
  level TEXT NOT NULL,
  set_at INTEGER NOT NULL,
  set_by TEXT NOT NULL
) WITHOUT ROWID;
`;

export interface Label {
  readonly uri: string;
  readonly level: string;
  readonly setAt: number;
  readonly setBy: string;
}

/** Looks up the label that applies to a URI. */
export interface LabelLookup {
  labelFor(uri: string): Label | undefined;
}

/** Ancestors of a URI from the nearest up: `s3://b/a/x` -> `s3://b/a/`, `s3://b/`. */
export function ancestorUris(uri: string): string[] {
  const m = /^([a-z][a-z0-9+.-]*:\/\/[^/]*\/)(.*)$/i.exec(uri);
  const head = m?.[1] ?? '';
  const rest = m?.[2] ?? uri;
  const out: string[] = [];
  let i = rest.endsWith('/') ? rest.length - 1 : rest.length;
  while ((i = rest.lastIndexOf('/', i - 1)) >= 0) out.push(head + rest.slice(0, i + 1));
  if (head) out.push(head);
  return out;
}

export class LabelStore implements LabelLookup {
  private readonly db: Database.Database;
  private readonly owned: boolean;
  private readonly stmts;
  /** All labels, loaded on first lookup: people set labels, so there are few. */
  private cache: Map<string, Label> | undefined;

  /** Opens the state database file, or shares an open connection (the run's StateDb). */
  constructor(db: string | Database.Database) {
    if (typeof db === 'string') {
      if (db !== ':memory:') mkdirSync(dirname(db), { recursive: true, mode: 0o700 });
      this.db = new Database(db, sqliteOptions());
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 10000');
      this.owned = true;
    } else {
      this.db = db;
      this.owned = false;
    }
    this.db.exec(SCHEMA);
    this.stmts = {
      get: this.db.prepare('SELECT uri, level, set_at AS setAt, set_by AS setBy FROM classification_labels WHERE uri = ?'),
      put: this.db.prepare('INSERT OR REPLACE INTO classification_labels (uri, level, set_at, set_by) VALUES (?, ?, ?, ?)'),
      del: this.db.prepare('DELETE FROM classification_labels WHERE uri = ?'),
      all: this.db.prepare('SELECT uri, level, set_at AS setAt, set_by AS setBy FROM classification_labels ORDER BY uri'),
      under: this.db.prepare('SELECT uri, level, set_at AS setAt, set_by AS setBy FROM classification_labels WHERE uri >= ? AND uri < ? ORDER BY uri'),
    };
  }

  get(uri: string): Label | undefined {
    return this.stmts.get.get(uri) as Label | undefined;
  }

  /** Sets a label and returns the one it replaced. */
  set(uri: string, level: string, setBy: string, now = Date.now()): Label | undefined {
    const previous = this.get(uri);
    this.stmts.put.run(uri, level, now, setBy);
    this.cache = undefined;
    return previous;
  }

  /** Removes a label and returns it. */
  unset(uri: string): Label | undefined {
    const previous = this.get(uri);
    this.stmts.del.run(uri);
    this.cache = undefined;
    return previous;
  }

  /** Labels at or under a URI prefix (all labels without one). */
  list(prefix?: string): Label[] {
    if (!prefix) return this.stmts.all.all() as Label[];
    return this.stmts.under.all(prefix, `${prefix}\uffff`) as Label[];
  }

  labelFor(uri: string): Label | undefined {
    this.cache ??= new Map((this.stmts.all.all() as Label[]).map((l) => [l.uri, l]));
    if (this.cache.size === 0) return undefined;
    const own = this.cache.get(uri);
    if (own) return own;
    for (const a of ancestorUris(uri)) {
      const l = this.cache.get(a);
      if (l) return l;
    }
    return undefined;
  }

  close(): void {
    if (this.owned) this.db.close();
  }
}
