import { sleep } from './abort.js';
import { parseSize } from './units.js';

/**
 * Bandwidth limits: rclone's --bwlimit timetable syntax and a shared pacer.
 *
 * Timetable forms: "10M" (always), "off", "08:00,512K 12:00,10M 19:00,off" (daily),
 * "Mon-08:00,512K Sat-00:00,off" (weekly; daily entries apply to every day). A bare number
 * is KiB/s as in rclone. The entry in force is the last one at or before now, wrapping
 * around the day/week.
 */
export interface BwSlot {
  /** Minute of the week, Monday 00:00 = 0. */
  readonly minuteOfWeek: number;
  /** Bytes per second; Infinity for "off". */
  readonly bytesPerSecond: number;
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function parseRate(s: string, whole: string): number {
  if (s.toLowerCase() === 'off' || s === '0') return Infinity;
  try {
    return parseSize(s, 'k');
  } catch {
    throw new RangeError(`invalid --bwlimit "${whole}": "${s}" is not a rate (use 512K, 10M, 1G or off)`);
  }
}

export function parseBwTimetable(spec: string): BwSlot[] {
  const parts = spec.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return [];
  if (parts.length === 1 && !parts[0]!.includes(',')) {
    return [{ minuteOfWeek: 0, bytesPerSecond: parseRate(parts[0]!, spec) }];
  }
  const slots: BwSlot[] = [];
  for (const p of parts) {
    const m = /^(?:([A-Za-z]{3})-)?(\d{1,2}):(\d{2}),(\S+)$/.exec(p);
    if (!m) throw new RangeError(`invalid --bwlimit entry "${p}": use HH:MM,RATE or Mon-HH:MM,RATE (e.g. "08:00,10M 19:00,off")`);
    const hh = Number(m[2]);
    const mm = Number(m[3]);
    if (hh > 23 || mm > 59) throw new RangeError(`invalid time in --bwlimit entry "${p}"`);
    const rate = parseRate(m[4]!, spec);
    const minute = hh * 60 + mm;
    if (m[1]) {
      const d = DAYS.indexOf(m[1].toLowerCase());
      if (d < 0) throw new RangeError(`invalid weekday in --bwlimit entry "${p}": use Mon, Tue, Wed, Thu, Fri, Sat or Sun`);
      slots.push({ minuteOfWeek: d * 1440 + minute, bytesPerSecond: rate });
    } else {
      for (let d = 0; d < 7; d++) slots.push({ minuteOfWeek: d * 1440 + minute, bytesPerSecond: rate });
    }
  }
  slots.sort((a, b) => a.minuteOfWeek - b.minuteOfWeek);
  return slots;
}

export function minuteOfWeek(d: Date): number {
  const day = (d.getDay() + 6) % 7; // Monday = 0
  return day * 1440 + d.getHours() * 60 + d.getMinutes();
}

/** The rate in force at `at` (local time), Infinity when unlimited. */
export function rateAt(slots: readonly BwSlot[], at: Date): number {
  if (slots.length === 0) return Infinity;
  const now = minuteOfWeek(at);
  let current = slots[slots.length - 1]!; // wraps around from last week
  for (const s of slots) {
    if (s.minuteOfWeek <= now) current = s;
    else break;
  }
  return current.bytesPerSecond;
}


/** Anything that paces bytes: the timetable limiter here, a link governor's lane. */
export interface Pacer {
  /** Resolves when `bytes` may be sent. */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/**
 * A pacer shared by every worker of a run (or every job on a link): callers `take(n)`
 * before sending n bytes and are delayed so the total stays at the rate in force.
 * Virtual-time scheduling keeps callers in FIFO order; a small burst allowance avoids
 * penalising the first chunks after an idle period.
 */
export class BandwidthLimiter implements Pacer {
  private nextFree = 0;
  constructor(
    private readonly rate: () => number,
    private readonly now: () => number = Date.now,
    private readonly burstMs = 100,
  ) {}

  static fromTimetable(spec: string | undefined, clock: () => Date = () => new Date()): BandwidthLimiter | undefined {
    if (!spec) return undefined;
    const slots = parseBwTimetable(spec);
    if (slots.every((s) => s.bytesPerSecond === Infinity)) return undefined;
    return new BandwidthLimiter(() => rateAt(slots, clock()));
  }

  currentRate(): number {
    return this.rate();
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const rate = this.rate();
    if (!Number.isFinite(rate) || rate <= 0) return;
    const now = this.now();
    if (this.nextFree < now - this.burstMs) this.nextFree = now - this.burstMs;
    const wait = this.nextFree - now;
    this.nextFree += (bytes * 1000) / rate;
    if (wait > 0) await sleep(wait, signal);
  }
}
