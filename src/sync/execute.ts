/**
 * The executor: runs a plan against real backends. Checkers (`checkers` at once) walk the
 * march and ask the planner; the transfers they decide go through a bounded queue to
 * `transfers` workers; deletions are parked in the state database and carried out only
 * after every transfer succeeded. Memory is bounded by the two pools and the queue,
 * never by the number of files.
 */
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import { hasChunkWriter, hasServerSideCopy, type Backend } from '../core/backend.js';
import type { Entry, WriteResult } from '../core/entry.js';
import { AbortedError, describeError, HybridsyncError, InternalError, isHybridsyncError } from '../core/errors.js';
import { AccountingStream, md5OfStream } from '../lib/accounting.js';
import type { Pacer } from '../lib/bandwidth.js';
import { forEachConcurrent } from '../lib/pool.js';
import { BoundedQueue } from '../lib/queue.js';
import { retry } from '../lib/retry.js';
import { writeObject, type ChunkingOptions } from './chunked.js';
import type { RunSummary, SyncEvent } from './events.js';
import type { Filter } from './filter.js';
import { march, type MarchPair } from './march.js';
import { decide, type Compare, type Decision, type Mode, type PlanPair, type SourceVersion, type TransferReason } from './plan.js';
import type { GateDecision, TransferGate } from './gate.js';
import { spoolTransformed } from './spool.js';
import type { StateDb } from './state.js';
import { Stats } from './stats.js';

export interface RunOptions {
  readonly mode: Mode;
  readonly src: Backend;
  readonly dst: Backend;
  readonly state: StateDb;
  readonly compare?: Compare;
  readonly transfers?: number;
  readonly checkers?: number;
  readonly dryRun?: boolean;
  /** sync: refuse to delete more than this many files (nothing is deleted then). */
  readonly maxDelete?: number;
  readonly filter?: Filter;
  readonly limiter?: Pacer;
  /** Attempts of each operation (a request, a chunk, a file) for retryable errors. */
  readonly retries?: number;
  /** When and how large files go up in chunks (backends with the chunkedUpload feature). */
  readonly chunking?: ChunkingOptions;
  readonly modifyWindowMs?: number;
  readonly ignoreExisting?: boolean;
  /** check: read both sides to compare content when a hash is not available. */
  readonly download?: boolean;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: SyncEvent) => void;
  readonly stats?: Stats;
  /** Listing problems on the source (unreadable directories, bad names), reported here. */
  readonly srcListErrors?: () => number;
  /** Governance: classification policy and transforms, consulted for every transfer. */
  readonly gate?: TransferGate;
  /** Where transformed files are spooled before upload (default: the OS temp dir). */
  readonly spoolDir?: string;
}

interface TransferTask {
  readonly src: Entry;
  readonly reason: TransferReason;
  readonly admitted?: Extract<GateDecision, { allow: true }>;
}

/** Identifies stored content without reading it: the ETag, else size and mtime. */
function storedTag(e: Entry): string {
  return e.etag ?? `${e.size}:${e.mtimeMs}`;
}

export const DEFAULT_CHUNKING: ChunkingOptions = { threshold: 16 * 1024 * 1024, chunkSize: 16 * 1024 * 1024, concurrency: 4 };

export async function runSync(o: RunOptions): Promise<RunSummary> {
  const stats = o.stats ?? new Stats();
  const emit = o.onEvent ?? (() => undefined);
  const transfers = Math.max(1, o.transfers ?? 8);
  const checkers = Math.max(1, o.checkers ?? 16);
  const retries = o.retries ?? 3;
  const dryRun = o.dryRun ?? false;
  const compare: Compare = o.compare ?? (o.mode === 'check' ? 'checksum' : 'size-mtime');
  const srcLoc = o.src.location.id;
  const dstLoc = o.dst.location.id;
  const chunking = o.chunking ?? DEFAULT_CHUNKING;
  const state = o.state;
  const runId = state.startRun(o.mode, srcLoc, dstLoc);
  const internal = new AbortController();
  setMaxListeners(0, internal.signal);
  const onOuterAbort = (): void => internal.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = internal.signal;
  const journal = state.journalFor(dstLoc);
  const dstPrefixBytes = o.dst.location.type === 'local' ? 0 : Buffer.byteLength(o.dst.location.path);
  let deletesHeldBack = 0;
  let fatal: HybridsyncError | undefined;

  emit({ type: 'run-start', runId, mode: o.mode, src: o.src.uri, dst: o.dst.uri, dryRun });

  const planOpts = {
    mode: o.mode,
    compare,
    modifyWindowMs: o.modifyWindowMs ?? 1,
    ignoreExisting: o.ignoreExisting,
    filter: o.filter,
    dstMaxKeyBytes: o.dst.features.maxKeyBytes,
    dstPrefixBytes,
  };

  const fail = (key: string | undefined, err: unknown): void => {
    if (isHybridsyncError(err) && err.fatal && !(err instanceof AbortedError)) throw err;
    if (signal.aborted) throw err instanceof AbortedError ? err : new AbortedError('run aborted', { cause: err });
    stats.failed++;
    emit({
      type: 'error',
      ...(key !== undefined ? { key } : {}),
      kind: isHybridsyncError(err) ? err.kind : 'unknown',
      message: describeError(err),
      ...(isHybridsyncError(err) && err.hint ? { hint: err.hint } : {}),
    });
  };

  const withRetry = <T>(key: string, what: string, fn: (attempt: number) => Promise<T>): Promise<T> =>
    retry(fn, {
      attempts: retries,
      baseDelayMs: 250,
      maxDelayMs: 15_000,
      signal,
      isRetryable: (e) => isHybridsyncError(e) && e.retryable,
      onRetry: (e, attempt) => {
        stats.retries++;
        emit({ type: 'retry', key, what, attempt, message: describeError(e) });
      },
    });

  /** Fills in an S3 entry's real mtime/MD5: from the state cache, else a HEAD. */
  const statFull = async (b: Backend, loc: string, e: Entry): Promise<Entry | undefined> => {
    const known = state.getObject(loc, e.key);
    if (known && known.size === e.size && e.etag !== undefined && known.etag === e.etag) {
      return { ...e, mtimeMs: known.mtimeMs, mtimeExact: true, ...(known.md5 ? { md5: known.md5 } : {}) };
    }
    const full = await b.stat(e.key, { signal });
    if (full?.etag && full.mtimeExact) {
      state.putObject(loc, e.key, { size: full.size, etag: full.etag, mtimeMs: full.mtimeMs, md5: full.md5 ?? null });
    }
    // A foreign object without mtime metadata: its upload time is all anyone knows.
    return full && !full.mtimeExact ? { ...full, mtimeExact: true } : full;
  };

  /** MD5 of an entry's content: free when listed, cached for local files, else read. */
  const md5Of = async (b: Backend, loc: string, e: Entry, mayDownload: boolean): Promise<string | undefined> => {
    if (e.md5) return e.md5;
    const local = b.features.cheapReads;
    if (!local && !mayDownload) return undefined;
    const tag = `${e.size}:${e.mtimeMs}`;
    const known = state.getObject(loc, e.key);
    if (local && known && known.etag === tag && known.md5) return known.md5;
    const { md5 } = await withRetry(e.key, 'hash', async () => md5OfStream((await b.read(e.key, { signal, ifMatch: e })) as AsyncIterable<Buffer>));
    if (local) state.putObject(loc, e.key, { size: e.size, etag: tag, mtimeMs: e.mtimeMs, md5 });
    return md5;
  };

  const queue = new BoundedQueue<TransferTask>(transfers * 2);

  /** What a transformed destination file was made from, if it still is what we stored. */
  const derivedFrom = (dst: Entry): SourceVersion | undefined => {
    const d = state.getDerived(dstLoc, dst.key);
    return d && d.dstSize === dst.size && d.dstTag === storedTag(dst) ? d : undefined;
  };

  const check = async (pair: MarchPair): Promise<void> => {
    // only runs with a gate can have transformed files: others skip the lookup
    const from = o.gate && pair.src && pair.dst ? derivedFrom(pair.dst) : undefined;
    let p: PlanPair = from ? { ...pair, dstDerivedFrom: from } : pair;
    let d: Decision = decide(p, planOpts);
    try {
      for (let round = 0; d.kind === 'resolve'; round++) {
        if (round > 3) throw new InternalError(`planner did not settle for ${p.key}`);
        if (d.need === 'dst-stat') {
          const full = await statFull(o.dst, dstLoc, p.dst!);
          p = full ? { ...p, dst: full } : { key: p.key, src: p.src! };
        } else if (d.need === 'src-stat') {
          const full = await statFull(o.src, srcLoc, p.src!);
          if (!full) return; // vanished since listing
          p = { ...p, src: full };
        } else if (d.need === 'src-md5') {
          const md5 = await md5Of(o.src, srcLoc, p.src!, o.download ?? o.mode !== 'check');
          if (!md5) {
            emit({ type: 'unverified', key: p.key, reason: 'no source hash available; compared size and mtime' });
            d = decide(p, { ...planOpts, compare: 'size-mtime' });
            continue;
          }
          p = { ...p, src: { ...p.src!, md5 } };
        } else {
          const md5 = await md5Of(o.dst, dstLoc, p.dst!, o.download ?? false);
          if (!md5) {
            emit({ type: 'unverified', key: p.key, reason: 'no destination hash (multipart object without md5 metadata); use --download' });
            d = decide(p, { ...planOpts, compare: 'size-mtime' });
            continue;
          }
          p = { ...p, dst: { ...p.dst!, md5 } };
        }
        d = decide(p, planOpts);
      }
    } catch (err) {
      fail(p.key, err);
      return;
    }
    if (d.kind !== 'excluded') stats.checks++;
    switch (d.kind) {
      case 'excluded':
        return;
      case 'skip':
        stats.skipped++;
        emit({ type: 'skip', key: p.key, reason: d.reason });
        return;
      case 'invalid':
        stats.failed++;
        emit({ type: 'error', key: p.key, kind: 'invalid-name', message: d.message, hint: d.hint });
        return;
      case 'extra':
        if (o.mode === 'check') {
          stats.differences++;
          emit({ type: 'differ', key: p.key, reason: 'missing-on-src' });
        }
        return;
      case 'delete':
        if (dryRun) {
          stats.deleted++;
          emit({ type: 'plan', action: 'delete', key: p.key });
        } else state.addPendingDelete(runId, p.key);
        return;
      case 'transfer': {
        if (o.mode === 'check') {
          stats.differences++;
          emit({ type: 'differ', key: p.key, reason: d.reason === 'missing' ? 'missing-on-dst' : d.reason === 'checksum' ? 'content' : d.reason });
          return;
        }
        let admitted: Extract<GateDecision, { allow: true }> | undefined;
        if (o.gate) {
          let g: GateDecision;
          try {
            g = await o.gate.admit(p.src!, { src: o.src, dst: o.dst, signal });
          } catch (err) {
            fail(p.key, err);
            return;
          }
          if (!g.allow) {
            stats.denied++;
            emit({ type: 'denied', key: p.key, size: p.src!.size, classification: g.classification, reason: g.reason, ...(g.rule ? { rule: g.rule } : {}) });
            return;
          }
          admitted = g;
        }
        stats.filesPlanned++;
        stats.bytesPlanned += p.src!.size;
        if (dryRun) {
          emit({
            type: 'plan',
            action: 'transfer',
            key: p.key,
            size: p.src!.size,
            reason: d.reason,
            ...(admitted?.classification ? { classification: admitted.classification } : {}),
            ...(admitted?.transforms?.length ? { transforms: admitted.transforms.map((t) => t.name) } : {}),
          });
          stats.filesDone++;
          return;
        }
        let srcEntry = p.src!;
        if (!srcEntry.mtimeExact) {
          // the destination must get the content's mtime, not the upload time
          try {
            const full = await statFull(o.src, srcLoc, srcEntry);
            if (!full) return;
            srcEntry = full;
          } catch (err) {
            fail(p.key, err);
            return;
          }
        }
        try {
          await queue.push({ src: srcEntry, reason: d.reason, ...(admitted ? { admitted } : {}) });
        } catch (err) {
          if (signal.aborted) return; // the run is stopping: this file is simply not started
          throw err;
        }
        return;
      }
    }
  };

  const transferOne = async (task: TransferTask): Promise<void> => {
    const { src } = task;
    const started = Date.now();
    let attempts = 0;
    let counted = 0;
    const admitted = task.admitted;
    const transforms = admitted?.transforms ?? [];
    const serverSide = transforms.length === 0 && hasServerSideCopy(o.dst) && o.dst.canCopyFrom(o.src);
    const meta = {
      size: src.size,
      mtimeMs: src.mtimeMs,
      ...(src.md5 ? { md5: src.md5 } : {}),
      ...(admitted?.tags ? { tags: admitted.tags } : {}),
      ...(admitted?.metadata ? { metadata: admitted.metadata } : {}),
    };
    let transformReports: Array<{ name: string; report: Record<string, unknown> }> | undefined;
    let md5Before: string | undefined;
    try {
      const result = await withRetry(src.key, 'transfer', async (attempt): Promise<WriteResult> => {
        attempts = attempt;
        stats.bytesDone -= counted; // a retry starts over: do not count bytes twice
        counted = 0;
        const onBytes = (n: number): void => {
          counted += n;
          stats.bytesDone += n;
        };
        if (serverSide && hasServerSideCopy(o.dst)) {
          return o.dst.copyFrom(o.src, src.key, src.key, meta, { signal, onProgress: onBytes });
        }
        if (transforms.length > 0) {
          const spooled = await spoolTransformed(o.src, src, transforms, { signal, dir: o.spoolDir });
          try {
            md5Before = spooled.md5Before;
            transformReports = spooled.reports;
            const acct = new AccountingStream({ limiter: o.limiter, onBytes, signal });
            const body = spooled.open();
            body.on('error', (e) => acct.destroy(e));
            return await writeObject(o.dst, src.key, body.pipe(acct), { ...meta, size: spooled.size, md5: spooled.md5After }, { chunking, retries, signal });
          } finally {
            await spooled.dispose();
          }
        }
        const body: Readable = await o.src.read(src.key, { signal, ifMatch: src });
        const acct = new AccountingStream({ limiter: o.limiter, onBytes, signal });
        body.on('error', (e) => acct.destroy(e));
        acct.on('error', () => body.destroy());
        return writeObject(o.dst, src.key, body.pipe(acct), meta, {
          chunking,
          retries,
          signal,
          journal,
          fingerprint: `${srcLoc}${src.key}|${src.size}|${src.mtimeMs}|${src.etag ?? ''}`,
          onRetry: (what, e, attempt) => {
            stats.retries++;
            emit({ type: 'retry', key: src.key, what, attempt, message: describeError(e) });
          },
        });
      });
      stats.filesDone++;
      if (serverSide) stats.serverSideCopies++;
      // a resumed multipart upload sent fewer bytes than the file has (copies and transformed
      // files send none or a different number, which is not resuming)
      if (!serverSide && transforms.length === 0) stats.bytesResumed += Math.max(0, src.size - result.bytesSent);
      const e = result.entry;
      if (e.etag) state.putObject(dstLoc, src.key, { size: e.size, etag: e.etag, mtimeMs: src.mtimeMs, md5: result.md5 || null });
      if (transforms.length > 0 && md5Before) {
        state.putDerived(dstLoc, src.key, { dstSize: e.size, dstTag: storedTag(e), size: src.size, mtimeMs: src.mtimeMs, md5: md5Before });
      } else if (o.gate) state.forgetDerived(dstLoc, src.key);
      const srcMd5 = transforms.length > 0 ? md5Before : result.md5; // the source's bytes, not the stored ones
      if (o.src.features.cheapReads && srcMd5) {
        state.putObject(srcLoc, src.key, { size: src.size, etag: `${src.size}:${src.mtimeMs}`, mtimeMs: src.mtimeMs, md5: srcMd5 });
      }
      emit({
        type: 'transfer',
        key: src.key,
        size: src.size,
        bytesSent: result.bytesSent,
        md5: result.md5,
        reason: task.reason,
        method: serverSide ? 'server-copy' : 'stream',
        durationMs: Date.now() - started,
        attempts,
        ...(admitted?.classification ? { classification: admitted.classification } : {}),
        ...(md5Before ? { md5Before } : {}),
        ...(transformReports ? { transforms: transformReports } : {}),
      });
    } catch (err) {
      stats.bytesDone -= counted;
      fail(src.key, err);
    }
  };

  let status: RunSummary['status'] = 'ok';
  try {
    const srcList = o.src.list({ signal });
    const dstList = o.dst.list({ signal, allowMissingRoot: true });
    const checking = forEachConcurrent(march(srcList, dstList), checkers, check, signal).then(
      () => queue.close(),
      (err: unknown) => {
        queue.fail(err);
        throw err;
      },
    );
    const transferring = forEachConcurrent(queue, transfers, transferOne, signal).catch((err: unknown) => {
      queue.fail(err);
      internal.abort(err);
      throw err;
    });
    const results = await Promise.allSettled([checking, transferring]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;

    // deletions: only after every transfer succeeded and the source listed cleanly
    if (o.mode === 'sync' && !dryRun) {
      const due = state.pendingDeleteCount(runId);
      const listErrors = o.srcListErrors?.() ?? 0;
      if (due > 0 && (stats.failed > 0 || listErrors > 0)) {
        deletesHeldBack = due;
        emit({ type: 'notice', message: `not deleting ${due} extraneous file(s) at the destination because there were errors` });
      } else if (due > 0 && o.maxDelete !== undefined && due > o.maxDelete) {
        deletesHeldBack = due;
        stats.failed++;
        emit({
          type: 'error',
          kind: 'usage',
          message: `${due} files would be deleted at ${o.dst.uri}, more than --max-delete ${o.maxDelete}; nothing was deleted`,
          hint: 'check the source is complete, or raise --max-delete',
        });
      } else if (due > 0) {
        await forEachConcurrent(
          state.pendingDeletes(runId),
          checkers,
          async (key) => {
            try {
              await withRetry(key, 'delete', () => o.dst.remove(key, { signal }));
              state.forgetObject(dstLoc, key);
              state.forgetDerived(dstLoc, key);
              stats.deleted++;
              emit({ type: 'delete', key });
            } catch (err) {
              fail(key, err);
            }
          },
          signal,
        );
      }
    }
    if (!dryRun && hasChunkWriter(o.dst)) {
      // chunked uploads a killed earlier run started and this run did not resume
      for (const u of journal.pending()) {
        await o.dst.abortChunkedUpload(u.key, u.uploadToken, { signal }).catch(() => undefined);
        journal.finished(u.uploadToken);
      }
    }
    const listErrors = o.srcListErrors?.() ?? 0;
    status = stats.failed > 0 || listErrors > 0 ? 'failed' : stats.differences > 0 ? 'differences' : stats.denied > 0 ? 'denied' : 'ok';
  } catch (err) {
    const realFailure = isHybridsyncError(err) && err.fatal && !(err instanceof AbortedError);
    if (o.signal?.aborted && !realFailure) {
      // Stopped on purpose (SIGINT/SIGTERM, end of a run window): files in flight finished
      // or were journaled; the summary says 'aborted' and the next run resumes.
      status = 'aborted';
    } else {
      status = 'failed';
      fatal = isHybridsyncError(err) ? err : new InternalError(describeError(err), { cause: err });
    }
  } finally {
    o.signal?.removeEventListener('abort', onOuterAbort);
  }

  const durationMs = Date.now() - stats.startedAt;
  const summary: RunSummary = {
    runId,
    mode: o.mode,
    dryRun,
    src: o.src.uri,
    dst: o.dst.uri,
    transferred: stats.filesDone,
    bytes: stats.bytesDone,
    bytesResumed: stats.bytesResumed,
    serverSideCopies: stats.serverSideCopies,
    skipped: stats.skipped,
    deleted: stats.deleted,
    failed: stats.failed + (o.srcListErrors?.() ?? 0),
    denied: stats.denied,
    differences: stats.differences,
    checks: stats.checks,
    retries: stats.retries,
    durationMs,
    rate: durationMs > 0 ? Math.round((stats.bytesDone * 1000) / durationMs) : 0,
    deletesHeldBack,
    status,
  };
  state.endRun(runId, status, summary);
  emit({ type: 'summary', summary });
  if (fatal) throw Object.assign(fatal, { summary });
  return summary;
}
