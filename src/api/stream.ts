/**
 * Streaming lanes as a library call: `streamPush` follows local files into segment objects,
 * `streamPull` follows segment (or plain) objects into local files, `streamStatus` reads
 * the lanes' journal. The composition root for streams, as transfer.ts is for sync: config
 * and remotes, both locations, TLS per endpoint, the audit trail and the classification
 * gate (prepareGovernance — the same setup sync uses), the backends and the stream journal.
 * The CLI, the daemon's `kind: stream` jobs and library users all come through here.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import type { Pacer } from '../lib/bandwidth.js';
import { UsageError, describeError } from '../core/errors.js';
import { resolveLocation, splitRemote, type LocationHandle, type ResolveContext } from '../backends/registry.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { resolveStreamOptions, type StreamOptions } from '../config/stream.js';
import { prepareGovernance, type RunGovernance } from '../governance/gate.js';
import { SourcePattern } from '../stream/follower.js';
import { pidAlive } from '../lib/process.js';
import { StreamJournal, streamJournalPath } from '../stream/journal.js';
import { PullLane } from '../stream/pull.js';
import { PushLane } from '../stream/push.js';
import { LaneStats, type LaneRegistry, type LaneSnapshot } from '../stream/stats.js';
import type { SyncEvent } from '../sync/events.js';
import { defaultStatePath, StateDb } from '../sync/state.js';
import { refuseUnplacedDestination, remoteEndpointOf, type RunContext } from './transfer.js';

export interface StreamRequest extends Omit<RunContext, 'stats' | 'spoolDir'> {
  /** push: a local file, directory or glob; pull: a location (`REMOTE:bucket/prefix`, `s3://…`, …). */
  readonly src: string;
  /** push: a location; pull: a local directory. */
  readonly dst: string;
  /** Stream options (typed, or strings as on the command line); the rest are defaults. */
  readonly options?: Partial<StreamOptions> | Readonly<Record<string, unknown>>;
  /** Where the lane's live numbers are published (the daemon's /metrics). */
  readonly lanes?: LaneRegistry;
  /** Bandwidth for the lane: a link lane's share (the daemon passes its governor's). */
  readonly pacer?: Pacer;
  /** Called once the lane is set up, with its live numbers. */
  readonly onLane?: (stats: LaneStats) => void;
}

export interface StreamSummary {
  readonly lane: string;
  readonly direction: 'push' | 'pull';
  /** ok: `once` finished; stopped: the signal ended it. */
  readonly status: 'ok' | 'stopped';
  readonly segments: number;
  readonly bytes: number;
  readonly durationMs: number;
}

interface LaneSetup {
  readonly direction: 'push' | 'pull';
  readonly srcH: LocationHandle;
  readonly dstH: LocationHandle;
  /** What the lane is journaled as (canonical ids, an absolute pattern). */
  readonly srcId: string;
  readonly dstId: string;
}

function loadedOf(r: StreamRequest): LoadedConfig {
  return typeof r.config === 'object' ? r.config : loadConfig(r.config, r.env ?? process.env);
}

/** A push source: a local path or glob (file:// and local remotes allowed), absolute. */
function localSpec(spec: string, ctx: ResolveContext, what: string): string {
  if (spec.startsWith('file://')) return fileURLToPath(spec);
  const isUrl = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(spec);
  if (isUrl || splitRemote(spec)) {
    const h = resolveLocation(spec, ctx);
    if (h.location.type !== 'local') throw new UsageError(`${what} ${spec} is ${h.location.type === 's3' ? 'an S3' : 'an object-store'} location`, { hint: `${what} must be a local path` });
    return h.location.path;
  }
  return resolve(spec);
}

function laneName(o: StreamOptions, s: LaneSetup): string {
  return o.lane ?? `${s.direction}-${createHash('sha256').update(`${s.srcId}\n${s.dstId}`).digest('hex').slice(0, 10)}`;
}

async function runLane(req: StreamRequest, direction: 'push' | 'pull'): Promise<StreamSummary> {
  const env = req.env ?? process.env;
  const options = resolveStreamOptions(req.options as Record<string, unknown> | undefined);
  const loaded = loadedOf(req);
  const ctx: ResolveContext = { remotes: loaded.remotes, ...(req.s3 ? { s3: req.s3 } : {}), env };
  let setup: LaneSetup;
  let pattern: SourcePattern | undefined;
  if (direction === 'push') {
    const srcPath = localSpec(req.src, ctx, 'the stream source');
    pattern = new SourcePattern(srcPath);
    const dstH = resolveLocation(req.dst, ctx);
    if (dstH.location.type === 'local') throw new UsageError(`stream push destination ${req.dst} is a local path`, { hint: 'push to an object store (REMOTE:bucket/prefix, s3://…, az://…); use stream pull to bring segments home' });
    setup = { direction, srcH: resolveLocation(pattern.base, ctx), dstH, srcId: srcPath, dstId: dstH.location.id };
  } else {
    const srcH = resolveLocation(req.src, ctx);
    const dir = localSpec(req.dst, ctx, 'the pull destination');
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`stream pull destination ${req.dst} is a file`, { hint: 'give a directory' });
    setup = { direction, srcH, dstH: resolveLocation(dir, ctx), srcId: srcH.location.id, dstId: `file://${dir}/` };
  }
  const lane = laneName(options, setup);
  const statePath = req.statePath ?? loaded.config?.stateFile ?? defaultStatePath(env);
  // the lane is shown (daemon: /api/streams, /metrics) from here on, and with its error if setting it up fails
  const stats = new LaneStats(lane, direction, req.src, req.dst);
  req.lanes?.add(stats);
  let governance: RunGovernance;
  try {
    governance = await prepareGovernance({
      loaded,
      statePath,
      src: setup.srcH,
      dst: setup.dstH,
      ...(req.endpoint ? { flags: req.endpoint } : {}),
      openSpec: (spec, endpoint) => resolveLocation(spec, ctx).open({ ...((endpoint ?? req.endpoint) ? { endpoint: endpoint ?? req.endpoint } : {}) }),
      remoteEndpoint: remoteEndpointOf(loaded.remotes, ctx),
      json: !!req.json,
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.err ? { err: req.err } : {}),
      env,
    });
  } catch (err) {
    stats.fail(describeError(err));
    req.lanes?.remove(stats);
    throw err;
  }
  const emit = (e: SyncEvent): void => {
    req.onEvent?.(e);
    governance.record(e);
  };
  const transfer = { retries: 3, onRetry: (what: string, err: { message: string }, attempt: number) => emit({ type: 'retry', what, attempt, message: err.message }) };
  let src: Backend | undefined;
  let dst: Backend | undefined;
  let state: StateDb | undefined;
  let journal: StreamJournal | undefined;
  const started = Date.now();
  let locked = false;
  try {
    src = setup.srcH.open({ endpoint: governance.endpointSettings(setup.srcH.location), transfer });
    dst = setup.dstH.open({ endpoint: governance.endpointSettings(setup.dstH.location), transfer });
    await assertReachable(direction === 'push' ? dst : src, governance.signal);
    // under unknownEnvironment: deny, a lane to or from a place no environment declares is refused before anything moves
    await refuseUnplacedDestination(loaded, governance.dstEnv, dst, governance.signal);
    if (direction === 'pull') await refuseUnplacedDestination(loaded, governance.srcEnv, src, governance.signal, 'source');
    state = new StateDb(statePath);
    journal = new StreamJournal(streamJournalPath(statePath));
    journal.registerLane(lane, direction, setup.srcId, setup.dstId);
    journal.lock(lane);
    locked = true;
    const gate = governance.attach({ src, dst, state, emit });
    req.onLane?.(stats);
    emit({ type: 'stream-start', lane, direction, src: direction === 'push' ? setup.srcId : setup.srcH.location.display, dst: setup.dstH.location.display });
    const common = { lane, journal, once: options.once, retries: options.retries, stats, signal: governance.signal, emit, ...(gate ? { gate } : {}), ...(req.pacer ? { pacer: req.pacer } : {}) };
    const runner =
      direction === 'push'
        ? new PushLane({
            ...common,
            pattern: pattern!,
            src,
            dst,
            segmentSize: options.segmentSize,
            segmentAgeMs: options.segmentAge,
            pollMs: options.poll,
            rotateQuietMs: options.rotateQuiet,
            format: options.format,
            window: options.inFlight,
          })
        : new PullLane({ ...common, src, dst, dstDir: setup.dstH.location.path, mode: options.mode, pollMs: options.poll, gapGraceMs: options.gapGrace });
    let status: StreamSummary['status'] = 'ok';
    try {
      await runner.run();
    } catch (err) {
      if (!governance.signal.aborted) throw err;
      status = 'stopped';
    }
    stats.state = 'stopped';
    emit({ type: 'stream-end', lane, direction, status, segments: stats.segments, bytes: stats.bytes });
    return { lane, direction, status, segments: stats.segments, bytes: stats.bytes, durationMs: Date.now() - started };
  } catch (err) {
    stats.fail(describeError(err));
    journal?.laneError(lane, describeError(err));
    if (locked) emit({ type: 'stream-end', lane, direction, status: 'failed', segments: stats.segments, bytes: stats.bytes, message: describeError(err) });
    throw err;
  } finally {
    req.lanes?.remove(stats);
    if (locked) journal?.unlock(lane);
    journal?.close();
    state?.close();
    await governance.close();
    await Promise.allSettled([src?.close?.(), dst?.close?.()]);
  }
}

/** Lists one entry: a missing bucket or container fails here, before anything is journaled. */
async function assertReachable(b: Backend, signal: AbortSignal): Promise<void> {
  if (b.features.createsRoot) return;
  const it = b.list({ signal })[Symbol.asyncIterator]();
  try {
    await it.next();
  } finally {
    await it.return?.();
  }
}

/** Follows local files (a file, a directory, a glob) into ordered segment objects under `dst`, exactly once. */
export function streamPush(src: string, dst: string, o: Omit<StreamRequest, 'src' | 'dst'> = {}): Promise<StreamSummary> {
  return runLane({ ...o, src, dst }, 'push');
}

/** Follows new segment objects (or, with mode 'plain', any new objects) under `src` into local files under `dst`. */
export function streamPull(src: string, dst: string, o: Omit<StreamRequest, 'src' | 'dst'> = {}): Promise<StreamSummary> {
  return runLane({ ...o, src, dst }, 'pull');
}

export interface LaneStatus extends Omit<LaneSnapshot, 'state' | 'bytesPerSecond'> {
  readonly running: boolean;
  readonly files: number;
  /** push: segments journaled and not yet committed (in flight, or left by a killed run for the next to complete). */
  readonly inFlight: number;
}

/**
 * What the journal says about every lane: segments and bytes shipped, files followed, and
 * for push lanes the bytes their files hold beyond what was shipped (lag; its age is the
 * time since the last commit). Pull lanes' lag needs the remote listing: see /metrics.
 */
export function streamStatus(o: { statePath?: string; env?: NodeJS.ProcessEnv; now?: number } = {}): LaneStatus[] {
  const statePath = o.statePath ?? defaultStatePath(o.env ?? process.env);
  const path = streamJournalPath(statePath);
  if (!existsSync(path)) return [];
  const journal = new StreamJournal(path);
  const now = o.now ?? Date.now();
  try {
    return journal.lanes().map((l) => {
      let lagBytes = 0;
      let files = 0;
      if (l.direction === 'push') {
        for (const f of journal.pushFiles(l.lane, ['active'])) {
          files++;
          try {
            const st = statSync(f.path, { bigint: true });
            if (String(st.ino) === f.ino && String(st.dev) === f.dev) lagBytes += Math.max(0, Number(st.size) - f.offset);
          } catch {
            // gone: reported as lost by the lane when it next runs
          }
        }
      } else {
        files = journal.pullFiles(l.lane).length;
      }
      const running = l.pid !== undefined && pidAlive(l.pid);
      return {
        lane: l.lane,
        direction: l.direction,
        src: l.src,
        dst: l.dst,
        running,
        files,
        inFlight: l.direction === 'push' ? journal.intentCount(l.lane) : 0,
        segments: l.segments,
        bytes: l.bytes,
        lagBytes,
        lagSeconds: lagBytes > 0 && l.lastCommitAt !== undefined ? Math.max(0, (now - l.lastCommitAt) / 1000) : 0,
        lastCommitAt: l.lastCommitAt ?? null,
        error: l.lastError ?? null,
      };
    });
  } finally {
    journal.close();
  }
}
