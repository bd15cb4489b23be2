/** Looks into a run's state database from outside, as a crash test must. */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { sqliteOptions } from '../../src/lib/sqlite.js';

/** Chunks (S3 parts, Azure blocks) journaled for uploads not yet finished; 0 before the database exists. */
export function journaledChunks(stateFile: string): number {
  if (!existsSync(stateFile)) return 0;
  let db: Database.Database;
  try {
    db = new Database(stateFile, { ...sqliteOptions(), readonly: true, fileMustExist: true });
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY' || (err as { code?: string }).code === 'SQLITE_CANTOPEN') return 0; // being created
    throw err;
  }
  try {
    return (db.prepare('SELECT count(*) AS n FROM upload_chunks').get() as { n: number }).n;
  } catch (err) {
    if (/no such table/.test((err as Error).message)) return 0; // the schema is not there yet
    throw err;
  } finally {
    db.close();
  }
}
