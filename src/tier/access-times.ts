/**
 * When a caching gateway last served an object: the `atime_ms` its index
 * (src/gateway/cache-index.ts, table `cached`) keeps per key for eviction — set when the
 * object is fetched or written, moved on every read served from the cache. Opened
 * read-only, so a running gateway is not disturbed (SQLite WAL lets both read). An object
 * the gateway never held, or evicted, has no row: its access time is unknown there.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { sqliteOptions } from '../lib/sqlite.js';

export class GatewayAccessTimes {
  private readonly db: Database.Database;
  private readonly stmt: Database.Statement;

  /**
   * `cacheDir` is the gateway's --cache; `upstreamId` the canonical id of its upstream
   * (Location.id): cache keys are relative to it.
   */
  constructor(
    readonly cacheDir: string,
    readonly upstreamId: string,
  ) {
    const file = join(cacheDir, '.gateway', 'index.db');
    if (!existsSync(file)) {
      throw new ConfigError(`no gateway index at ${file}`, { hint: 'tier.gateways[].cache must be the --cache directory of a gateway that has run' });
    }
    this.db = new Database(file, { ...sqliteOptions(), readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
    this.stmt = this.db.prepare('SELECT atime_ms AS t FROM cached WHERE key = ?');
  }

  /** When the gateway last served the object at this canonical URI (Location.id + key), if it recorded it. */
  accessedMs(objectId: string): number | undefined {
    if (!objectId.startsWith(this.upstreamId)) return undefined;
    const row = this.stmt.get(objectId.slice(this.upstreamId.length)) as { t: number } | undefined;
    return row?.t;
  }

  close(): void {
    this.db.close();
  }
}
