/** `hybridsync plan bandwidth`: size the interconnect for the syncs you run. */
import { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { parseDuration, parseSizeWithUnit } from '../lib/units.js';
import { formatBitRate, formatBytesDecimal, formatDays, formatTable } from '../ops/format.js';
import {
  parseBitRate,
  planBandwidth,
  type BandwidthPlan,
  type OptionTiming,
  type Workload,
  type WorkloadPlan,
} from '../ops/planner.js';
import { workloadsFromJobs } from '../ops/jobs.js';
import { reportError } from './context.js';
import { EXIT } from './exit.js';

interface PlanFlags {
  volume?: string;
  every?: string;
  window?: string;
  seed?: string;
  headroom: string;
  seedThreshold: string;
  link?: string;
  config?: string;
  state?: string;
  json?: boolean;
}

function parsed<T>(flag: string, v: string, parse: (s: string) => T): T {
  try {
    return parse(v);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

/** "30%", "30" and "0.3" all mean 30 % headroom. */
export function parseHeadroom(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(v);
  if (!m) throw new RangeError(`invalid headroom "${v}": use a percentage such as 30%`);
  const n = Number(m[1]);
  return m[2] || n > 1 ? n / 100 : n;
}

/** The name of the workload given by flags rather than a job. */
export const FLAGS_WORKLOAD = 'command line (--volume/--every)';

function workloadsFromFlags(f: PlanFlags): Workload[] {
  if (!f.volume) throw new UsageError('--volume is required without a config file', { hint: 'e.g. --volume 40TB --every 1d --window 8h' });
  const everyMs = parsed('every', f.every ?? '1d', parseDuration);
  return [
    {
      name: FLAGS_WORKLOAD,
      volumeBytes: parsed('volume', f.volume, parseSizeWithUnit),
      everyMs,
      ...(f.window ? { windowMs: parsed('window', f.window, parseDuration) } : {}),
      ...(f.seed ? { seedBytes: parsed('seed', f.seed, parseSizeWithUnit) } : {}),
      source: 'flags',
    },
  ];
}

const percent = (share: number): string => `${Math.round(share * 100)}%`;

/** "19%", "93% (above 70%)", "over capacity: needs 7.41× the link": never a bare 741%. */
export function formatUtilization(o: OptionTiming, warnAbove: number): string {
  switch (o.utilization) {
    case 'over-capacity':
      return `over capacity: needs ${formatFactor(o.averageUtilization)} the link`;
    case 'warning':
      return `${percent(o.averageUtilization)} (above ${percent(warnAbove)})`;
    default:
      return percent(o.averageUtilization);
  }
}

/** "7.41×", "18.5×": three significant figures, like the rates. */
function formatFactor(x: number): string {
  return `${x >= 1000 ? x.toFixed(0) : Number(x.toPrecision(3))}\u00d7`;
}

/** What the utilization column means for the options a workload overloads. */
function utilizationAdvice(w: WorkloadPlan, warnAbove: number): string[] {
  const names = (state: OptionTiming['utilization']): string[] => w.options.filter((o) => o.utilization === state).map((o) => o.option);
  const out: string[] = [];
  const over = names('over-capacity');
  if (over.length) {
    out.push(
      `over capacity on ${over.join('; ')}: ${formatBytesDecimal(w.volumeBytes)} every ${formatDays(w.everyMs)} is more than the link carries even running without a break, ` +
        'so the backlog grows with every sync: choose a faster option or several links, or move less per sync',
    );
  }
  const high = names('warning');
  if (high.length) {
    out.push(`above ${percent(warnAbove)} on ${high.join('; ')}: the link monitor would warn; leave room by planning the next size up`);
  }
  return out;
}

export function formatPlan(p: BandwidthPlan): string {
  const out: string[] = ['Bandwidth plan (TB = 10^12 bytes, TiB = 2^40 bytes, Gbps = 10^9 bit/s)', ''];
  out.push(
    formatTable([
      ['workload', 'volume', 'every', 'window', 'required', 'average', 'from'],
      ...p.workloads.map((w) => [
        w.name,
        formatBytesDecimal(w.volumeBytes),
        formatDays(w.everyMs),
        formatDays(w.windowMs),
        formatBitRate(w.requiredBitsPerSecond),
        formatBitRate(w.averageBitsPerSecond),
        w.source === 'flags' ? 'command line' : (w.source ?? ''),
      ]),
    ]),
  );
  out.push('');
  out.push(`peak:        ${formatBitRate(p.peakBitsPerSecond)} (all windows coinciding)`);
  out.push(`average:     ${formatBitRate(p.averageBitsPerSecond)}`);
  out.push(`recommended: ${formatBitRate(p.recommendedBitsPerSecond)} link (peak + ${Math.round(p.headroom * 100)}% headroom)`);
  out.push(`options:     ${p.recommendedOptions.length ? p.recommendedOptions.join('; ') : 'none of the listed options carries it: use several links'}`);
  out.push(`monitor:     upgrade before utilization stays above ${percent(p.utilizationWarning)}`);
  for (const w of p.workloads) {
    out.push('', `${w.name}: time per sync on each option`);
    const seed = w.options.some((o) => o.seedMs !== undefined);
    out.push(
      formatTable([
        ['option', 'one sync', 'fits window', 'avg utilization', ...(seed ? ['seed'] : [])],
        ...w.options.map((o) => [
          o.option,
          formatDays(o.syncMs),
          o.fitsWindow ? 'yes' : 'no',
          formatUtilization(o, p.utilizationWarning),
          ...(seed ? [formatDays(o.seedMs ?? NaN)] : []),
        ]),
      ]),
    );
    out.push(...utilizationAdvice(w, p.utilizationWarning));
    if (w.seed) out.push(`seed ${formatBytesDecimal(w.seed.bytes)}: ${w.seed.advice}`);
  }
  return out.join('\n');
}

export function planCommand(): Command {
  const plan = new Command('plan').description('capacity planning');
  plan
    .command('bandwidth')
    .description('required throughput, link size with headroom, sync times per connectivity option, seeding advice')
    .option('--volume <size>', 'bytes per sync, with a unit: 40TB (TB = 10^12 bytes), 40TiB, 512GB')
    .option('--every <duration>', 'time between syncs, e.g. 1d', undefined)
    .option('--window <duration>', 'time each sync may take, e.g. 8h (default: the whole interval)')
    .option('--seed <size>', 'size of the initial copy, with a unit, e.g. 2PB')
    .option('--headroom <pct>', 'capacity over the peak', '30%')
    .option('--seed-threshold <duration>', 'advise physical transfer when a seed takes longer', '7d')
    .option('--link <rate>', 'judge the seed against this link (e.g. 10Gbps) instead of the recommended size')
    .option('--config <file>', 'plan for the jobs in this config file (when --volume is not given)')
    .option('--state <file>', 'state database with the job history')
    .option('--json', 'the plan as one JSON object')
    .action(async (f: PlanFlags) => {
      try {
        const workloads = f.volume ? workloadsFromFlags(f) : await workloadsFromJobs(f.config, f.state);
        const p = planBandwidth(workloads, {
          headroom: parsed('headroom', f.headroom, parseHeadroom),
          seedThresholdMs: parsed('seed-threshold', f.seedThreshold, parseDuration),
          ...(f.link ? { linkBitsPerSecond: parsed('link', f.link, parseBitRate) } : {}),
        });
        process.stdout.write(f.json ? `${JSON.stringify(p)}\n` : `${formatPlan(p)}\n`);
        process.exitCode = EXIT.ok;
      } catch (err) {
        process.exitCode = reportError(err instanceof RangeError ? new UsageError(err.message) : err, f.json);
      }
    });
  return plan;
}
