/**
 * Time as a dependency: the governor, the scheduler and the link monitor read the time and
 * arm timers only through a Clock, so tests drive them with a ManualClock instead of sleeping.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`. */
  setTimer(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    // setTimeout overflows above 2^31-1 ms (~24.8 days): re-arm in steps
    const MAX = 2 ** 31 - 1;
    let t: NodeJS.Timeout;
    const due = Date.now() + ms;
    const arm = (left: number): void => {
      t = setTimeout(() => {
        const rest = due - Date.now();
        if (rest > 0) arm(rest);
        else fn();
      }, Math.min(Math.max(0, left), MAX));
    };
    arm(ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that moves only when told to; timers fire in due order during `advance`. */
export class ManualClock implements Clock {
  private timers: Array<{ due: number; seq: number; fn: () => void }> = [];
  private seq = 0;

  constructor(private t = 0) {}

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const entry = { due: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(entry);
    return { cancel: () => void (this.timers = this.timers.filter((x) => x !== entry)) };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  advanceTo(target: number): void {
    while (true) {
      const next = this.timers.filter((x) => x.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = Math.max(this.t, next.due);
      next.fn();
    }
    this.t = Math.max(this.t, target);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}
