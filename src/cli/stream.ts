/**
 * `hybridsync stream push SRC DST`, `stream pull SRC DST`, `stream status`: flags and
 * printing only; the lanes live in api/stream.ts and stream/.
 */
import { Command, Option } from 'commander';
import { streamPull, streamPush, streamStatus, type StreamRequest } from '../api/stream.js';
import { flagOf, STREAM_OPTIONS } from '../config/stream.js';
import { EVENT_VERSION, type SyncEvent } from '../sync/events.js';
import { defaultStatePath } from '../sync/state.js';
import { formatBytes } from '../lib/units.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';
import { addConnectionOptions, connectionOf, type ConnectionFlags } from './transfer-options.js';

type StreamFlags = ConnectionFlags & { json?: boolean; verbose?: boolean; state?: string; config?: string } & Record<string, unknown>;

function addStreamOptions(cmd: Command, which: 'push' | 'pull'): Command {
  for (const spec of STREAM_OPTIONS) {
    if (!spec.commands.includes(which)) continue;
    const o = new Option(`--${flagOf(spec.key)}${spec.arg ? ` <${spec.arg}>` : ''}`, spec.help);
    if (spec.default !== undefined && spec.kind !== 'bool') o.default(String(spec.default));
    cmd.addOption(o);
  }
  cmd
    .option('--json', 'NDJSON events on stdout (one per segment)')
    .option('-v, --verbose', 'print retries too')
    .option('--state <file>', `state database; the stream journal is stream.db beside it (default ${defaultStatePath()})`)
    .option('--config <file>', 'hybridsync.yaml: remotes, environments, classification, policy, audit, tls');
  return addConnectionOptions(cmd);
}

function printer(f: StreamFlags): (e: SyncEvent) => void {
  return (e) => {
    if (f.json) {
      process.stdout.write(`${JSON.stringify({ v: EVENT_VERSION, time: new Date().toISOString(), ...e })}\n`);
      return;
    }
    switch (e.type) {
      case 'stream-start':
        process.stderr.write(`stream ${e.direction} ${e.src} -> ${e.dst} (lane ${e.lane})\n`);
        break;
      case 'segment':
        process.stdout.write(`${e.direction === 'push' ? 'pushed' : 'pulled'} ${e.file} [${e.start}, ${e.end}) -> ${e.key} (${formatBytes(e.bytes)}${e.confirmed ? ', already stored' : ''}${e.transforms?.length ? ', scrubbed' : ''})\n`);
        break;
      case 'denied':
        process.stderr.write(`denied by policy: ${e.key} (${e.classification}: ${e.reason}); not shipped\n`);
        break;
      case 'notice':
        process.stderr.write(`NOTICE ${e.message}\n`);
        break;
      case 'retry':
        if (f.verbose) process.stderr.write(`retry ${e.attempt} ${e.what}: ${e.message}\n`);
        break;
      case 'stream-end':
        process.stderr.write(`stream ${e.direction} ${e.lane}: ${e.status}, ${e.segments} segments, ${formatBytes(e.bytes)}\n`);
        break;
      default:
        break;
    }
  };
}

function requestOf(f: StreamFlags): Omit<StreamRequest, 'src' | 'dst'> {
  const options: Record<string, unknown> = {};
  for (const spec of STREAM_OPTIONS) if (f[spec.key] !== undefined) options[spec.key] = f[spec.key];
  return {
    options,
    ...connectionOf(f),
    ...(f.config ? { config: f.config } : {}),
    ...(f.state ? { statePath: f.state } : {}),
    json: !!f.json,
    onEvent: printer(f),
    signal: processSignal,
  };
}

/** Runs a lane to its end; exit 130 when a signal stopped it, 0 when --once finished. */
async function runLane(run: typeof streamPush, src: string, dst: string, f: StreamFlags): Promise<void> {
  try {
    const s = await run(src, dst, requestOf(f));
    process.exitCode = s.status === 'stopped' ? EXIT.interrupted : EXIT.ok;
  } catch (err) {
    process.exitCode = reportError(err, f.json);
  }
}

export function streamCommand(): Command {
  const cmd = new Command('stream').description('streaming lanes: follow appended files into ordered segment objects, exactly once, and back');
  cmd.addCommand(
    addStreamOptions(
      new Command('push')
        .description('follow local files (a file, a directory or a glob) and ship appended records as ordered segment objects')
        .argument('<src>', 'a local file, directory or glob (quote it)')
        .argument('<dst>', 'REMOTE:bucket/prefix, s3://bucket/prefix or az://container/prefix'),
      'push',
    ).action((src: string, dst: string, f: StreamFlags) => runLane(streamPush, src, dst, f)),
  );
  cmd.addCommand(
    addStreamOptions(
      new Command('pull')
        .description('follow new segment objects (or, with --mode plain, any new objects) under a prefix into local files')
        .argument('<src>', 'REMOTE:bucket/prefix, s3://bucket/prefix or az://container/prefix')
        .argument('<dst>', 'a local directory'),
      'pull',
    ).action((src: string, dst: string, f: StreamFlags) => runLane(streamPull, src, dst, f)),
  );
  cmd.addCommand(
    new Command('status')
      .description('every lane in the stream journal: segments and bytes shipped, lag, last error')
      .option('--json', 'one JSON object per lane')
      .option('--state <file>', `state database (default ${defaultStatePath()})`)
      .action((f: { json?: boolean; state?: string }) => {
        try {
          const lanes = streamStatus(f.state ? { statePath: f.state } : {});
          if (f.json) {
            for (const l of lanes) process.stdout.write(`${JSON.stringify(l)}\n`);
          } else if (lanes.length === 0) {
            process.stderr.write('no stream lanes in the journal\n');
          } else {
            for (const l of lanes) {
              const lag = l.lagBytes > 0 ? `${formatBytes(l.lagBytes)} behind (${Math.round(l.lagSeconds)}s since the last commit)` : 'caught up';
              process.stdout.write(
                `${l.lane}  ${l.direction}  ${l.running ? 'running' : 'idle'}  ${l.src} -> ${l.dst}\n  ${l.segments} segments, ${formatBytes(l.bytes)}; ${l.files} files; ${l.direction === 'push' ? lag : 'lag: see /metrics while it runs'}${l.inFlight ? `; ${l.inFlight} segment(s) journaled, not yet committed${l.running ? ' (in flight)' : ' (the next run stores them first)'}` : ''}${l.lastCommitAt ? `; last commit ${new Date(l.lastCommitAt).toISOString()}` : ''}${l.error ? `\n  last error: ${l.error}` : ''}\n`,
              );
            }
          }
          process.exitCode = EXIT.ok;
        } catch (err) {
          process.exitCode = reportError(err, f.json);
        }
      }),
  );
  return cmd;
}
