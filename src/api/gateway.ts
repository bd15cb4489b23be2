/**
 * The caching gateway as a library: startGateway() opens the upstream, the cache directory
 * and its index, starts the write-back and serves S3 (src/gateway/). The write-back runs
 * the engine on a thread of its own (gateway-upload.ts), so the classification policy, PII
 * scrubbing, bandwidth timetable and audit trail apply to every file written through the
 * gateway.
 *
 * gatewayAdmin() is the client of a running gateway's admin API (status, flush, preload,
 * release, refresh), found through the cache directory (gateway.json, admin-token).
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { ConfigError, describeError, UnreachableError, UsageError } from '../core/errors.js';
import { resolveLocation } from '../backends/registry.js';
import { compileDatasets, locationOfKey, type Dataset } from '../config/datasets.js';
import type { GatewayRef } from '../config/operations.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { localLocation, uriOfKey, type Location } from '../core/location.js';
import { ssotSide } from '../bisync/plan.js';
import { openAuditLog } from '../governance/audit/setup.js';
import { compileEnvironments, environmentOf } from '../governance/policy/policy.js';
import type { ConflictRow } from '../gateway/cache-index.js';
import type { ConflictWinner, KeyTruth } from '../gateway/conflicts.js';
import type { ServedAddress } from '../server/same-origin.js';
import { GatewayCore, type PreloadItem, type PreloadRequest } from '../gateway/gateway.js';
import { cacheDirs } from '../gateway/cache.js';
import { stagedView } from '../gateway/views.js';
import { gatewayMetrics } from '../gateway/metrics.js';
import { ADMIN_PREFIX, createS3App } from '../gateway/server.js';
import { WriteBack } from '../gateway/writeback.js';
import { snapshotFiles, type SnapshotFilesOptions } from './lineage.js';
import { threadedUploader } from './gateway-upload.js';
import { prepareTransfer, remoteEndpointOf, type TransferRequest } from './transfer.js';
import { gatewayRestoreOptions } from './tier.js';

export interface GatewayOptions {
  /** `REMOTE:bucket/prefix`, `s3://bucket/prefix`, `az://container/prefix` (or a local path). */
  readonly upstream: string;
  readonly cacheDir: string;
  /** Bytes the cache may hold. */
  readonly maxSize: number;
  /** Bytes of unuploaded data accepted (default maxSize). */
  readonly maxDirty?: number;
  readonly host?: string;
  readonly port?: number;
  /** The bucket name clients use (default: the upstream's bucket or container). */
  readonly bucket?: string;
  /** The region clients sign for (default us-east-1). */
  readonly region?: string;
  /** How long an upstream listing is trusted (ms, default 60 s). */
  readonly stalenessMs?: number;
  /** Transfer options of the write-back runs (bwlimit, transfers, ...), as for copy. */
  readonly transferOptions?: Readonly<Record<string, unknown>>;
  /** How long a key known to be restoring from an archive tier is answered without asking the upstream again (ms, default 60 s). */
  readonly restoreRecheckMs?: number;
  /** First retry delay of a failed upload (ms, default 1 s; doubled per attempt up to 5 min). */
  readonly retryBackoffMs?: number;
  readonly config?: LoadedConfig | string;
  readonly env?: NodeJS.ProcessEnv;
  /** Warnings and write-back errors. */
  readonly log?: (line: string) => void;
}

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  readonly bucket: string;
  readonly core: GatewayCore;
  status(): GatewayStatus;
  flush(signal?: AbortSignal): Promise<FlushResult>;
  close(): Promise<void>;
}

export interface FlushResult {
  readonly flushedUpTo: number;
  /** Keys written before the flush that the policy keeps from the cloud. */
  readonly denied: string[];
  /** Keys written before the flush held as conflicts with the cloud (gateway resolve). */
  readonly conflicts: string[];
}

export interface GatewayStatus {
  readonly bucket: string;
  readonly upstream: string;
  /** The upstream's canonical URI (Location.id): where a snapshot's files are found under it. */
  readonly upstreamId: string;
  readonly cache: { readonly dir: string; readonly bytes: number; readonly maxSize: number; readonly objects: number };
  readonly reads: { hits: number; misses: number; hitRatio: number | null; bytesFromCache: number; bytesFromUpstream: number; upstreamReads: number; upstreamLists: number };
  readonly dirty: {
    readonly bytes: number;
    readonly pending: number;
    readonly denied: number;
    /** Writes held because the cloud changed meanwhile and no source of truth decides (gateway resolve). */
    readonly conflicts: number;
    readonly failing: number;
    /** Seconds since the oldest write not yet in the cloud was made. */
    readonly uploadLagSeconds: number;
  };
  readonly writeBack: { uploadedFiles: number; uploadedBytes: number; deletes: number; failures: number; batches: number; lastUploadAt: string | null };
  /** Journal entries not yet in the cloud (first 200): pending with their last error, or denied with the reason. */
  readonly journal: Array<{ key: string; op: string; status: string; attempts: number; lastError: string | null }>;
  /** Each listed upstream prefix and when it was listed. */
  readonly freshness: Array<{ prefix: string; listedAt: string; ageSeconds: number; stale: boolean }>;
  /** The cache as a copy derived from the cloud: when it was last refreshed from it and last uploaded to it, what is not there yet. */
  readonly derivedCopy: { readonly lastRefreshAt: string | null; readonly lastUploadAt: string | null; readonly notInCloud: number; readonly notInCloudBytes: number };
  /** The datasets (config datasets:) the gateway's keys belong to, their source of truth and who wins a conflict with the cloud. */
  readonly datasets: Array<{ name: string; ssot: string | null; winner: ConflictWinner | null }>;
  /** Conflicts with the cloud found at upload time, by outcome, and the latest ones. */
  readonly conflicts: { readonly held: number; readonly gatewayWon: number; readonly cloudWon: number; readonly recent: Array<Omit<ConflictRow, 'at'> & { at: string }> };
  readonly evictions: number;
  /** Writes refused for want of dirty space (503 SlowDown). */
  readonly refusedWrites: number;
  /** Writes the policy denied when they were made (403 AccessDenied, nothing stored). */
  readonly deniedWrites: number;
}

function gatewayKeys(env: NodeJS.ProcessEnv): Map<string, string> {
  const id = env.HYBRIDSYNC_GATEWAY_ACCESS_KEY_ID;
  const secret = env.HYBRIDSYNC_GATEWAY_SECRET_ACCESS_KEY;
  if (!id || !secret) {
    throw new ConfigError('the gateway has no keys of its own', {
      hint: 'export HYBRIDSYNC_GATEWAY_ACCESS_KEY_ID and HYBRIDSYNC_GATEWAY_SECRET_ACCESS_KEY (clients sign with these; the upstream keeps its own)',
    });
  }
  return new Map([[id, secret]]);
}

/** What every engine run of the gateway shares: outbox → upstream, the gateway's config, state database and environment. */
function outboxRun(o: GatewayOptions, upstream: string, statePath: string, outbox: string): Pick<TransferRequest, 'src' | 'dst' | 'config' | 'env' | 'statePath' | 'json'> {
  return { src: outbox, dst: upstream, ...(o.config !== undefined ? { config: o.config } : {}), ...(o.env ? { env: o.env } : {}), statePath, json: true };
}

/**
 * The policy gate asked at write time: a dry-run transfer from the outbox to the upstream
 * kept open for the gateway's life, whose source reads the staged body of the write being
 * decided (stagedView) — so path rules, sidecars and content detectors decide as they will
 * at upload. Denials go to the audit trail as the engine's deny records. Undefined when the
 * config classifies nothing.
 */
async function writeDecider(o: GatewayOptions, upstream: string, statePath: string, outbox: string): Promise<{ admit: NonNullable<Parameters<typeof GatewayCore.open>[0]['admit']>; close(): Promise<void> } | undefined> {
  const staged = new Map<string, string>();
  const prepared = await prepareTransfer({
    ...outboxRun(o, upstream, statePath, outbox),
    mode: 'copy',
    options: { ...o.transferOptions, dryRun: true },
    view: { src: (b) => stagedView(b, staged) },
  });
  const gate = prepared.run.gate;
  if (!gate) {
    await prepared.close();
    return undefined;
  }
  const emit = prepared.run.onEvent ?? (() => undefined);
  emit({ type: 'run-start', runId: 0, mode: 'copy', src: prepared.src.uri, dst: prepared.dst.uri, dryRun: true });
  let denied = 0;
  return {
    admit: async ({ key, file, size, mtimeMs }) => {
      staged.set(key, file);
      try {
        const d = await gate.admit({ key, size, mtimeMs, mtimeExact: true }, { src: prepared.src, dst: prepared.dst, signal: prepared.run.signal ?? new AbortController().signal });
        if (d.allow) return undefined;
        denied++;
        emit({ type: 'denied', key, size, classification: d.classification, reason: d.reason, ...(d.rule ? { rule: d.rule } : {}) });
        return `${d.classification}: ${d.reason}`;
      } finally {
        staged.delete(key);
      }
    },
    close: async () => {
      const zero = { transferred: 0, bytes: 0, bytesResumed: 0, serverSideCopies: 0, skipped: 0, deleted: 0, failed: 0, deniedKnown: 0, derived: 0, differences: 0, checks: denied, retries: 0, durationMs: 0, rate: 0, deletesHeldBack: 0 };
      emit({ type: 'summary', summary: { runId: 0, mode: 'copy', dryRun: true, src: prepared.src.uri, dst: prepared.dst.uri, ...zero, denied, status: denied > 0 ? 'denied' : 'ok' } });
      await prepared.close();
    },
  };
}

/**
 * The source of truth of each key, from the config: the dataset its location belongs to and
 * that dataset's ssot, decided as bisync decides it (ssotSide) between the gateway's side —
 * the kind of the environment its cache directory is in, on-prem unless declared — and the
 * upstream's (cloud unless declared).
 */
function sourceOfTruth(loaded: LoadedConfig, upstream: Location, cacheDir: string, env: NodeJS.ProcessEnv): { of(key: string): KeyTruth; winnerOf(d: Dataset): ConflictWinner | undefined; overlapping(): Dataset[] } {
  const endpoints = remoteEndpointOf(loaded.remotes, { remotes: loaded.remotes, env });
  const datasets = compileDatasets(loaded.config?.datasets, endpoints);
  const envs = compileEnvironments(loaded.config?.environments, endpoints);
  const kinds = { 1: environmentOf(envs, localLocation(resolve(cacheDir)))?.kind ?? 'onprem', 2: environmentOf(envs, upstream)?.kind ?? 'cloud' };
  const winner = (d: Dataset | undefined): ConflictWinner | undefined => {
    const side = d?.ssot ? ssotSide({ ssot: d.ssot, kinds }) : undefined;
    return side === 1 ? 'gateway' : side === 2 ? 'cloud' : undefined;
  };
  const of = (key: string): KeyTruth => {
    const d = datasets.of(locationOfKey(upstream, key));
    const w = winner(d);
    return d ? { dataset: d.name, ...(d.ssot ? { ssot: d.ssot } : {}), ...(w ? { winner: w } : {}) } : {};
  };
  return { of, winnerOf: winner, overlapping: () => datasets.overlapping(upstream) };
}

function loadedOf(o: GatewayOptions): LoadedConfig {
  return typeof o.config === 'object' ? o.config : loadConfig(o.config, o.env ?? process.env);
}

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const env = o.env ?? process.env;
  const keys = gatewayKeys(env);
  const loaded = loadedOf(o);
  const handle = resolveLocation(o.upstream, { remotes: loaded.remotes, env });
  const bucket = o.bucket ?? handle.location.container;
  if (!bucket) throw new UsageError(`cannot tell which bucket name to serve for ${o.upstream}`, { hint: 'pass --bucket NAME' });
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new UsageError(`"${bucket}" is not a valid S3 bucket name`, { hint: 'pass --bucket with a lower-case name of 3-63 characters' });
  const upstream = handle.open();
  const dirs = cacheDirs(o.cacheDir);
  await fsp.mkdir(dirs.outbox, { recursive: true });
  const statePath = join(dirs.meta, 'state.db');
  const decider = await writeDecider({ ...o, config: loaded }, o.upstream, statePath, dirs.outbox);
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const core = await GatewayCore.open({
    upstream,
    ...(decider ? { admit: decider.admit } : {}),
    cacheDir: o.cacheDir,
    maxSize: o.maxSize,
    ...(o.maxDirty !== undefined ? { maxDirty: o.maxDirty } : {}),
    ...(o.stalenessMs !== undefined ? { stalenessMs: o.stalenessMs } : {}),
    restore: {
      ...gatewayRestoreOptions({ ...(o.transferOptions ? { transferOptions: o.transferOptions } : {}), loaded, statePath, upstreamId: handle.location.id, env, log }),
      ...(o.restoreRecheckMs !== undefined ? { recheckMs: o.restoreRecheckMs } : {}),
    },
  });
  const uploader = threadedUploader({ upstream: o.upstream, statePath, ...(o.env ? { env: o.env } : {}), ...(o.transferOptions ? { transferOptions: o.transferOptions } : {}) }, loaded);
  const truth = sourceOfTruth(loaded, handle.location, o.cacheDir, env);
  // the gateway's own audit records (conflicts with the cloud) go to the trail its upload runs write
  const audit = openAuditLog({ cfg: loaded.config?.audit, statePath, openMirror: (spec) => resolveLocation(spec, { remotes: loaded.remotes, env }).open(), onWarning: log });
  const wb = new WriteBack(core, uploader.upload, {
    ...(o.retryBackoffMs !== undefined ? { backoffMs: o.retryBackoffMs } : {}),
    onError: log,
    truthOf: (key) => truth.of(key),
    onConflict: (c) => {
      log(`conflict on ${c.key}: ${c.why}; ${c.outcome === 'held' ? 'held (no source of truth declared)' : c.outcome === 'cloud-won' ? `the cloud's version kept, the gateway's write kept at ${c.kept ?? '(nothing to keep: a delete)'}` : "the gateway's write uploaded over it"}`);
      audit?.log.append({
        type: 'gateway-conflict',
        key: uriOfKey(handle.location, c.key),
        op: c.op,
        outcome: c.outcome,
        ...(c.dataset ? { dataset: c.dataset } : {}),
        ...(c.ssot ? { ssot: c.ssot } : {}),
        base: c.base,
        cloudEtag: c.cloudEtag,
        localMd5: c.localMd5,
        kept: c.kept,
        reason: c.why,
      });
    },
  });
  core.setOnJournal(() => wb.kick());
  const registry = gatewayMetrics(core, wb);
  const adminToken = env.HYBRIDSYNC_GATEWAY_ADMIN_TOKEN || randomBytes(24).toString('base64url');
  const stalenessMs = o.stalenessMs ?? 60_000;

  const status = (): GatewayStatus => {
    const c = core.counters;
    const j = core.index.journalStats();
    const now = Date.now();
    const w = wb.counters;
    const listings = core.index.listings();
    const counts = core.index.conflictCounts();
    return {
      bucket,
      upstream: handle.location.display,
      upstreamId: handle.location.id,
      cache: { dir: o.cacheDir, bytes: core.index.cachedBytes(), maxSize: o.maxSize, objects: core.index.countEntries() },
      reads: {
        hits: c.hits,
        misses: c.misses,
        hitRatio: c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : null,
        bytesFromCache: c.bytesFromCache,
        bytesFromUpstream: c.bytesFromUpstream,
        upstreamReads: c.upstreamReads,
        upstreamLists: c.upstreamLists,
      },
      dirty: { bytes: j.dirtyBytes, pending: j.pending, denied: j.denied, conflicts: j.conflicts, failing: j.failing, uploadLagSeconds: j.oldestMs === null ? 0 : (now - j.oldestMs) / 1000 },
      writeBack: { uploadedFiles: w.uploadedFiles, uploadedBytes: w.uploadedBytes, deletes: w.deletes, failures: w.failures, batches: w.batches, lastUploadAt: w.lastUploadAt ? new Date(w.lastUploadAt).toISOString() : null },
      journal: core
        .journal()
        .slice(0, 200)
        .map((r) => ({ key: r.key, op: r.op, status: r.status, attempts: r.attempts, lastError: r.lastError })),
      freshness: listings.map((l) => ({ prefix: l.prefix, listedAt: new Date(l.listedAt).toISOString(), ageSeconds: (now - l.listedAt) / 1000, stale: now - l.listedAt >= stalenessMs })),
      derivedCopy: {
        lastRefreshAt: listings.length > 0 ? new Date(Math.max(...listings.map((l) => l.listedAt))).toISOString() : null,
        lastUploadAt: w.lastUploadAt ? new Date(w.lastUploadAt).toISOString() : null,
        notInCloud: j.pending + j.denied + j.conflicts,
        notInCloudBytes: j.dirtyBytes,
      },
      datasets: truth.overlapping().map((d) => ({ name: d.name, ssot: d.ssot ?? null, winner: truth.winnerOf(d) ?? null })),
      conflicts: {
        held: j.conflicts,
        gatewayWon: counts['gateway-won'],
        cloudWon: counts['cloud-won'],
        recent: core.index.conflicts(10).map((r) => ({ ...r, at: new Date(r.at).toISOString() })),
      },
      evictions: c.evictions,
      refusedWrites: c.refusedWrites,
      deniedWrites: c.deniedWrites,
    };
  };

  let served: ServedAddress | undefined;
  const host = o.host ?? '127.0.0.1';
  const app = createS3App({
    core,
    bucket,
    region: o.region ?? 'us-east-1',
    keys,
    adminToken,
    served: () => served,
    createdAt: new Date(),
    admin: {
      status,
      metrics: () => registry.metrics(),
      flush: (signal, wait) => (wait ? wb.flush(signal) : Promise.resolve(wb.hurry())),
      refresh: async (prefix) => {
        await core.ensureListed(prefix, true);
        return { refreshed: prefix, objects: core.index.entriesUnder(prefix).length };
      },
      release: (prefix) => core.release(prefix),
      preload: (req, signal) => preloadLines(core, req, signal),
      resolve: (key, keep) => wb.resolve(key, keep),
    },
  });
  wb.start();
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: o.port ?? 0 }, (info: AddressInfo) => {
      served = { host, port: info.port };
      resolve(s);
    });
    s.once('error', reject);
  });
  const port = served!.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  await fsp.writeFile(join(dirs.meta, 'gateway.json'), `${JSON.stringify({ url, pid: process.pid, bucket })}\n`);
  if (!env.HYBRIDSYNC_GATEWAY_ADMIN_TOKEN) await fsp.writeFile(join(dirs.meta, 'admin-token'), `${adminToken}\n`, { mode: 0o600 });

  return {
    url,
    port,
    bucket,
    core,
    status,
    flush: (signal) => wb.flush(signal),
    close: async () => {
      await new Promise<void>((done) => {
        server.close(() => done());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      // the batch in progress gets a few seconds to finish its files; then its thread is
      // ended, and what it did not upload stays journaled for the next start
      const stopping = wb.stop();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopping, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      await uploader.close();
      await stopping;
      await decider?.close();
      await audit?.log.close();
      core.close();
      await upstream.close?.();
      await fsp.rm(join(dirs.meta, 'gateway.json'), { force: true });
    },
  };
}

async function* preloadLines(core: GatewayCore, req: PreloadRequest, signal: AbortSignal): AsyncGenerator<string> {
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  const push = (line: unknown): void => {
    queue.push(`${JSON.stringify(line)}\n`);
    wake?.();
  };
  void core
    .preload({
      ...req,
      signal,
      onProgress: (p) => push({ type: 'progress', ...p }),
    })
    .then(
      (r) => push({ type: 'done', ...r }),
      (err: unknown) => push({ type: 'error', message: describeError(err) }),
    )
    .finally(() => {
      finished = true;
      wake?.();
    });
  for (;;) {
    while (queue.length > 0) yield queue.shift()!;
    if (finished) return;
    await new Promise<void>((r) => (wake = r));
    wake = undefined;
  }
}

// ---------------------------------------------------------------- admin client

export interface GatewayAdmin {
  readonly url: string;
  status(): Promise<GatewayStatus>;
  /** With `wait` (default): when everything written before it is in the cloud; else starts the uploads and returns. */
  flush(wait?: boolean): Promise<FlushResult | { pending: number }>;
  refresh(prefix: string): Promise<{ refreshed: string; objects: number }>;
  release(prefix: string): Promise<{ released: number; bytes: number; keptDirty: number }>;
  /** Settles a write held as a conflict with the cloud: upload it over the cloud's version (`gateway`), or keep the cloud's (`cloud`; the write is kept under conflicts/). */
  resolve(key: string, keep: ConflictWinner): Promise<ConflictRow>;
  /** Progress lines as they come, the last `{type:'done'}` or `{type:'error'}`. */
  preload(req: PreloadRequest): AsyncGenerator<Record<string, unknown>>;
}

/** The admin API of the gateway running on `cacheDir` (or at `url` with `token`). */
export function gatewayAdmin(o: { cacheDir?: string; url?: string; token?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): GatewayAdmin {
  const env = o.env ?? process.env;
  let url = o.url;
  let token = o.token ?? env.HYBRIDSYNC_GATEWAY_ADMIN_TOKEN;
  if (o.cacheDir) {
    const meta = cacheDirs(o.cacheDir).meta;
    try {
      url ??= (JSON.parse(readFileSync(join(meta, 'gateway.json'), 'utf8')) as { url: string }).url;
    } catch {
      throw new UsageError(`no gateway is running on cache ${o.cacheDir}`, { hint: 'start it with hybridsync gateway --cache DIR …, or pass --url' });
    }
    try {
      token ??= readFileSync(join(meta, 'admin-token'), 'utf8').trim();
    } catch {
      // the token comes from the environment
    }
  }
  if (!url) throw new UsageError('which gateway?', { hint: 'pass --cache DIR (of a running gateway) or --url' });
  if (!token) throw new UsageError('no admin token for the gateway', { hint: 'export HYBRIDSYNC_GATEWAY_ADMIN_TOKEN as the gateway has it' });
  const base = url.replace(/\/$/, '') + ADMIN_PREFIX;
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        ...(o.timeoutMs ? { signal: AbortSignal.timeout(o.timeoutMs) } : {}),
      });
    } catch (err) {
      throw new UnreachableError(`cannot reach the gateway at ${url}: ${(err as Error).message}`, { hint: 'is it running?' });
    }
    if (!res.ok) throw new UsageError(`gateway admin ${path}: HTTP ${res.status} ${await res.text()}`);
    return res;
  };
  const json = async <T>(method: string, path: string): Promise<T> => (await (await call(method, path)).json()) as T;
  return {
    url,
    status: () => json('GET', 'status'),
    flush: (wait = true) => json('POST', wait ? 'flush' : 'flush?wait=0'),
    refresh: (prefix) => json('POST', `refresh?prefix=${encodeURIComponent(prefix)}`),
    release: (prefix) => json('POST', `release?prefix=${encodeURIComponent(prefix)}`),
    resolve: (key, keep) => json('POST', `resolve?key=${encodeURIComponent(key)}&keep=${keep}`),
    async *preload(req) {
      const res = await call('POST', 'preload', req);
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line) yield JSON.parse(line) as Record<string, unknown>;
        }
      }
    },
  };
}

// ------------------------------------------------------------- snapshot preload

/**
 * The gateway keys of a snapshot's files: its location must be the gateway's upstream or
 * below it (the key prefix is the rest of its URI), unless `prefix` says where they are.
 */
export function snapshotItems(snapshotLocationId: string, upstreamId: string, files: ReadonlyArray<{ path: string; md5: string; size: number }>, prefix?: string): { prefix: string; items: PreloadItem[] } {
  let p = prefix;
  if (p === undefined) {
    const up = upstreamId.endsWith('/') ? upstreamId : `${upstreamId}/`;
    const at = snapshotLocationId.endsWith('/') ? snapshotLocationId : `${snapshotLocationId}/`;
    if (!at.startsWith(up)) {
      throw new UsageError(`the snapshot was made at ${snapshotLocationId}, which is not under the gateway's upstream ${upstreamId}`, {
        hint: "pass --snapshot-prefix KEYPREFIX to say where the snapshot's files are under the gateway's bucket",
      });
    }
    p = at.slice(up.length);
  } else if (p !== '' && !p.endsWith('/')) p += '/';
  return { prefix: p, items: files.map((f) => ({ key: p + f.path, md5: f.md5, size: f.size })) };
}

export interface SnapshotPreloadOptions extends SnapshotFilesOptions {
  /** Where the snapshot's files are under the gateway (default: from the snapshot's location). */
  readonly prefix?: string;
  readonly concurrency?: number;
}

/**
 * Preloads exactly the files of a dataset snapshot through a running gateway, each one's
 * MD5 checked as it lands: a first line `{type:'snapshot'}`, then the gateway's progress
 * lines, the last `{type:'done', missing, mismatched, verified}` or `{type:'error'}`.
 */
export async function* preloadSnapshot(admin: GatewayAdmin, ref: string, o: SnapshotPreloadOptions = {}): AsyncGenerator<Record<string, unknown>> {
  const { snapshot, files } = await snapshotFiles(ref, o);
  const status = await admin.status();
  const { prefix, items } = snapshotItems(snapshot.locationId, status.upstreamId, files, o.prefix);
  yield { type: 'snapshot', id: snapshot.id, location: snapshot.location, files: snapshot.files, bytes: snapshot.bytes, prefix };
  yield* admin.preload({ items, listFirst: prefix, ...(o.concurrency ? { concurrency: o.concurrency } : {}) });
}

// ------------------------------------------------------------- daemon's view

export interface GatewayReading {
  readonly name: string;
  readonly status?: GatewayStatus;
  /** Why there is no status: not running, unreachable, refused. */
  readonly error?: string;
}

/**
 * The status of each gateway the config names (gateways:), as the daemon's dashboard polls
 * it: through the gateway's admin API, found from its cache directory (address and admin
 * token) or at its URL with the token from `tokenEnv`. A reading is reused for a second, so
 * several open dashboards do not multiply the requests; a gateway that does not answer in
 * two seconds is shown as unreachable.
 */
export function gatewayFeed(refs: readonly GatewayRef[], env: NodeJS.ProcessEnv = process.env): { read(): Promise<GatewayReading[]> } {
  let last: { at: number; readings: Promise<GatewayReading[]> } | undefined;
  const readOne = async (g: GatewayRef): Promise<GatewayReading> => {
    try {
      const token = g.url ? env[g.tokenEnv ?? 'HYBRIDSYNC_GATEWAY_ADMIN_TOKEN'] : undefined;
      const a = gatewayAdmin({ ...(g.cache ? { cacheDir: g.cache } : { url: g.url! }), ...(token ? { token } : {}), env, timeoutMs: 2000 });
      return { name: g.name, status: await a.status() };
    } catch (err) {
      return { name: g.name, error: describeError(err) };
    }
  };
  return {
    read: () => {
      const now = Date.now();
      if (!last || now - last.at >= 1000) last = { at: now, readings: Promise.all(refs.map(readOne)) };
      return last.readings;
    },
  };
}
