/**
 * Watch mode: bisync again whenever either side changes, touching only what changed.
 *   - A local side is watched (chokidar, inotify/FSEvents); changed paths are collected
 *     and, once the tree is quiet for `debounceMs`, synced by a targeted run (each path
 *     looked up on both sides, no listing).
 *   - A non-local side is polled every `pollInterval` with a cheap change check: one page
 *     (≤ 1000 keys, one LIST request) of a rolling scan of the whole tree compared with the
 *     merge base, plus one listing of each recently changed directory ("hot" prefixes, at
 *     most 8). A small tree is thus compared in full on every poll at the cost of one
 *     request; a large one is never listed in full per poll — a change in a hot directory
 *     is seen at the next poll, elsewhere within one pass of the rolling scan.
 * Runs never overlap; changes seen during a run wait for the next one. The first run is a
 * full bisync.
 */
import { relative, sep } from 'node:path';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import type { Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';
import { describeError } from '../core/errors.js';
import { prepareBisync, type BisyncRequest, type PreparedBisync } from '../api/bisync.js';
import { MergeBase } from './base.js';
import { march3 } from './march.js';
import { changedSince, type Side, type Triple } from './plan.js';
import { runBisync, type BisyncSummary } from './run.js';

export interface WatchRequest extends BisyncRequest {
  /** Quiet time after a local change before syncing (default 100 ms). */
  readonly debounceMs?: number;
  /** Keys compared per poll of a non-local side (default 1000: one LIST page). */
  readonly scanPage?: number;
  /** Called after every run (the first one included). */
  readonly onRun?: (s: BisyncSummary) => void;
}

const HOT_MAX = 8;
const HOT_TTL_MS = 10 * 60_000;

/** Runs until `signal` aborts; resolves with the last run's summary. */
export async function watchBisync(path1: string, path2: string, req: WatchRequest = {}): Promise<BisyncSummary | undefined> {
  const p = await prepareBisync(path1, path2, req);
  try {
    return await watchPrepared(p, req);
  } finally {
    await p.close();
  }
}

export type WatchOptions = Pick<WatchRequest, 'debounceMs' | 'scanPage' | 'onRun'>;

/** Watch mode over a prepared pair (the daemon's bisync job with watch: true); the caller closes it. */
export async function watchPrepared(p: PreparedBisync, req: WatchOptions = {}): Promise<BisyncSummary | undefined> {
  const signal = p.run.signal ?? new AbortController().signal;
  const b: Record<Side, Backend> = { 1: p.run.to2.src, 2: p.run.to2.dst };
  const base = new MergeBase(p.run.to2.state.db, `${b[1].location.id}\n${b[2].location.id}`);
  const pending = new Set<string>();
  const hot = new Map<string, number>();
  let last: BisyncSummary | undefined;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const changed = (key: string, debounce: number): void => {
    pending.add(key);
    const slash = key.lastIndexOf('/');
    if (slash > 0) hot.set(key.slice(0, slash + 1), Date.now());
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      wake?.();
    }, debounce);
  };
  const debounceMs = req.debounceMs ?? 100;
  const watchers: FSWatcher[] = [];
  const pollers: Array<{ side: Side; scan?: AsyncIterator<Triple> }> = [];
  for (const s of [1, 2] as const) {
    if (b[s].location.type === 'local') watchers.push(watchLocal(b[s].location.path, (k) => changed(k, debounceMs)));
    else pollers.push({ side: s });
  }
  const run = async (keys?: string[]): Promise<void> => {
    try {
      last = await runBisync({ ...p.run, ...(keys ? { keys } : {}) });
      req.onRun?.(last);
    } catch (err) {
      p.run.onEvent?.({ type: 'error', kind: 'unknown', message: `watch: ${describeError(err)}` });
    }
  };

  /** One poll of a non-local side: keys that differ from the base, in a page of the rolling scan and in the hot prefixes. */
  const poll = async (pl: { side: Side; scan?: AsyncIterator<Triple> }): Promise<void> => {
    const s = pl.side;
    const differs = (t: Triple): boolean => {
      const e = s === 1 ? t.e1 : t.e2;
      const was = t.base?.[s === 1 ? 's1' : 's2'];
      return e ? !was || changedSince(e, was, 1) : !!was;
    };
    const only = (list: AsyncIterable<Entry>, rows: ReturnType<MergeBase['rows']>): AsyncIterator<Triple> =>
      (s === 1 ? march3(list, none(), rows) : march3(none(), list, rows))[Symbol.asyncIterator]();
    pl.scan ??= only(b[s].list({ signal, allowMissingRoot: true }), base.rows());
    for (let i = 0; i < (req.scanPage ?? 1000); i++) {
      const r = await pl.scan.next();
      if (r.done) {
        pl.scan = undefined;
        break;
      }
      if (differs(r.value)) changed(r.value.key, 0);
    }
    const now = Date.now();
    const prefixes = [...hot].filter(([, t]) => now - t < HOT_TTL_MS).sort((x, y) => y[1] - x[1]).slice(0, HOT_MAX);
    for (const [k, t] of hot) if (now - t >= HOT_TTL_MS) hot.delete(k);
    for (const [prefix] of prefixes) {
      const it = only(b[s].list({ signal, prefix, allowMissingRoot: true }), base.rowsUnder(prefix));
      for (let r = await it.next(); !r.done; r = await it.next()) if (differs(r.value)) changed(r.value.key, 0);
    }
  };

  const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  try {
    await run();
    const interval = p.options.pollInterval;
    let nextPoll = Date.now();
    while (!signal.aborted) {
      // changes already seen go first; a poll waits for them
      if (pending.size > 0 && !timer) {
        const keys = [...pending];
        pending.clear();
        await run(keys);
        continue;
      }
      if (pollers.length && Date.now() >= nextPoll) {
        nextPoll = Date.now() + interval;
        for (const pl of pollers) {
          await poll(pl).catch((err: unknown) => {
            pl.scan = undefined;
            p.run.onEvent?.({ type: 'error', kind: 'unknown', message: `watch: polling ${b[pl.side].uri}: ${describeError(err)}` });
          });
        }
        continue;
      }
      const wait = pollers.length ? Math.max(0, nextPoll - Date.now()) : 60_000;
      await Promise.race([stopped, new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, wait).unref();
      })]);
      wake = undefined;
    }
  } finally {
    if (timer) clearTimeout(timer);
    await Promise.allSettled([...watchers.map((w) => w.close()), ...pollers.map((pl) => pl.scan?.return?.())]);
  }
  return last;
}

async function* none(): AsyncGenerator<Entry> {}

/** Changed paths under a local root, as keys ('/'-separated, relative); the engine's temporary files are ignored. */
function watchLocal(root: string, onChange: (key: string) => void): FSWatcher {
  const w = chokidarWatch(root, { ignoreInitial: true, ignored: (p: string) => /(^|[/\\])\.hybridsync-\d+-[0-9a-f]{8}\.tmp/.test(p) });
  const key = (p: string): string => relative(root, p).split(sep).join('/');
  for (const ev of ['add', 'change', 'unlink'] as const) w.on(ev, (p: string) => onChange(key(p)));
  return w;
}
