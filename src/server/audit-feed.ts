/**
 * The audit trail as the API and dashboard show it: the newest records matching a filter,
 * read by streaming the log (memory bounded by `limit`, not by the log's length).
 * Integrity is `hybridsync audit verify`'s job; this is a view.
 */
import { existsSync } from 'node:fs';
import { readAuditRecords, compileFilter, type AuditFilter } from '../governance/audit/export.js';
import type { AuditRecord } from '../governance/audit/format.js';
import type { LevelScale } from '../governance/classify/levels.js';

export interface AuditFeed {
  /** Newest first. */
  recent(filter: AuditFilter, limit: number, signal?: AbortSignal): Promise<AuditRecord[]>;
}

export function auditFeed(file: string, scale: LevelScale): AuditFeed {
  return {
    async recent(filter, limit, signal) {
      if (!existsSync(file)) return [];
      const keep = compileFilter(filter, scale);
      const ring: AuditRecord[] = [];
      for await (const r of readAuditRecords(file, signal)) {
        if (!keep(r)) continue;
        ring.push(r);
        if (ring.length > limit) ring.shift();
      }
      return ring.reverse();
    },
  };
}
