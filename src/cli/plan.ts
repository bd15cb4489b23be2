/** `hybridsync plan bandwidth`: size the interconnect for the syncs you run. */
import { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { parseDuration, parseSize } from '../lib/units.js';
import { formatBitRate, formatBytesDecimal, formatDays, formatTable } from '../ops/format.js';
import {
  parseBitRate,
  planBandwidth,
  type BandwidthPlan,
  type Workload,
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

function workloadsFromFlags(f: PlanFlags): Workload[] {
  if (!f.volume) throw new UsageError('--volume is required without a config file', { hint: 'e.g. --volume 40TB --every 1d --window 8h' });
  const everyMs = parsed('every', f.every ?? '1d', parseDuration);
  return [
    {
      name: 'flags',
      volumeBytes: parsed('volume', f.volume, (s) => parseSize(s)),
      everyMs,
      ...(f.window ? { windowMs: parsed('window', f.window, parseDuration) } : {}),
      ...(f.seed ? { seedBytes: parsed('seed', f.seed, (s) => parseSize(s)) } : {}),
      source: 'flags',
    },
  ];
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
        w.source ?? '',
      ]),
    ]),
  );
  out.push('');
  out.push(`peak:        ${formatBitRate(p.peakBitsPerSecond)} (all windows coinciding)`);
  out.push(`average:     ${formatBitRate(p.averageBitsPerSecond)}`);
  out.push(`recommended: ${formatBitRate(p.recommendedBitsPerSecond)} link (peak + ${Math.round(p.headroom * 100)}% headroom)`);
  out.push(`options:     ${p.recommendedOptions.length ? p.recommendedOptions.join('; ') : 'none of the listed options carries it: use several links'}`);
  out.push(`monitor:     upgrade before utilization stays above ${Math.round(p.utilizationWarning * 100)}%`);
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
          `${(o.averageUtilization * 100).toFixed(0)}%`,
          ...(seed ? [formatDays(o.seedMs ?? NaN)] : []),
        ]),
      ]),
    );
    if (w.seed) out.push(`seed ${formatBytesDecimal(w.seed.bytes)}: ${w.seed.advice}`);
  }
  return out.join('\n');
}

export function planCommand(): Command {
  const plan = new Command('plan').description('capacity planning');
  plan
    .command('bandwidth')
    .description('required throughput, link size with headroom, sync times per connectivity option, seeding advice')
    .option('--volume <size>', 'bytes per sync, e.g. 40TB (TB = 10^12 bytes)')
    .option('--every <duration>', 'time between syncs, e.g. 1d', undefined)
    .option('--window <duration>', 'time each sync may take, e.g. 8h (default: the whole interval)')
    .option('--seed <size>', 'size of the initial copy, e.g. 2PB')
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
