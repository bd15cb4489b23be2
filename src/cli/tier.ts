/** `hybridsync tier apply`: move cold objects to archive classes by the tier rules of hybridsync.yaml. */
import { Command } from 'commander';
import { applyTiering, type TierEvent, type TierSummary } from '../api/tier.js';
import { UsageError } from '../core/errors.js';
import { formatBytes, formatDuration } from '../lib/units.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';
import { EVENT_VERSION } from '../sync/events.js';
import { addConnectionOptions, connectionOf, type ConnectionFlags } from './transfer-options.js';

interface TierFlags extends ConnectionFlags {
  config?: string;
  state?: string;
  rule?: string[];
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
  concurrency?: string;
  retries?: string;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

const KEEP_TEXT: Record<string, string> = {
  'no-rule': 'no rule covers it',
  'already-colder': 'already in that class or colder',
  archived: 'in an archive class (moving it on needs a restore)',
  'too-young': 'modified too recently',
  'recently-accessed': 'read through the gateway too recently',
  'unknown-class': 'in a class hybridsync does not know',
};

/** How tier events are printed: NDJSON (tier-keep with -v only), or one human line per event. */
export function tierEventPrinter(o: { json?: boolean; verbose?: boolean }): (e: TierEvent) => void {
  return (e) => {
    if (!o.json) return printEvent(e, !!o.verbose);
    if (e.type === 'tier-keep' && !o.verbose) return;
    process.stdout.write(`${JSON.stringify({ v: EVENT_VERSION, time: new Date().toISOString(), ...e })}\n`);
  };
}

/** One human line per event (stdout: the plan and the moves; stderr: errors, kept objects with -v). */
function printEvent(e: TierEvent, verbose: boolean): void {
  switch (e.type) {
    case 'tier-plan':
      process.stdout.write(`would move ${e.location.replace(/\/*$/, '/')}${e.key} (${formatBytes(e.size)}) ${e.from} -> ${e.to}  [rule ${e.rule}]\n`);
      break;
    case 'tier':
      if (verbose) process.stdout.write(`moved ${e.location.replace(/\/*$/, '/')}${e.key} (${formatBytes(e.size)}) ${e.from} -> ${e.to}  [rule ${e.rule}]\n`);
      break;
    case 'tier-keep':
      if (verbose) process.stderr.write(`kept ${e.key} in ${e.storageClass}: ${KEEP_TEXT[e.reason] ?? e.reason}${e.rule ? ` [rule ${e.rule}]` : ''}\n`);
      break;
    case 'error':
      process.stderr.write(`ERROR ${e.key ?? ''}${e.key ? ': ' : ''}${e.message}${e.hint && !e.message.includes(e.hint) ? ` (${e.hint})` : ''}\n`);
      break;
    case 'retry':
      if (verbose) process.stderr.write(`retry ${e.attempt} ${e.what} ${e.key ?? ''}: ${e.message}\n`);
      break;
    case 'tier-summary':
      process.stderr.write(`${formatTierSummary(e.summary)}\n`);
      break;
    default:
      break;
  }
}

export function formatTierSummary(s: TierSummary): string {
  const classes = Object.entries(s.byClass)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([c, v]) => `${v.objects} to ${c} (${formatBytes(v.bytes)})`);
  return [
    `tier apply${s.dryRun ? ' (dry run)' : ''}: ${s.status}`,
    `  ${s.dryRun ? 'would move:' : 'moved:     '}   ${s.transitioned} ${s.transitioned === 1 ? 'object' : 'objects'}, ${formatBytes(s.bytes)}${classes.length ? `: ${classes.join(', ')}` : ''}`,
    `  kept:         ${s.kept} of ${s.objects} listed`,
    `  failed:       ${s.failed}`,
    `  duration:     ${formatDuration(s.durationMs)}`,
  ].join('\n');
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be an integer >= 1, got "${v}"`);
  return n;
}

export function tierCommand(): Command {
  const tier = new Command('tier').description('tiering: move cold objects to archive storage classes (S3) or access tiers (Azure) by the rules in hybridsync.yaml');
  const apply = new Command('apply')
    .description('apply the tier: rules of hybridsync.yaml (every rule, or those named with --rule); --dry-run shows the plan')
    .option('--config <file>', 'hybridsync.yaml with the tier: section (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml)')
    .option('--rule <name>', 'apply only this rule (repeatable)', collect)
    .option('--dry-run', 'print what would move, change nothing')
    .option('--json', 'NDJSON events on stdout (tier-plan, tier, error, tier-summary; tier-keep with -v)')
    .option('-v, --verbose', 'print every object moved and every object kept, with the reason')
    .option('--concurrency <n>', 'objects decided and moved at once', '16')
    .option('--retries <n>', 'attempts of each request for retryable errors', '3')
    .option('--state <file>', 'state database (its knowledge of moved objects is kept current)');
  addConnectionOptions(apply).action(async (f: TierFlags) => {
    try {
      const summary = await applyTiering({
        ...(f.config ? { config: f.config } : {}),
        ...(f.rule ? { rules: f.rule } : {}),
        dryRun: !!f.dryRun,
        concurrency: positiveInt('--concurrency', f.concurrency) ?? 16,
        retries: positiveInt('--retries', f.retries) ?? 3,
        ...(f.state ? { statePath: f.state } : {}),
        ...connectionOf(f),
        signal: processSignal,
        onEvent: tierEventPrinter(f),
      });
      process.exitCode = summary.status === 'aborted' ? EXIT.interrupted : summary.failed > 0 ? EXIT.partial : EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
  tier.addCommand(apply);
  return tier;
}
