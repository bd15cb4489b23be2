import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/ops/clock.js';
import type { JobRunStatus } from '../../../src/ops/history.js';
import { missedSince, nextStart, parseWindow, windowState } from '../../../src/ops/schedule.js';
import { formatInstant } from '../../../src/ops/format.js';
import { JobAlreadyRunningError, Scheduler, type LaunchRequest, type SchedulableJob } from '../../../src/ops/scheduler.js';

const at = (day: number, hh: number, mm = 0): number => Date.UTC(2026, 0, day, hh, mm); // 2026-01-05 is a Monday
const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('schedule and windows (UTC)', () => {
  const nightly = { schedule: '0 22 * * *', window: '22:00-06:00', timezone: 'UTC' };

  it('starts a nightly job at 22:00 and stops it at 06:00 the next morning', () => {
    const n = nextStart(nightly, at(5, 12))!;
    expect(iso(n.at)).toBe('2026-01-05T22:00:00.000Z');
    expect(iso(n.deadline)).toBe('2026-01-06T06:00:00.000Z');
  });

  it('moves cron times outside the window to its next opening', () => {
    const hourly = { schedule: '0 * * * *', window: '22:00-06:00', timezone: 'UTC' };
    expect(iso(nextStart(hourly, at(5, 12))!.at)).toBe('2026-01-05T22:00:00.000Z');
    const inside = nextStart(hourly, at(5, 22, 30))!;
    expect(iso(inside.at)).toBe('2026-01-05T23:00:00.000Z');
    expect(iso(inside.deadline)).toBe('2026-01-06T06:00:00.000Z');
    expect(iso(nextStart(hourly, at(6, 5, 30))!.at)).toBe('2026-01-06T22:00:00.000Z');
  });

  it('runs a window-only job at each opening', () => {
    const w = { window: '01:00-05:00', timezone: 'UTC' };
    expect(iso(nextStart(w, at(5, 12))!.at)).toBe('2026-01-06T01:00:00.000Z');
    expect(iso(nextStart(w, at(6, 2))!.at)).toBe('2026-01-07T01:00:00.000Z');
    expect(nextStart({}, at(5, 12))).toBeUndefined();
  });

  it('knows whether a window is open and when it closes, across midnight', () => {
    const w = parseWindow('22:00-06:00');
    expect(windowState(w, at(6, 3), 'UTC')).toEqual({ open: true, opensAt: at(6, 3), closesAt: at(6, 6) });
    expect(windowState(w, at(6, 6), 'UTC').open).toBe(false);
    expect(windowState(w, at(6, 12), 'UTC')).toEqual({ open: false, opensAt: at(6, 22), closesAt: at(7, 6) });
    expect(() => parseWindow('25:00-06:00')).toThrow(/invalid window/);
  });

  it('finds the latest run missed since the last scheduled one', () => {
    const daily = { schedule: '0 22 * * *', timezone: 'UTC' };
    expect(iso(missedSince(daily, at(5, 22), at(7, 12)))).toBe('2026-01-06T22:00:00.000Z');
    expect(missedSince(daily, at(6, 22), at(7, 12))).toBeUndefined();
    expect(missedSince(daily, undefined, at(7, 12))).toBeUndefined();
  });
});

/** A scheduler over fake runs: each launch waits until the test finishes it. */
function harness(jobs: SchedulableJob[], now: number, lastScheduled?: Record<string, number>) {
  const clock = new ManualClock(now);
  const launches: Array<{ job: string; req: LaunchRequest; at: number; finish: (s: JobRunStatus) => void }> = [];
  const logs: string[] = [];
  const scheduler = new Scheduler({
    jobs,
    clock,
    lastScheduled: (j) => lastScheduled?.[j],
    log: (m) => logs.push(m),
    launch: (job, req) => new Promise<JobRunStatus>((resolve) => launches.push({ job, req, at: clock.now(), finish: resolve })),
  });
  const advanceTo = async (t: number): Promise<void> => {
    clock.advanceTo(t);
    await flush();
  };
  return { clock, scheduler, launches, logs, advanceTo };
}

describe('scheduler', () => {
  it('launches at the planned start with the window end as deadline', async () => {
    const h = harness([{ name: 'nightly', schedule: '0 22 * * *', window: '22:00-06:00', timezone: 'UTC' }], at(5, 12));
    h.scheduler.start();
    expect(iso(h.scheduler.nextRun('nightly'))).toBe('2026-01-05T22:00:00.000Z');
    await h.advanceTo(at(5, 21, 59));
    expect(h.launches).toHaveLength(0);
    await h.advanceTo(at(5, 22));
    expect(h.launches).toHaveLength(1);
    expect(h.launches[0]!.req).toMatchObject({ trigger: 'schedule', scheduledAt: at(5, 22), deadline: at(6, 6), attempt: 1 });
    expect(iso(h.scheduler.nextRun('nightly'))).toBe('2026-01-06T22:00:00.000Z');
  });

  it('never runs two runs of one job at once: starts due while it runs are skipped', async () => {
    const h = harness([{ name: 'minutely', schedule: '* * * * *', timezone: 'UTC' }], at(5, 12));
    h.scheduler.start();
    await h.advanceTo(at(5, 12, 1));
    await h.advanceTo(at(5, 12, 2));
    await h.advanceTo(at(5, 12, 3));
    expect(h.launches).toHaveLength(1);
    expect(h.logs.filter((l) => l.includes('still running'))).toHaveLength(2);
    expect(() => h.scheduler.trigger('minutely')).toThrow(JobAlreadyRunningError);
    h.launches[0]!.finish('ok');
    await flush();
    expect(h.scheduler.isRunning('minutely')).toBe(false);
    await h.advanceTo(at(5, 12, 4));
    expect(h.launches).toHaveLength(2);
  });

  it('catches up once for runs missed while down, or skips them', async () => {
    const daily = { name: 'daily', schedule: '0 22 * * *', timezone: 'UTC' };
    const h = harness([{ ...daily, catchUp: 'once' }], at(8, 12), { daily: at(5, 22) });
    h.scheduler.start();
    await h.advanceTo(at(8, 12));
    expect(h.launches).toHaveLength(1); // one catch-up, not three
    expect(h.launches[0]!.req).toMatchObject({ trigger: 'catch-up', scheduledAt: at(7, 22) });
    expect(iso(h.scheduler.nextRun('daily'))).toBe('2026-01-08T22:00:00.000Z');

    const skip = harness([{ ...daily, catchUp: 'skip' }], at(8, 12), { daily: at(5, 22) });
    skip.scheduler.start();
    await skip.advanceTo(at(8, 21));
    expect(skip.launches).toHaveLength(0);
  });

  it('defers a catch-up to the window, where it is the regular start', async () => {
    const h = harness([{ name: 'nightly', schedule: '0 22 * * *', window: '22:00-06:00', timezone: 'UTC' }], at(8, 12), { nightly: at(5, 22) });
    h.scheduler.start();
    await h.advanceTo(at(8, 23));
    expect(h.launches.map((l) => l.req.trigger)).toEqual(['schedule']);
  });

  it('retries a failed run with exponential backoff inside the window', async () => {
    const h = harness(
      [{ name: 'nightly', schedule: '0 22 * * *', window: '22:00-23:00', timezone: 'UTC', retry: { attempts: 3, backoffMs: 10 * 60_000 } }],
      at(5, 12),
    );
    h.scheduler.start();
    await h.advanceTo(at(5, 22));
    h.launches[0]!.finish('failed');
    await flush();
    await h.advanceTo(at(5, 22, 10));
    expect(h.launches).toHaveLength(2);
    expect(h.launches[1]!.req).toMatchObject({ trigger: 'retry', attempt: 2, deadline: at(5, 23) });
    h.launches[1]!.finish('failed');
    await flush();
    // the next backoff is 20 min: 22:30 is still inside the window
    await h.advanceTo(at(5, 22, 30));
    expect(h.launches).toHaveLength(3);
    h.launches[2]!.finish('failed');
    await flush();
    await h.advanceTo(at(5, 23, 59));
    expect(h.launches).toHaveLength(3); // attempts exhausted
  });

  it('does not retry past the window end, and runs manual triggers at once', async () => {
    const h = harness(
      [{ name: 'nightly', schedule: '0 22 * * *', window: '22:00-22:30', timezone: 'UTC', retry: { attempts: 3, backoffMs: 60 * 60_000 } }],
      at(5, 12),
    );
    h.scheduler.start();
    void h.scheduler.trigger('nightly');
    expect(h.launches[0]!.req).toEqual({ trigger: 'manual', attempt: 1 });
    h.launches[0]!.finish('failed');
    await flush();
    await h.advanceTo(at(5, 22));
    h.launches[1]!.finish('failed');
    await flush();
    await h.advanceTo(at(5, 23, 30));
    expect(h.launches).toHaveLength(2);
    expect(h.logs.some((l) => l.includes('window closes before the backoff ends'))).toBe(true);
  });
});

describe('times as a job sees them', () => {
  it("prints a time on the job's wall clock with its zone and offset, one format for every zone", () => {
    const winter = Date.UTC(2026, 11, 2, 2, 0); // 02:00 UTC
    const summer = Date.UTC(2026, 6, 1, 2, 0, 5);
    expect(formatInstant(winter, 'Europe/Berlin')).toBe('2026-12-02 03:00 Europe/Berlin (+01:00)');
    expect(formatInstant(summer, 'Europe/Berlin')).toBe('2026-07-01 04:00 Europe/Berlin (+02:00)');
    expect(formatInstant(winter, 'America/New_York')).toBe('2026-12-01 21:00 America/New_York (-05:00)');
    expect(formatInstant(winter, 'Asia/Kolkata')).toBe('2026-12-02 07:30 Asia/Kolkata (+05:30)');
    expect(formatInstant(winter, 'UTC')).toBe('2026-12-02 02:00 UTC');
    expect(formatInstant(summer, 'Europe/Berlin', { seconds: true })).toBe('2026-07-01 04:00:05 Europe/Berlin (+02:00)');
    expect(formatInstant(null, 'UTC')).toBe('-');
  });

  it("logs catch-up and retry times in the job's zone, not UTC", async () => {
    const berlin = { name: 'nightly', schedule: '0 22 * * *', timezone: 'Europe/Berlin', catchUp: 'once' as const, retry: { attempts: 2, backoffMs: 10 * 60_000 } };
    // down since the 22:00 Berlin run of Jan 5 (21:00 UTC); started on Jan 8 at 12:00 UTC
    const h = harness([berlin], at(8, 12), { nightly: at(5, 21) });
    h.scheduler.start();
    expect(h.logs).toContain('nightly: catching up the run due 2026-01-07 22:00 Europe/Berlin (+01:00)');
    await h.advanceTo(at(8, 12));
    h.launches[0]!.finish('failed');
    await flush();
    expect(h.logs).toContain('nightly: run failed, retry 2/2 at 2026-01-08 13:10 Europe/Berlin (+01:00)');
    expect(h.logs.join('\n')).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
  });
});
