/**
 * The link monitor: samples the bytes each link's governor has granted, keeps a window of
 * throughput samples, and warns when utilization stays above the link's threshold (70 % by
 * default) for the configured period — the signal to plan an upgrade. Clears the warning
 * when utilization drops back.
 */
import { systemClock, type Clock, type Timer } from './clock.js';

export interface MonitoredLink {
  readonly name: string;
  readonly kind?: string;
  /** Capacity in bytes per second. */
  readonly capacity: () => number;
  /** Bytes sent over the link since the start (monotonic). */
  readonly bytes: () => number;
  readonly warnAbove: number;
  readonly warnAfterMs: number;
}

export interface LinkSample {
  readonly t: number;
  readonly bitsPerSecond: number;
  readonly utilization: number;
}

export interface LinkWarning {
  readonly link: string;
  readonly utilization: number;
  readonly threshold: number;
  readonly since: number;
  readonly message: string;
}

export interface LinkStatus {
  readonly name: string;
  readonly kind?: string;
  readonly capacityBitsPerSecond: number;
  readonly bitsPerSecond: number;
  readonly utilization: number;
  readonly threshold: number;
  readonly aboveSince: number | null;
  readonly warning: LinkWarning | null;
  readonly samples: readonly LinkSample[];
}

interface State {
  lastBytes: number;
  lastT: number;
  aboveSince: number | undefined;
  warning: LinkWarning | undefined;
  samples: LinkSample[];
}

export interface LinkMonitorOptions {
  readonly links: readonly MonitoredLink[];
  readonly clock?: Clock;
  readonly sampleMs?: number;
  /** Samples kept per link (the dashboard chart); default one hour at the sample rate. */
  readonly keep?: number;
  readonly onWarning?: (w: LinkWarning) => void;
  readonly onClear?: (link: string) => void;
}

export class LinkMonitor {
  private readonly clock: Clock;
  private readonly sampleMs: number;
  private readonly keep: number;
  private readonly state = new Map<string, State>();
  private timer: Timer | undefined;

  constructor(private readonly o: LinkMonitorOptions) {
    this.clock = o.clock ?? systemClock;
    this.sampleMs = o.sampleMs ?? 5000;
    this.keep = o.keep ?? Math.ceil(3_600_000 / this.sampleMs);
    const now = this.clock.now();
    for (const l of o.links) this.state.set(l.name, { lastBytes: l.bytes(), lastT: now, aboveSince: undefined, warning: undefined, samples: [] });
  }

  start(): void {
    const tick = (): void => {
      this.sample();
      this.timer = this.clock.setTimer(tick, this.sampleMs);
    };
    this.timer = this.clock.setTimer(tick, this.sampleMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Takes one sample of every link now. */
  sample(): void {
    const now = this.clock.now();
    for (const l of this.o.links) {
      const s = this.state.get(l.name)!;
      const dt = now - s.lastT;
      if (dt <= 0) continue;
      const bytes = l.bytes();
      const bps = ((bytes - s.lastBytes) * 8 * 1000) / dt;
      const capBits = l.capacity() * 8;
      const utilization = Number.isFinite(capBits) && capBits > 0 ? bps / capBits : 0;
      s.lastBytes = bytes;
      s.lastT = now;
      s.samples.push({ t: now, bitsPerSecond: bps, utilization });
      if (s.samples.length > this.keep) s.samples.splice(0, s.samples.length - this.keep);
      if (utilization > l.warnAbove) {
        // above since the start of this sample's interval
        s.aboveSince ??= now - dt;
        if (!s.warning && now - s.aboveSince >= l.warnAfterMs) {
          s.warning = {
            link: l.name,
            utilization,
            threshold: l.warnAbove,
            since: s.aboveSince,
            message:
              `link ${l.name} has been above ${Math.round(l.warnAbove * 100)}% of its capacity for ` +
              `${Math.round((now - s.aboveSince) / 60_000)} min (now ${Math.round(utilization * 100)}%): plan an upgrade`,
          };
          this.o.onWarning?.(s.warning);
        }
      } else {
        s.aboveSince = undefined;
        if (s.warning) {
          s.warning = undefined;
          this.o.onClear?.(l.name);
        }
      }
    }
  }

  status(): LinkStatus[] {
    return this.o.links.map((l) => {
      const s = this.state.get(l.name)!;
      const last = s.samples[s.samples.length - 1];
      return {
        name: l.name,
        ...(l.kind ? { kind: l.kind } : {}),
        capacityBitsPerSecond: l.capacity() * 8,
        bitsPerSecond: last?.bitsPerSecond ?? 0,
        utilization: last?.utilization ?? 0,
        threshold: l.warnAbove,
        aboveSince: s.aboveSince ?? null,
        warning: s.warning ?? null,
        samples: s.samples,
      };
    });
  }
}
