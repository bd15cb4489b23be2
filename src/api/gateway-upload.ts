/**
 * The gateway's write-back uploader: one engine run per batch — transfer() in sync mode from
 * the cache's outbox (the batch's dirty files, hard-linked) to the upstream seen through the
 * batch's keys (keyedView) — so the classification policy, PII scrubbing, bandwidth timetable
 * and audit trail apply to every file written through the gateway, and deletes are the
 * engine's too.
 *
 * The runs go on a worker thread of their own (gateway-upload-worker.ts): an upload hashes
 * every byte (MD5 of the whole, SHA-256 of each part) and copies it into parts, and on the
 * S3 endpoint's thread that work slowed the PUTs being received. The thread is started at
 * the first batch and kept; without a built worker file (running from source) or with a
 * config given as an object rather than a file, the runs stay on the calling thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { resolveLocation } from '../backends/registry.js';
import { describeError } from '../core/errors.js';
import type { Entry } from '../core/entry.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { keyedView } from '../gateway/views.js';
import type { BatchUploader, KeyOutcome } from '../gateway/writeback.js';
import type { SyncEvent } from '../sync/events.js';
import { transfer } from './transfer.js';

/** What an upload run needs, as data a worker thread can be given. */
export interface UploadSetup {
  readonly upstream: string;
  readonly statePath: string;
  /** The config file (undefined: as loadConfig finds one: $HYBRIDSYNC_CONFIG, ./hybridsync.yaml). */
  readonly configFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly transferOptions?: Readonly<Record<string, unknown>>;
}

/** A batch as it crosses to the worker: the keys, and what the upstream is known to hold for them. */
interface BatchMessage {
  readonly id: number;
  readonly outbox: string;
  readonly puts: readonly string[];
  readonly deletes: readonly string[];
  readonly known?: ReadonlyArray<readonly [string, Entry | null]>;
}

/** One engine run per batch, on this thread. */
export function engineUploader(s: UploadSetup, loaded: LoadedConfig = loadConfig(s.configFile, s.env ?? process.env)): BatchUploader {
  return async ({ outbox, puts, deletes, known }) => {
    const results = new Map<string, KeyOutcome>();
    const onEvent = (e: SyncEvent): void => {
      if (e.type === 'transfer' || e.type === 'skip' || e.type === 'delete') results.set(e.key, { ok: true });
      else if (e.type === 'denied') results.set(e.key, { ok: false, denied: true, message: `denied by policy (${e.classification}): ${e.reason}` });
      else if (e.type === 'error' && e.key !== undefined) results.set(e.key, { ok: false, message: e.message });
    };
    try {
      await transfer({
        src: outbox,
        dst: s.upstream,
        config: loaded,
        ...(s.env ? { env: s.env } : {}),
        statePath: s.statePath,
        json: true,
        mode: 'sync',
        onEvent,
        view: { dst: (b) => keyedView(b, [...puts, ...deletes], known) },
        options: { ...s.transferOptions, maxDelete: '100%', allowEmptySource: true },
      });
    } catch (err) {
      const message = describeError(err);
      for (const k of [...puts, ...deletes]) if (!results.has(k)) results.set(k, { ok: false, message });
    }
    // a delete the run did not report: done if the upstream has no such object
    const missing = deletes.filter((k) => !results.has(k));
    if (missing.length > 0) {
      const b = resolveLocation(s.upstream, { remotes: loaded.remotes, ...(s.env ? { env: s.env } : {}) }).open();
      try {
        for (const k of missing) {
          const there = await b.stat(k).catch(() => true);
          results.set(k, there ? { ok: false, message: 'the delete was held back; it will be retried' } : { ok: true });
        }
      } finally {
        await b.close?.();
      }
    }
    return results;
  };
}

const WORKER_FILE = fileURLToPath(new URL('./gateway-upload-worker.js', import.meta.url));

/**
 * The uploader the gateway uses: engine runs on a worker thread when it can (see the top of
 * this file), else on this thread. close() ends the thread after the batch in progress.
 */
export function threadedUploader(s: UploadSetup, loaded: LoadedConfig): { upload: BatchUploader; onThread: boolean; close(): Promise<void> } {
  const fromFile = loaded.config === undefined || loaded.file !== undefined;
  if (!existsSync(WORKER_FILE) || !fromFile) return { upload: engineUploader(s, loaded), onThread: false, close: async () => undefined };
  const setup: UploadSetup = { ...s, ...(loaded.file ? { configFile: loaded.file } : {}) };
  let worker: Worker | undefined;
  let next = 0;
  const waiting = new Map<number, { resolve: (r: Map<string, KeyOutcome>) => void; reject: (e: Error) => void }>();
  const start = (): Worker => {
    const w = new Worker(WORKER_FILE, { workerData: setup });
    w.on('message', (m: { id: number; results?: Array<[string, KeyOutcome]>; error?: string }) => {
      const p = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(new Map(m.results));
    });
    const fail = (err: Error): void => {
      worker = undefined;
      for (const p of waiting.values()) p.reject(err);
      waiting.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the upload thread exited (${code})`)));
    w.unref();
    return w;
  };
  return {
    onThread: true,
    upload: (b) =>
      new Promise((resolve, reject) => {
        worker ??= start();
        const id = ++next;
        waiting.set(id, { resolve, reject });
        const msg: BatchMessage = { id, outbox: b.outbox, puts: b.puts, deletes: b.deletes, ...(b.known ? { known: [...b.known] } : {}) };
        worker.postMessage(msg);
      }),
    close: async () => {
      const w = worker;
      worker = undefined;
      await w?.terminate();
    },
  };
}

export type { BatchMessage };
