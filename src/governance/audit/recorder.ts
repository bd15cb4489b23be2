/**
 * Turns a run's events into audit records: one record per run start and end, transfer,
 * planned transfer (dry run), skip, delete, denial, verification failure and error, each
 * with source and destination URIs and environments, so a record can be read without
 * the others. Names and messages pass through the redactor first; transform reports are
 * counts only by contract. The run's end writes a signed checkpoint at once.
 */
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { SyncEvent } from '../../sync/events.js';
import { sha256Hex, type RecordBody } from './format.js';
import type { AuditLog } from './log.js';
import { redactUri, type Redactor } from './redact.js';

/** What the gate decided for a key, beyond what the events carry. */
export interface DecisionNote {
  readonly classification: string;
  readonly rule: string;
  readonly source: string;
  readonly reason: string;
}

export interface RunFacts {
  readonly srcUri: string;
  readonly dstUri: string;
  readonly srcEnv?: string;
  readonly dstEnv?: string;
  readonly configFile?: string;
  readonly configSha256?: string;
}

export interface RecorderOptions {
  readonly skips: boolean;
  readonly redact: Redactor;
  /** The gate's note for a key, consumed once. */
  readonly takeNote?: (key: string) => DecisionNote | undefined;
}

export function actor(): { user: string; host: string; pid: number } {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return { user, host: hostname(), pid: process.pid };
}

export class AuditRecorder {
  private run: string | undefined;
  private mode: string | undefined;
  private early: RecordBody[] = [];
  private readonly src: string;
  private readonly dst: string;
  private readonly envs: { srcEnv?: string; dstEnv?: string };

  constructor(
    private readonly log: AuditLog,
    private readonly facts: RunFacts,
    private readonly o: RecorderOptions,
  ) {
    this.src = redactUri(facts.srcUri).replace(/\/*$/, '/');
    this.dst = redactUri(facts.dstUri).replace(/\/*$/, '/');
    this.envs = { ...(facts.srcEnv ? { srcEnv: facts.srcEnv } : {}), ...(facts.dstEnv ? { dstEnv: facts.dstEnv } : {}) };
  }

  /** Adds a record of the run (e.g. the TLS protocol an endpoint negotiated); one noted before the run starts waits for it. */
  note(body: RecordBody): void {
    if (this.run === undefined) this.early.push(body);
    else this.log.append({ ...body, run: this.run });
  }

  /** Writes what was noted though no run started (a refused endpoint), signed. */
  flushNotes(): void {
    for (const b of this.early) this.log.append({ ...b, src: this.src, dst: this.dst, ...this.envs });
    this.early = [];
    this.log.flush({ checkpoint: true });
  }

  private file(key: string): { key: string; keyDigest?: string; src: string; dst: string } {
    const shown = this.o.redact(key);
    return { key: shown, ...(shown !== key ? { keyDigest: sha256Hex(key) } : {}), src: this.src + shown, dst: this.dst + shown };
  }

  record(e: SyncEvent): void {
    const run = this.run ?? '';
    switch (e.type) {
      case 'run-start': {
        this.run = randomUUID();
        this.mode = e.mode;
        const who = actor();
        this.log.append({
          type: 'run-start',
          run: this.run,
          runId: e.runId,
          mode: e.mode,
          dryRun: e.dryRun,
          src: this.src,
          dst: this.dst,
          ...this.envs,
          ...who,
          tool: 'hybridsync',
          ...(this.facts.configFile ? { config: this.facts.configFile, configSha256: this.facts.configSha256 } : {}),
        });
        for (const b of this.early) this.log.append({ ...b, run: this.run });
        this.early = [];
        return;
      }
      case 'plan': {
        if (e.action === 'delete') {
          this.log.append({ type: 'planned-delete', run, ...this.file(e.key), ...this.envs });
          return;
        }
        const note = this.o.takeNote?.(e.key);
        this.log.append({
          type: 'planned',
          run,
          ...this.file(e.key),
          ...this.envs,
          bytes: e.size ?? 0,
          reason: e.reason,
          ...(note || e.classification ? { classification: note?.classification ?? e.classification, rule: note?.rule, decision: 'allow', policy: note?.reason } : {}),
          ...(e.transforms ? { transforms: e.transforms } : {}),
        });
        return;
      }
      case 'transfer': {
        const note = this.o.takeNote?.(e.key);
        this.log.append({
          type: 'transfer',
          run,
          ...this.file(e.key),
          ...this.envs,
          bytes: e.size,
          bytesSent: e.bytesSent,
          hashAlgorithm: 'md5',
          hashBefore: e.md5Before ?? e.md5,
          hashAfter: e.md5,
          ...(note || e.classification ? { classification: note?.classification ?? e.classification, rule: note?.rule, decision: 'allow', policy: note?.reason } : {}),
          transforms: e.transforms ?? [],
          reason: e.reason,
          method: e.method,
          durationMs: e.durationMs,
          attempts: e.attempts,
        });
        return;
      }
      case 'denied': {
        const note = this.o.takeNote?.(e.key);
        this.log.append({
          // a check transfers nothing: what it found is that the policy keeps the file out
          ...(this.mode === 'check' ? { type: 'verification', result: 'denied' } : { type: 'denied' }),
          run,
          ...this.file(e.key),
          ...this.envs,
          bytes: e.size,
          classification: e.classification,
          ...(e.rule ? { rule: e.rule } : {}),
          ...(note ? { source: note.source } : {}),
          decision: 'deny',
          reason: this.o.redact(e.reason),
          ...(e.knownSince ? { knownSince: e.knownSince } : {}),
        });
        return;
      }
      case 'skip':
        if (this.o.skips) this.log.append({ type: 'skip', run, ...this.file(e.key), ...this.envs, reason: e.reason });
        return;
      case 'delete':
        this.log.append({ type: 'delete', run, ...this.file(e.key), ...this.envs });
        return;
      case 'conflict':
        this.log.append({
          type: 'conflict',
          run,
          ...this.file(e.key),
          ...this.envs,
          policy: e.policy,
          winner: e.winner,
          ...(e.keptAs ? { keptAs: this.o.redact(e.keptAs) } : {}),
          ...(e.merged ? { merged: e.merged } : {}),
        });
        return;
      case 'rename': {
        const note = this.o.takeNote?.(e.key);
        this.log.append({ type: 'rename', run, ...this.file(e.key), ...this.envs, from: this.o.redact(e.from), ...(note ? { classification: note.classification, rule: note.rule, decision: 'allow' } : {}) });
        return;
      }
      case 'differ': {
        const note = this.o.takeNote?.(e.key);
        this.log.append({ type: 'verification', run, ...this.file(e.key), ...this.envs, result: 'differ', reason: e.reason, ...(note ? { classification: note.classification } : {}) });
        return;
      }
      case 'unverified':
        this.log.append({ type: 'verification', run, ...this.file(e.key), ...this.envs, result: 'unverified', reason: this.o.redact(e.reason) });
        return;
      case 'error':
        if (e.key !== undefined) this.o.takeNote?.(e.key);
        this.log.append({
          type: 'error',
          run,
          ...(e.key !== undefined ? this.file(e.key) : {}),
          ...this.envs,
          kind: e.kind,
          message: this.o.redact(e.message),
        });
        return;
      case 'notice':
        this.note({ type: 'notice', message: this.o.redact(e.message) });
        return;
      case 'refused': {
        // no run started: the refusal is a record of its own, durable at once
        this.log.append({ type: 'refused', what: e.what, src: this.src, dst: this.dst, ...this.envs, ...actor(), tool: 'hybridsync', message: this.o.redact(e.message) });
        this.log.flushQuietly({ checkpoint: true });
        return;
      }
      case 'restore':
        // the request is what changes something at the store (and costs): waiting is not recorded
        if (e.status === 'requested') {
          this.log.append({
            type: 'restore-request',
            run,
            ...this.file(e.key),
            ...this.envs,
            storageClass: e.storageClass,
            ...(e.rehydrateTo ? { rehydrateTo: e.rehydrateTo } : { days: e.days }),
            priority: e.priority,
            by: 'sync',
          });
        }
        return;
      case 'restore-pending':
        this.log.append({ type: 'restore-pending', run, ...this.file(e.key), ...this.envs, ...(e.storageClass ? { storageClass: e.storageClass } : {}), requested: e.requested });
        return;
      case 'stream-start': {
        this.run = randomUUID();
        this.log.append({ type: 'stream-start', run: this.run, lane: e.lane, direction: e.direction, src: this.src, dst: this.dst, ...this.envs, ...actor(), tool: 'hybridsync' });
        for (const b of this.early) this.log.append({ ...b, run: this.run });
        this.early = [];
        return;
      }
      case 'segment': {
        const file = this.o.redact(e.file);
        const key = this.o.redact(e.key);
        this.log.append({
          type: 'segment',
          run,
          lane: e.lane,
          direction: e.direction,
          src: this.src + file,
          dst: this.dst + key,
          ...this.envs,
          fileId: e.fileId,
          generation: e.generation,
          segment: e.seq,
          range: [e.start, e.end],
          bytes: e.bytes,
          hashAlgorithm: 'sha256',
          hashBefore: e.srcSha256 ?? e.sha256,
          hashAfter: e.sha256,
          md5: e.md5,
          ...(e.classification ? { classification: e.classification, decision: 'allow' } : {}),
          transforms: e.transforms ?? [],
          reason: e.reason,
          ...(e.forced ? { forced: true } : {}),
          ...(e.confirmed ? { confirmed: true } : {}),
        });
        try {
          this.log.flush(); // before the offset commits: a crash repeats an audit record, never loses one
        } catch {
          // kept in log.failure; the lane stops on it
        }
        return;
      }
      case 'stream-end': {
        this.log.append({ type: 'stream-end', run, lane: e.lane, status: e.status, segments: e.segments, bytes: e.bytes, ...(e.message ? { message: this.o.redact(e.message) } : {}) });
        this.log.flushQuietly({ checkpoint: true });
        return;
      }
      case 'summary': {
        const s = e.summary;
        this.log.append({
          type: 'run-end',
          run,
          status: s.status,
          transferred: s.transferred,
          bytes: s.bytes,
          skipped: s.skipped,
          deleted: s.deleted,
          failed: s.failed,
          denied: s.denied,
          differences: s.differences,
          ...(s.restorePending ? { restorePending: s.restorePending } : {}),
          retries: s.retries,
          durationMs: s.durationMs,
        });
        this.log.flushQuietly({ checkpoint: true });
        return;
      }
      default:
        return;
    }
  }
}
