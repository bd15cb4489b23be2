/** `hybridsync bisync PATH1 PATH2`: flags → library request, printing, exit code. */
import { Command, Option } from 'commander';
import { prepareBisync, type BisyncEvent, type BisyncSummary } from '../api/bisync.js';
import { runBisync } from '../bisync/run.js';
import { watchBisync } from '../bisync/watch.js';
import { BISYNC_FLAGS } from '../config/bisync.js';
import { EVENT_VERSION } from '../sync/events.js';
import { formatBytes, formatDuration } from '../lib/units.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';
import { connectionOf, transferOptionsOf, addTransferOptions, type TransferFlags } from './transfer-options.js';

type BisyncFlags = TransferFlags & { conflict?: string; maxConflicts?: string; checkAccess?: boolean; merge?: string[]; watch?: boolean; pollInterval?: string };

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function bisyncCommand(): Command {
  const cmd = new Command('bisync')
    .description('two-way sync: changes on either side since the last run propagate, deletes too; files changed on both sides are conflicts (both versions kept by default)')
    .argument('<path1>', 'one side: local path, REMOTE:bucket/prefix, s3://bucket/prefix, az://container/prefix')
    .argument('<path2>', 'the other side');
  for (const f of BISYNC_FLAGS) {
    const o = new Option(f.flag, f.help);
    if (f.repeatable) o.argParser(collect);
    cmd.addOption(o);
  }
  return addTransferOptions(cmd, 'bisync').action(async (path1: string, path2: string, flags: BisyncFlags) => {
    process.exitCode = await runBisyncCommand(path1, path2, flags);
  });
}

export function exitCodeForBisync(s: BisyncSummary): number {
  if (s.status === 'aborted') return EXIT.interrupted;
  if (s.failed > 0 || s.status === 'refused' || s.status === 'failed') return EXIT.partial;
  if (s.status === 'denied') return EXIT.policy; // known, unchanged denials alone: 0
  return EXIT.ok;
}

async function runBisyncCommand(path1: string, path2: string, flags: BisyncFlags): Promise<number> {
  const print = printer(flags);
  const bisync = {
    ...(flags.conflict ? { conflict: flags.conflict } : {}),
    ...(flags.maxConflicts !== undefined ? { maxConflicts: flags.maxConflicts } : {}),
    ...(flags.checkAccess ? { checkAccess: true } : {}),
    ...(flags.merge ? { merge: flags.merge } : {}),
    ...(flags.pollInterval ? { pollInterval: flags.pollInterval } : {}),
  };
  const req = {
    options: transferOptionsOf(flags),
    bisync,
    ...connectionOf(flags),
    ...(flags.config ? { config: flags.config } : {}),
    ...(flags.state ? { statePath: flags.state } : {}),
    json: !!flags.json,
    onEvent: print,
    signal: processSignal,
  };
  try {
    if (flags.watch) {
      const last = await watchBisync(path1, path2, { ...req, onEvent: print });
      return last ? exitCodeForBisync(last) === EXIT.interrupted ? EXIT.ok : exitCodeForBisync(last) : EXIT.ok;
    }
    const p = await prepareBisync(path1, path2, req);
    try {
      return exitCodeForBisync(await runBisync(p.run));
    } finally {
      await p.close();
    }
  } catch (err) {
    return reportError(err, flags.json);
  }
}

/** NDJSON events with --json; otherwise conflicts, errors and the summary (every action with -v). */
function printer(flags: BisyncFlags): (e: BisyncEvent) => void {
  const out = process.stdout;
  const err = process.stderr;
  if (flags.json) return (e) => void out.write(`${JSON.stringify({ v: EVENT_VERSION, time: new Date().toISOString(), ...e })}\n`);
  const v = !!flags.verbose;
  return (e) => {
    switch (e.type) {
      case 'bisync-plan':
        out.write(`would ${e.action} ${e.key}${e.to ? ` to ${e.to}` : ''}${e.on ? ` on ${e.on}` : ''}${e.from ? ` (from ${e.from})` : ''}${e.reason ? ` (${e.reason})` : ''}\n`);
        break;
      case 'conflict':
        err.write(`conflict ${e.key}: ${e.merged ? `merged (${e.merged})` : `${e.winner} wins (${e.policy})`}${e.keptAs ? `, other version kept as ${e.keptAs}` : ''}\n`);
        break;
      case 'rename':
        if (v) err.write(`renamed ${e.from} -> ${e.key}\n`);
        break;
      case 'transfer':
        if (v) err.write(`copied ${e.key} (${formatBytes(e.size)})\n`);
        break;
      case 'delete':
        if (v) err.write(`deleted ${e.key}\n`);
        break;
      case 'denied':
        err.write(`denied ${e.key}: ${e.classification} (${e.reason})${e.knownSince ? `; known since ${e.knownSince.slice(0, 10)}` : ''}\n`);
        break;
      case 'error':
        err.write(`ERROR ${e.key ? `${e.key}: ` : ''}${e.message}${e.hint ? ` (${e.hint})` : ''}\n`);
        break;
      case 'notice':
        err.write(`NOTICE ${e.message}\n`);
        break;
      case 'bisync-summary':
        err.write(`${formatBisyncSummary(e.summary)}\n`);
        break;
      default:
        break;
    }
  };
}

export function formatBisyncSummary(s: BisyncSummary): string {
  const w = s.dryRun ? 'would ' : '';
  return [
    `bisync${s.dryRun ? ' (dry run)' : ''}: ${s.path1} <-> ${s.path2}: ${s.status}`,
    `  ${w}copy:   ${s.copiedTo2} to path2, ${s.copiedTo1} to path1, ${formatBytes(s.bytes)}${s.serverSideCopies ? ` (${s.serverSideCopies} server-side)` : ''}`,
    `  ${w}delete: ${s.deletedOn2} on path2, ${s.deletedOn1} on path1`,
    `  renamed:   ${s.renamed}`,
    `  conflicts: ${s.conflicts}${s.merged ? ` (${s.merged} merged)` : ''}`,
    `  unchanged: ${s.unchanged}`,
    `  failed:    ${s.failed}${s.denied ? `, denied by policy: ${s.denied}` : ''}`,
    `  duration:  ${formatDuration(s.durationMs)}`,
  ].join('\n');
}
