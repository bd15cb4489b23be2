/**
 * When a job runs: pure functions of the job's cron schedule, its run window and a point in
 * time. Windows are wall-clock ranges in the job's time zone ("22:00-06:00" wraps past
 * midnight); a run started inside a window must stop at the window's end.
 * Around DST changes a window is one hour longer or shorter than on the wall clock.
 */
import { Cron } from 'croner';
import { WINDOW_PATTERN } from '../config/operations.js';

export interface RunWindow {
  /** Minutes after midnight. */
  readonly start: number;
  readonly end: number;
}

export interface ScheduleSpec {
  readonly schedule?: string;
  readonly window?: string;
  readonly timezone?: string;
}

export interface PlannedStart {
  /** When to start (ms since the epoch). */
  readonly at: number;
  /** When the window closes and the run must stop; undefined when the job has no window. */
  readonly deadline?: number;
}

export function parseWindow(spec: string): RunWindow {
  const m = WINDOW_PATTERN.exec(spec.trim());
  if (!m) throw new RangeError(`invalid window "${spec}": use HH:MM-HH:MM, e.g. 22:00-06:00`);
  return { start: Number(m[1]) * 60 + Number(m[2]), end: Number(m[3]) * 60 + Number(m[4]) };
}

const DAY_MIN = 1440;
const MIN = 60_000;

/** Minutes (with fraction) since midnight on the wall clock of `tz` (default: local). */
export function wallMinutes(at: number, tz?: string): number {
  const d = new Date(at);
  if (!tz) return d.getHours() * 60 + d.getMinutes() + d.getSeconds() / 60 + d.getMilliseconds() / MIN;
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(d);
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute') + get('second') / 60 + d.getMilliseconds() / MIN;
}

export interface WindowState {
  readonly open: boolean;
  /** The next opening at or after `at` (now, when open). */
  readonly opensAt: number;
  /** The end of the current window when open, else of the next one. */
  readonly closesAt: number;
}

export function windowState(w: RunWindow, at: number, tz?: string): WindowState {
  if (w.start === w.end) return { open: true, opensAt: at, closesAt: Infinity };
  const cur = wallMinutes(at, tz);
  const open = w.start < w.end ? cur >= w.start && cur < w.end : cur >= w.start || cur < w.end;
  const until = (target: number): number => at + (((target - cur) % DAY_MIN) + DAY_MIN) % DAY_MIN * MIN;
  const opensAt = open ? at : until(w.start);
  const closesAt = open ? until(w.end) : opensAt + (((w.end - w.start) % DAY_MIN) + DAY_MIN) % DAY_MIN * MIN;
  return { open, opensAt: Math.round(opensAt), closesAt: Math.round(closesAt) };
}

function cronOf(spec: ScheduleSpec): Cron | undefined {
  return spec.schedule ? new Cron(spec.schedule, { paused: true, ...(spec.timezone ? { timezone: spec.timezone } : {}) }) : undefined;
}

/**
 * The next start strictly after `after`: the next cron time, moved to the window's next
 * opening when it falls outside the window; with a window and no cron, every opening.
 * Undefined for jobs that only run when triggered.
 */
export function nextStart(spec: ScheduleSpec, after: number): PlannedStart | undefined {
  const cron = cronOf(spec);
  const win = spec.window ? parseWindow(spec.window) : undefined;
  let at: number;
  if (cron) {
    const t = cron.nextRun(new Date(after));
    if (!t) return undefined;
    at = t.getTime();
  } else if (win) {
    const ws = windowState(win, after, spec.timezone);
    // the next opening strictly after `after`: when open now, the one after this window
    at = ws.open ? windowState(win, ws.closesAt, spec.timezone).opensAt : ws.opensAt;
  } else return undefined;
  if (!win) return { at };
  const ws = windowState(win, at, spec.timezone);
  return { at: ws.opensAt, deadline: ws.closesAt };
}

/**
 * The scheduled time of the most recent run missed between the last scheduled run and
 * `now`, if any. A job that never ran has missed nothing (its schedule starts now).
 */
export function missedSince(spec: ScheduleSpec, lastScheduled: number | undefined, now: number): number | undefined {
  if (lastScheduled === undefined) return undefined;
  const first = nextStart(spec, lastScheduled);
  if (!first || first.at > now) return undefined;
  let missed = first.at;
  // walk forward to the latest missed start (bounded: schedules are at most per second)
  for (let i = 0; i < 10_000; i++) {
    const n = nextStart(spec, missed);
    if (!n || n.at > now) break;
    missed = n.at;
  }
  return missed;
}

/** Where a catch-up run goes: now if the window is open (or there is none), else at the next opening. */
export function catchUpStart(spec: ScheduleSpec, now: number): PlannedStart {
  if (!spec.window) return { at: now };
  const ws = windowState(parseWindow(spec.window), now, spec.timezone);
  return { at: ws.opensAt, deadline: ws.closesAt };
}
