/**
 * Human and machine output for runs. `--json`: one NDJSON event per line on stdout.
 * Otherwise: a progress bar on a TTY (stderr), periodic stats lines when not a TTY,
 * errors and dry-run plans as they happen, and a final summary.
 */
import cliProgress from 'cli-progress';
import { EVENT_VERSION, type RunSummary, type SyncEvent } from '../sync/events.js';
import type { Stats } from '../sync/stats.js';
import { formatBytes, formatDuration } from '../lib/units.js';

let stdoutOpen = true;

/**
 * A reader that goes away (`| head`, a closed pipe) ends the output, never the command:
 * the EPIPE that Node reports as an 'error' event on process.stdout or stderr (unhandled,
 * it kills the process mid-run) is absorbed here, once for every writer — the Reporter, ls,
 * every other command — and later writes go nowhere. A sync runs on to its end and its
 * usual exit code. main.ts installs it before any command runs.
 */
export function survivePipeClose(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      if (stream === process.stdout) stdoutOpen = false;
    });
  }
}

/** False once stdout's reader has gone away: a command that only prints can stop. */
export function stdoutIsOpen(): boolean {
  return stdoutOpen;
}

export interface OutputOptions {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly progress: boolean;
  /** Interval of stats lines when stderr is not a TTY. */
  readonly statsIntervalMs: number;
  readonly out?: NodeJS.WritableStream;
  readonly err?: NodeJS.WritableStream & { isTTY?: boolean };
}

export class Reporter {
  /** Files a transform (PII scrub) changed on the way, for the summary. */
  private scrubbed = 0;
  private bar: cliProgress.SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream & { isTTY?: boolean };

  constructor(private readonly o: OutputOptions) {
    this.out = o.out ?? process.stdout;
    this.err = o.err ?? process.stderr;
  }

  /** Starts live progress for a run's stats. */
  start(stats: Stats): void {
    if (this.o.json || !this.o.progress) return;
    if (this.err.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.err,
          format: '{bar} {pct} | {done}/{planned} | {files}/{filesPlanned} files | {speed}/s | ETA {eta}',
          hideCursor: true,
          noTTYOutput: false,
          clearOnComplete: true,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(1, 0, this.payload(stats));
      this.timer = setInterval(() => {
        this.bar?.setTotal(Math.max(1, stats.bytesPlanned));
        this.bar?.update(stats.bytesDone, this.payload(stats));
      }, 200);
    } else {
      this.timer = setInterval(() => this.err.write(`${this.statsLine(stats)}\n`), this.o.statsIntervalMs);
    }
    this.timer.unref();
  }

  private payload(stats: Stats): Record<string, string | number> {
    const pct = stats.bytesPlanned > 0 ? Math.floor((stats.bytesDone * 100) / stats.bytesPlanned) : 0;
    return {
      pct: `${pct}%`,
      done: formatBytes(stats.bytesDone),
      planned: formatBytes(stats.bytesPlanned),
      files: stats.filesDone,
      filesPlanned: stats.filesPlanned,
      speed: formatBytes(stats.speed()),
      eta: formatDuration(stats.etaMs()),
    };
  }

  statsLine(stats: Stats): string {
    const s = stats.snapshot();
    return (
      `progress: ${formatBytes(s.bytesDone)} / ${formatBytes(s.bytesPlanned)}, ${s.filesDone}/${s.filesPlanned} files, ` +
      `${s.checks} checked, ${s.failed} failed, ${formatBytes(s.speed)}/s, ETA ${formatDuration(s.etaMs)}, elapsed ${formatDuration(s.elapsedMs)}`
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.bar?.stop();
    this.bar = undefined;
  }

  private line(stream: NodeJS.WritableStream, text: string): void {
    if (this.bar) this.err.write('\r\x1b[K');
    stream.write(`${text}\n`);
  }

  event(e: SyncEvent): void {
    if (this.o.json) {
      if (e.type === 'skip' && !this.o.verbose) return;
      this.out.write(`${JSON.stringify({ v: EVENT_VERSION, time: new Date().toISOString(), ...e })}\n`);
      return;
    }
    switch (e.type) {
      case 'plan':
        this.line(this.out, e.action === 'transfer' ? `would copy ${e.key} (${formatBytes(e.size ?? 0)}, ${e.reason})` : `would delete ${e.key}`);
        break;
      case 'differ':
        this.line(this.out, `${e.reason}: ${e.key}`);
        break;
      case 'error':
        this.line(this.err, `ERROR ${e.key ? `${e.key}: ` : ''}${e.message}${e.hint && !e.message.includes(e.hint) ? ` (${e.hint})` : ''}`);
        break;
      case 'notice':
        this.line(this.err, `NOTICE ${e.message}`);
        break;
      case 'transfer':
        if (e.transforms?.length) this.scrubbed++;
        if (this.o.verbose) this.line(this.err, `copied ${e.key} (${formatBytes(e.size)}${e.method === 'server-copy' ? ', server-side' : ''})${transformsText(e.transforms)}`);
        break;
      case 'delete':
        if (this.o.verbose) this.line(this.err, `deleted ${e.key}`);
        break;
      case 'retry':
        if (this.o.verbose) this.line(this.err, `retry ${e.attempt} ${e.what}${e.key ? ` ${e.key}` : ''}: ${e.message}`);
        break;
      case 'unverified':
        if (this.o.verbose) this.line(this.err, `unverified ${e.key}: ${e.reason}`);
        break;
      case 'restore':
        if (e.status === 'requested') this.line(this.err, `restore requested: ${e.key} (${e.storageClass}${e.rehydrateTo ? `, rehydrating to ${e.rehydrateTo}` : `, ${e.days} days`}, ${e.priority} priority)`);
        else if (this.o.verbose) this.line(this.err, e.status === 'ready' ? `restored: ${e.key}` : `restore in progress: ${e.key} (${e.storageClass})`);
        break;
      case 'restore-pending':
        this.line(this.err, `RESTORE PENDING ${e.key}: ${e.message}`);
        break;
      case 'skip':
        if (this.o.verbose) this.line(this.err, e.reason === 'derived' ? `unchanged ${e.key} (a transform of this source version)` : `unchanged ${e.key}`);
        break;
      case 'summary':
        this.stop();
        this.line(this.err, formatSummary(e.summary) + (this.scrubbed ? `\n  scrubbed:     ${this.scrubbed} ${this.scrubbed === 1 ? 'file' : 'files'} had PII replaced on the way` : ''));
        break;
      default:
        break;
    }
  }
}

/** `; scrubbed: 12 email, 3 phone` for a transfer whose bytes a transform changed. */
function transformsText(ts: ReadonlyArray<{ name: string; report: Record<string, unknown> }> | undefined): string {
  if (!ts?.length) return '';
  const parts = ts.map((t) => {
    const counts = (t.report.counts ?? {}) as Record<string, number>;
    const found = Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
    return t.name === 'pii-scrub' ? `scrubbed: ${found.length ? found.join(', ') : 'nothing found'}` : t.name;
  });
  return `; ${parts.join('; ')}`;
}

export function formatSummary(s: RunSummary): string {
  const verb = s.dryRun ? 'would transfer' : s.mode === 'check' ? 'checked' : 'transferred';
  const lines = [
    `${s.mode}${s.dryRun ? ' (dry run)' : ''}: ${s.src} -> ${s.dst}: ${s.status}`,
    s.mode === 'check'
      ? `  checked:      ${s.checks} ${s.checks === 1 ? 'file' : 'files'}, ${s.differences} ${s.differences === 1 ? 'difference' : 'differences'}`
      : `  ${`${verb}:`.padEnd(13)} ${s.transferred} ${s.transferred === 1 ? 'file' : 'files'}, ${formatBytes(s.bytes)}${s.serverSideCopies ? ` (${s.serverSideCopies} server-side)` : ''}${s.bytesResumed ? `, ${formatBytes(s.bytesResumed)} resumed` : ''}`,
    `${s.mode === 'check' ? `  identical:    ${s.skipped}` : `  skipped:      ${s.skipped} unchanged`}${s.derived ? ` (${s.derived} of them transforms of their source, e.g. PII-scrubbed: compared with the source version they were made from)` : ''}`,
    ...(s.mode === 'check' ? [] : [`  ${(s.dryRun ? 'would delete:' : 'deleted:').padEnd(13)} ${s.deleted}${s.deletesHeldBack ? ` (${s.deletesHeldBack} held back)` : ''}`]),
    `  failed:       ${s.failed}${s.denied ? `, denied by policy: ${s.denied}${s.deniedKnown === s.denied ? (s.mode === 'check' ? ' (absent, as the policy requires)' : ' (all known and unchanged since an earlier run)') : s.deniedKnown ? ` (${s.denied - s.deniedKnown} new)` : ''}` : ''}`,
    `  duration:     ${formatDuration(s.durationMs)}${s.dryRun || s.mode === 'check' ? '' : `, ${formatBytes(s.rate)}/s`}${s.retries ? `, ${s.retries} retries` : ''}`,
  ];
  if (s.restorePending) {
    lines.push(
      `  restoring:    ${s.restorePending} ${s.restorePending === 1 ? 'file awaits' : 'files await'} a restore from an archive tier (${s.restoresRequested ?? 0} requested by this run): rerun the same command after it completes to copy ${s.restorePending === 1 ? 'it' : 'them'} (exit code 5)`,
    );
  }
  if (s.status === 'aborted') lines.push('  interrupted: rerun the same command to resume (finished files are not sent again, large uploads continue from their last chunk)');
  return lines.join('\n');
}
