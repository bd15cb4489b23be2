/**
 * Which better-sqlite3 native addon to load. npm builds one, for the Node that ran the
 * install; another runtime (scripts/test.sh also runs the suite on Node 24) needs one built
 * against its own ABI, kept apart so both work from one node_modules. In order:
 * $HYBRIDSYNC_SQLITE_BINDING (a path to a better_sqlite3.node), else
 * <package root>/.cache/better-sqlite3-abi<process.versions.modules>/better_sqlite3.node
 * if it exists (scripts/native-for-node.sh builds it), else better-sqlite3's own build.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function sqliteOptions(env: NodeJS.ProcessEnv = process.env): Database.Options {
  const explicit = env.HYBRIDSYNC_SQLITE_BINDING;
  if (explicit) return { nativeBinding: explicit };
  // src/lib/ and dist/lib/ are both two levels below the package root
  const cached = join(import.meta.dirname, '..', '..', '.cache', `better-sqlite3-abi${process.versions.modules}`, 'better_sqlite3.node');
  return existsSync(cached) ? { nativeBinding: cached } : {};
}

/** Opens (creating its directory, mode 0700) a database in WAL mode that waits for other writers, with `schema` applied. */
export function openSqlite(path: string, schema: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path, sqliteOptions());
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 10000');
  db.exec(schema);
  return db;
}
