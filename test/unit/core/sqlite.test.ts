/** src/lib/sqlite.ts: the better-sqlite3 addon for the running Node's ABI (test.sh runs this on each runtime). */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sqliteOptions } from '../../../src/lib/sqlite.js';
import { ROOT } from '../../helpers/cli.js';

describe('sqliteOptions', () => {
  it('gives an addon that loads and works on this Node', () => {
    const db = new Database(':memory:', sqliteOptions());
    expect(db.prepare('SELECT sqlite_version() AS v').get()).toMatchObject({ v: expect.stringMatching(/^3\./) });
    db.close();
  });

  it("uses the build cached for this ABI when there is one, else better-sqlite3's own", () => {
    const cached = join(ROOT, '.cache', `better-sqlite3-abi${process.versions.modules}`, 'better_sqlite3.node');
    expect(sqliteOptions({})).toEqual(existsSync(cached) ? { nativeBinding: cached } : {});
  });

  it('HYBRIDSYNC_SQLITE_BINDING overrides', () => {
    expect(sqliteOptions({ HYBRIDSYNC_SQLITE_BINDING: '/opt/x/better_sqlite3.node' })).toEqual({ nativeBinding: '/opt/x/better_sqlite3.node' });
  });
});
