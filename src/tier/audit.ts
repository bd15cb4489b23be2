/**
 * The audit records of tiering: one `tier-start` and one `tier-end` per run, one
 * `tier-transition` per object moved (key, from-class, to-class, rule, ETags), `tier-planned`
 * per object a dry run would move, `error` per object that failed — and `restore-request`
 * for a restore the gateway asked for. Names and messages pass the redactor (credentials,
 * e-mail addresses) like every record. The run's end writes a signed checkpoint.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../governance/audit/log.js';
import { actor } from '../governance/audit/recorder.js';
import { createRedactor, redactUri } from '../governance/audit/redact.js';
import { sha256Hex } from '../governance/audit/format.js';
import type { RestoreRequested } from './restore.js';
import type { TierEvent } from './events.js';

const redact = createRedactor();

/** An object's fields in a record: its key (redacted, with the digest of the real one if changed) and its URI. */
function objectFields(locationId: string, key: string): { key: string; keyDigest?: string; object: string } {
  const shown = redact(key);
  return { key: shown, ...(shown !== key ? { keyDigest: sha256Hex(key) } : {}), object: redactUri(locationId).replace(/\/*$/, '/') + shown };
}

export class TierAuditor {
  private readonly run = randomUUID();

  constructor(
    private readonly log: AuditLog,
    /** Display form → canonical id of each listed location, for the records' object URIs. */
    private readonly ids: ReadonlyMap<string, string>,
    private readonly config?: { file: string; sha256?: string },
  ) {}

  private id(location: string | undefined): string {
    return (location !== undefined ? this.ids.get(location) : undefined) ?? location ?? '';
  }

  record(e: TierEvent): void {
    switch (e.type) {
      case 'tier-start':
        this.log.append({
          type: 'tier-start',
          run: this.run,
          dryRun: e.dryRun,
          rules: e.rules,
          locations: e.locations.map((l) => redactUri(this.id(l))),
          ...actor(),
          tool: 'hybridsync',
          ...(this.config ? { config: this.config.file, configSha256: this.config.sha256 } : {}),
        });
        return;
      case 'tier':
        this.log.append({
          type: 'tier-transition',
          run: this.run,
          ...objectFields(this.id(e.location), e.key),
          bytes: e.size,
          fromClass: e.from,
          toClass: e.to,
          rule: e.rule,
          ...(e.etagBefore ? { etagBefore: e.etagBefore } : {}),
          ...(e.etagAfter ? { etagAfter: e.etagAfter } : {}),
        });
        return;
      case 'tier-plan':
        this.log.append({ type: 'tier-planned', run: this.run, ...objectFields(this.id(e.location), e.key), bytes: e.size, fromClass: e.from, toClass: e.to, rule: e.rule });
        return;
      case 'error':
        this.log.append({ type: 'error', run: this.run, ...(e.key !== undefined ? objectFields(this.id(e.location), e.key) : {}), kind: e.kind, message: redact(e.message) });
        return;
      case 'tier-summary': {
        const s = e.summary;
        this.log.append({ type: 'tier-end', run: this.run, status: s.status, dryRun: s.dryRun, objects: s.objects, transitioned: s.transitioned, bytes: s.bytes, failed: s.failed, durationMs: s.durationMs });
        this.log.flushQuietly({ checkpoint: true });
        return;
      }
      default:
        return;
    }
  }
}

/** The record of a restore requested outside a sync run (the gateway's read path). */
export function restoreRequestRecord(locationId: string, r: RestoreRequested, by: string): { type: string } & Record<string, unknown> {
  return {
    type: 'restore-request',
    ...objectFields(locationId, r.key),
    storageClass: r.storageClass,
    ...(r.rehydrateTo ? { rehydrateTo: r.rehydrateTo } : { days: r.days }),
    priority: r.priority,
    by,
    ...actor(),
    tool: 'hybridsync',
  };
}
