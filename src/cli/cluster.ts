/** `hybridsync cluster run|worker|status`: flags and printing; the logic is in api/cluster.ts. */
import { Command } from 'commander';
import type { ClusterProgress } from '../api/cluster.js';
import type { Lane } from '../ops/governor.js';
import { UsageError } from '../core/errors.js';
import { formatBytes, formatDuration, parseDuration } from '../lib/units.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';
import { addConnectionOptions, addTransferOptions, connectionOf, transferOptionsOf, type ConnectionFlags, type TransferFlags } from './transfer-options.js';

/** Loaded when a cluster command runs: BullMQ is not every command's startup cost. */
const api = () => import('../api/cluster.js');

const REDIS_HELP = 'Redis URL, e.g. redis://10.0.0.5:6379 (rediss:// for TLS)';

function ndjson(type: string, o: object): void {
  process.stdout.write(`${JSON.stringify({ v: 1, time: new Date().toISOString(), type, ...o })}\n`);
}

function progressLine(p: ClusterProgress): string {
  const ranges = p.ranges > 1 ? ` in ${p.ranges} key ranges` : '';
  const listing = p.status === 'listing' ? `listing${ranges}` : `listed ${p.listed.srcFiles} source files (${formatBytes(p.listed.srcBytes)})${ranges}`;
  const del = p.mode === 'sync' ? `, deletions ${p.deleted}/${p.deletesDue}` : '';
  const lane = p.link ? ` (lane ${p.lane} on link ${p.link.name})` : p.lane !== 'bulk' ? ` (lane ${p.lane})` : '';
  return `[cluster ${p.runId}]${lane} ${p.status}: ${listing}; shards ${p.shardsDone}/${p.shards}; ${p.transferred} transferred (${formatBytes(p.bytes)}), ${p.skipped} unchanged, ${p.failed} failed${del}; workers ${p.workers.length}${p.failedShards ? `; ${p.failedShards} shard(s) failing` : ''}`;
}

/** 0 done, 1 failed (files or the barrier), 3 new denials, 130 cancelled. */
function exitCodeOf(p: ClusterProgress): number {
  if (p.status === 'cancelled') return EXIT.interrupted;
  if (p.status !== 'done' || p.failed > 0) return EXIT.partial;
  return p.denied > 0 ? EXIT.policy : EXIT.ok;
}

function printOutcome(p: ClusterProgress, json: boolean): void {
  if (json) return ndjson('cluster-summary', { progress: p });
  const took = p.endedAt ? ` in ${formatDuration(p.endedAt - p.createdAt)}` : '';
  process.stderr.write(`${progressLine(p)}${took}\n`);
  if (p.audit) {
    const who = p.audit.workers.map((w) => `${w.worker} ${w.verified ? 'verified' : 'NOT verified'}`).join(', ');
    process.stderr.write(`audit: ${p.audit.records} worker record(s) merged into the coordinator's trail${who ? ` (${who})` : ''}\n`);
  }
  if (p.message) process.stderr.write(`hybridsync: ${p.message}\n${p.hint ? `  fix: ${p.hint}\n` : ''}`);
}

type RunFlags = TransferFlags & { redis: string; copy?: boolean; shardFiles: string; shardSize: string; listParallel: string; runId?: string; link?: string; lane: string };

function runCommand(): Command {
  const cmd = new Command('run')
    .description('coordinate a sync over cluster workers: list both sides, enqueue key-range shards on Redis, delete only after every shard succeeded')
    .argument('<src>', 'source location')
    .argument('<dst>', 'destination location')
    .requiredOption('--redis <url>', REDIS_HELP)
    .option('--copy', 'copy only: never delete at the destination')
    .option('--shard-files <n>', 'cut a shard at this many files', '5000')
    .option('--shard-size <size>', 'or at this many bytes', '8G')
    .option('--list-parallel <n>', 'key ranges of both sides listed at once, split at the directories a delimiter listing shows (S3); for stores far away', '1')
    .option('--run-id <id>', 'name of the run in Redis (default: time + random)')
    .option('--link <name>', "a link of the config's links: whose capacity this run shares, through Redis, with every cluster run on it")
    .option('--lane <lane>', 'priority lane: metadata, artifacts or bulk (its share of the link, and its own queue of shards)', 'bulk');
  return addTransferOptions(cmd, 'sync').action(async (src: string, dst: string, f: RunFlags) => {
    let last = '';
    let lastAt = 0;
    const statsMs = parseDuration(f.stats ?? '5s');
    try {
      const { clusterRun } = await api();
      const p = await clusterRun({
        src,
        dst,
        redis: f.redis,
        mode: f.copy ? 'copy' : 'sync',
        options: transferOptionsOf(f),
        shardFiles: Number(f.shardFiles),
        shardBytes: f.shardSize,
        listParallel: Number(f.listParallel),
        ...(f.runId ? { runId: f.runId } : {}),
        ...(f.link ? { link: f.link } : {}),
        lane: f.lane as Lane,
        ...connectionOf(f),
        ...(f.config ? { config: f.config } : {}),
        ...(f.state ? { statePath: f.state } : {}),
        json: !!f.json,
        signal: processSignal,
        onProgress: (p) => {
          const line = progressLine(p);
          if (line === last || (Date.now() - lastAt < statsMs && !f.json && p.status === 'running')) return;
          last = line;
          lastAt = Date.now();
          if (f.json) ndjson('cluster-progress', { progress: p });
          else if (f.progress !== false) process.stderr.write(`${line}\n`);
        },
      });
      printOutcome(p, !!f.json);
      process.exitCode = exitCodeOf(p);
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
}

type WorkerFlags = ConnectionFlags & { redis: string; name?: string; concurrency: string; lockDuration: string; state?: string; config?: string; json?: boolean; verbose?: boolean };

function workerCommand(): Command {
  const cmd = new Command('worker')
    .description('take shards of cluster runs from Redis and run them with the engine (verification, governance, audit) until SIGINT/SIGTERM')
    .requiredOption('--redis <url>', REDIS_HELP)
    .option('--name <name>', 'worker name in progress and results (default host:pid)')
    .option('--concurrency <n>', 'shards at once per lane (each runs --transfers files in parallel)', '1')
    .option('--lock-duration <duration>', "a dead worker's shard goes to another worker after about this long", '30s')
    .option('--state <file>', 'state database of this worker (its audit trail lives beside it)')
    .option('--config <file>', "this worker's hybridsync.yaml: remotes, credentials, policy, audit")
    .option('--json', 'NDJSON shard events (and file events with --verbose) on stdout')
    .option('-v, --verbose', 'print every file event');
  return addConnectionOptions(cmd).action(async (f: WorkerFlags) => {
    try {
      const concurrency = Number(f.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number >= 1, got "${f.concurrency}"`);
      let lockDurationMs: number;
      try {
        lockDurationMs = parseDuration(f.lockDuration);
      } catch (e) {
        throw new UsageError(`--lock-duration: ${(e as Error).message}`, { hint: 'use forms like 30s or 2m' });
      }
      const { clusterWorker } = await api();
      await clusterWorker({
        redis: f.redis,
        ...(f.name ? { name: f.name } : {}),
        concurrency,
        lockDurationMs,
        ...connectionOf(f),
        ...(f.config ? { config: f.config } : {}),
        ...(f.state ? { statePath: f.state } : {}),
        json: !!f.json,
        signal: processSignal,
        ...(f.verbose ? { onRunEvent: (runId, e) => (f.json ? ndjson('event', { runId, event: e }) : process.stderr.write(`[${runId}] ${JSON.stringify(e)}\n`)) } : {}),
        onShard: (what, shard, detail) => {
          if (f.json) return ndjson(`shard-${what}`, { runId: shard.runId, shard: shard.index, ...(typeof detail === 'object' ? { result: detail } : detail ? { message: detail } : {}) });
          const d = typeof detail === 'object' ? `: ${detail.transferred} transferred (${formatBytes(detail.bytes)}), ${detail.skipped} unchanged` : detail ? `: ${detail}` : '';
          process.stderr.write(`[worker] run ${shard.runId} shard ${shard.index} ${what}${d}\n`);
        },
      });
      process.exitCode = EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
}

function statusCommand(): Command {
  return new Command('status')
    .description('progress of a cluster run (default: the latest on this Redis)')
    .argument('[run]', 'run id')
    .requiredOption('--redis <url>', REDIS_HELP)
    .option('--json', 'the progress as one JSON object')
    .action(async (run: string | undefined, f: { redis: string; json?: boolean }) => {
      try {
        const { clusterStatus } = await api();
        const p = await clusterStatus({ redis: f.redis, ...(run ? { runId: run } : {}) });
        if (!p) throw new UsageError(run ? `no cluster run ${run} on this Redis` : 'no cluster runs on this Redis', { hint: 'start one with hybridsync cluster run SRC DST --redis URL' });
        if (f.json) process.stdout.write(`${JSON.stringify(p)}\n`);
        else process.stdout.write(`${progressLine(p)}\n${p.message ? `  ${p.message}\n` : ''}`);
        process.exitCode = EXIT.ok;
      } catch (err) {
        process.exitCode = reportError(err, f.json);
      }
    });
}

export function clusterCommand(): Command {
  const cmd = new Command('cluster').description('scale a sync out over many workers and machines (BullMQ on Redis)');
  for (const c of [runCommand(), workerCommand(), statusCommand()]) cmd.addCommand(c.exitOverride().showHelpAfterError('(run with --help for usage)'));
  return cmd;
}
