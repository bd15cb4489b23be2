/**
 * The bandwidth planner: from workloads (volume per sync, cadence, window) it computes the
 * throughput each needs, the peak, the link size with headroom, how long each sync takes on
 * each connectivity option, and whether an initial seed should travel by device instead.
 * Pure: no I/O, no clock; the CLI and the HTTP API feed it and print its result.
 *
 * Units: sizes are bytes (TB = 10^12 bytes, TiB = 2^40 bytes as parsed by lib/units);
 * rates are bits per second in decimal units (Gbps = 10^9 bit/s, Mbps = 10^6 bit/s).
 */
import { formatBitRate, formatBytesDecimal, formatDays } from './format.js';

export const PLAN_VERSION = 1;

/** One recurring sync to be planned for. */
export interface Workload {
  readonly name: string;
  /** Bytes moved by each sync. */
  readonly volumeBytes: number;
  /** Time between syncs (ms), e.g. 1 day. */
  readonly everyMs: number;
  /** Time each sync may take (ms), e.g. an 8 h off-peak window; default: the whole interval. */
  readonly windowMs?: number;
  /** Bytes of the one-time initial copy, when it differs from a regular sync. */
  readonly seedBytes?: number;
  /** Where the volume figure came from, for the reader of the plan. */
  readonly source?: 'flags' | 'history' | 'config';
}

export type ConnectivityKind = 'dedicated' | 'vpn' | 'sd-wan';

export interface ConnectivityOption {
  readonly kind: ConnectivityKind;
  readonly label: string;
  readonly bitsPerSecond: number;
}

/**
 * The connectivity options compared by default: dedicated interconnects (AWS Direct
 * Connect, Azure ExpressRoute, Google Cloud Interconnect) at their common port speeds up to
 * 100 Gbps, site-to-site VPN from 1 to 10 Gbps and SD-WAN underlays.
 */
export const DEFAULT_OPTIONS: readonly ConnectivityOption[] = [
  { kind: 'sd-wan', label: 'SD-WAN 500 Mbps', bitsPerSecond: 500e6 },
  { kind: 'vpn', label: 'Site-to-site VPN 1 Gbps', bitsPerSecond: 1e9 },
  { kind: 'sd-wan', label: 'SD-WAN 2 Gbps', bitsPerSecond: 2e9 },
  { kind: 'vpn', label: 'Site-to-site VPN 10 Gbps', bitsPerSecond: 10e9 },
  { kind: 'dedicated', label: 'Direct Connect / ExpressRoute / Interconnect 1 Gbps', bitsPerSecond: 1e9 },
  { kind: 'dedicated', label: 'Direct Connect / ExpressRoute / Interconnect 10 Gbps', bitsPerSecond: 10e9 },
  { kind: 'dedicated', label: 'Direct Connect / ExpressRoute / Interconnect 100 Gbps', bitsPerSecond: 100e9 },
];

export interface PlanOptions {
  /** Extra capacity over the peak, 0.3 = 30 %. */
  readonly headroom?: number;
  /** Advise physical transfer when a seed takes longer than this on the planned link (ms). */
  readonly seedThresholdMs?: number;
  /** The link the seed is judged against (bit/s); default: the recommended link size. */
  readonly linkBitsPerSecond?: number;
  readonly options?: readonly ConnectivityOption[];
  /** Usable bytes per transfer device (Snowball / Data Box class); an assumption, 80 TB. */
  readonly deviceBytes?: number;
}

export interface OptionTiming {
  readonly option: string;
  readonly kind: ConnectivityKind;
  readonly bitsPerSecond: number;
  /** Time of one sync at full line rate (ms). */
  readonly syncMs: number;
  readonly fitsWindow: boolean;
  /** Utilization this workload alone causes, averaged over its interval (above 1: over capacity). */
  readonly averageUtilization: number;
  /** What the utilization means: see {@link utilizationState}. */
  readonly utilization: UtilizationState;
  readonly seedMs?: number;
}

export interface WorkloadPlan {
  readonly name: string;
  readonly volumeBytes: number;
  readonly everyMs: number;
  readonly windowMs: number;
  /** bit/s needed to move the volume within the window. */
  readonly requiredBitsPerSecond: number;
  /** bit/s averaged over the whole interval. */
  readonly averageBitsPerSecond: number;
  readonly source?: Workload['source'];
  readonly options: readonly OptionTiming[];
  readonly seed?: SeedAdvice;
}

export interface SeedAdvice {
  readonly bytes: number;
  /** Time of the seed on the planned link (ms). */
  readonly networkMs: number;
  readonly linkBitsPerSecond: number;
  readonly physicalTransfer: boolean;
  /** Devices of `deviceBytes` each, when physical transfer is advised. */
  readonly devices?: number;
  readonly advice: string;
}

export interface BandwidthPlan {
  readonly v: typeof PLAN_VERSION;
  readonly workloads: readonly WorkloadPlan[];
  /** Sum of the workloads' required rates: the worst case, all windows coinciding. */
  readonly peakBitsPerSecond: number;
  readonly averageBitsPerSecond: number;
  readonly headroom: number;
  /** peak x (1 + headroom). */
  readonly recommendedBitsPerSecond: number;
  /** The smallest option of each kind that carries the recommended rate, if any does. */
  readonly recommendedOptions: readonly string[];
  readonly seedThresholdMs: number;
  readonly utilizationWarning: number;
}

export const DEFAULT_HEADROOM = 0.3;
export const DEFAULT_SEED_THRESHOLD_MS = 7 * 86_400_000;
export const DEFAULT_DEVICE_BYTES = 80e12;
/** Plan to upgrade before a link is consistently above this share of its capacity. */
export const UTILIZATION_WARNING = 0.7;

/**
 * `ok`; `warning` above the share a link should stay under (the link monitor would warn);
 * `over-capacity` above 1: even running without a break the link moves less than each
 * interval brings, so the backlog grows with every sync.
 */
export type UtilizationState = 'ok' | 'warning' | 'over-capacity';

export function utilizationState(utilization: number, warnAbove = UTILIZATION_WARNING): UtilizationState {
  return utilization > 1 ? 'over-capacity' : utilization > warnAbove ? 'warning' : 'ok';
}

/** bit/s needed to move `bytes` in `ms`. */
export function requiredBitsPerSecond(bytes: number, ms: number): number {
  if (!(ms > 0)) throw new RangeError('the window must be longer than zero');
  return (bytes * 8 * 1000) / ms;
}

/** ms needed to move `bytes` at `bitsPerSecond`. */
export function transferMs(bytes: number, bitsPerSecond: number): number {
  return (bytes * 8 * 1000) / bitsPerSecond;
}

export function planBandwidth(workloads: readonly Workload[], o: PlanOptions = {}): BandwidthPlan {
  const headroom = o.headroom ?? DEFAULT_HEADROOM;
  const seedThresholdMs = o.seedThresholdMs ?? DEFAULT_SEED_THRESHOLD_MS;
  const options = o.options ?? DEFAULT_OPTIONS;
  const deviceBytes = o.deviceBytes ?? DEFAULT_DEVICE_BYTES;
  if (headroom < 0) throw new RangeError('headroom cannot be negative');

  const base = workloads.map((w) => {
    const windowMs = w.windowMs ?? w.everyMs;
    if (!(w.everyMs > 0)) throw new RangeError(`${w.name}: the interval must be longer than zero`);
    if (!(windowMs > 0)) throw new RangeError(`${w.name}: the window must be longer than zero`);
    if (windowMs > w.everyMs) {
      throw new RangeError(`${w.name}: the window (${formatDays(windowMs)}) is longer than the interval (${formatDays(w.everyMs)}): a sync may take at most the time until the next one`);
    }
    return {
      w,
      windowMs,
      required: requiredBitsPerSecond(w.volumeBytes, windowMs),
      average: requiredBitsPerSecond(w.volumeBytes, w.everyMs),
    };
  });
  const peak = base.reduce((s, b) => s + b.required, 0);
  const average = base.reduce((s, b) => s + b.average, 0);
  const recommended = peak * (1 + headroom);
  const seedLink = o.linkBitsPerSecond ?? recommended;

  const plans = base.map(({ w, windowMs, required, average: avg }): WorkloadPlan => {
    const seedBytes = w.seedBytes;
    return {
      name: w.name,
      volumeBytes: w.volumeBytes,
      everyMs: w.everyMs,
      windowMs,
      requiredBitsPerSecond: required,
      averageBitsPerSecond: avg,
      ...(w.source ? { source: w.source } : {}),
      options: options.map((opt) => {
        const syncMs = transferMs(w.volumeBytes, opt.bitsPerSecond);
        return {
          option: opt.label,
          kind: opt.kind,
          bitsPerSecond: opt.bitsPerSecond,
          syncMs,
          fitsWindow: syncMs <= windowMs,
          averageUtilization: avg / opt.bitsPerSecond,
          utilization: utilizationState(avg / opt.bitsPerSecond),
          ...(seedBytes !== undefined ? { seedMs: transferMs(seedBytes, opt.bitsPerSecond) } : {}),
        };
      }),
      ...(seedBytes !== undefined && seedBytes > 0 ? { seed: adviseSeed(seedBytes, seedLink, seedThresholdMs, deviceBytes) } : {}),
    };
  });

  const recommendedOptions: string[] = [];
  for (const kind of ['dedicated', 'vpn', 'sd-wan'] as const) {
    const fit = options.filter((x) => x.kind === kind && x.bitsPerSecond >= recommended).sort((a, b) => a.bitsPerSecond - b.bitsPerSecond)[0];
    if (fit) recommendedOptions.push(fit.label);
  }

  return {
    v: PLAN_VERSION,
    workloads: plans,
    peakBitsPerSecond: peak,
    averageBitsPerSecond: average,
    headroom,
    recommendedBitsPerSecond: recommended,
    recommendedOptions,
    seedThresholdMs,
    utilizationWarning: UTILIZATION_WARNING,
  };
}

function adviseSeed(bytes: number, linkBps: number, thresholdMs: number, deviceBytes: number): SeedAdvice {
  const networkMs = linkBps > 0 ? transferMs(bytes, linkBps) : Infinity;
  const physical = networkMs > thresholdMs;
  const devices = Math.ceil(bytes / deviceBytes);
  return {
    bytes,
    networkMs,
    linkBitsPerSecond: linkBps,
    physicalTransfer: physical,
    ...(physical ? { devices } : {}),
    advice: physical
      ? `seed by physical transfer (Snowball / Data Box class, about ${devices} device(s) of ${formatBytesDecimal(deviceBytes)}): ` +
        `the network would take ${formatDays(networkMs)}, over the ${formatDays(thresholdMs)} threshold` +
        '; then `hybridsync seed export SRC DIR`, import DIR/data with any tool, `hybridsync adopt SRC DST`, and each sync moves only the delta (docs/scale.md)'
      : `seed over the network: ${formatDays(networkMs)} at ${formatBitRate(linkBps)}`,
  };
}

const RATE_UNITS: Record<string, number> = { bps: 1, kbps: 1e3, mbps: 1e6, gbps: 1e9, tbps: 1e12 };

/** Parses a line rate such as "10Gbps", "500 Mbps", "1.5gbps" into bit/s (decimal units). */
export function parseBitRate(input: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z/]+)\s*$/.exec(input);
  const unit = m?.[2]?.toLowerCase().replace('/s', 'ps').replace('bit', 'b');
  const mult = unit !== undefined ? RATE_UNITS[unit] : undefined;
  if (!m || mult === undefined) throw new RangeError(`invalid rate "${input}": use a number with bps, Mbps, Gbps or Tbps (decimal: 1 Gbps = 10^9 bit/s)`);
  return Number(m[1]) * mult;
}
