/**
 * bench/audit.ts — what the audit trail costs a sync. A 20,000-file local -> local sync,
 * set up exactly as the CLI does it (prepareTransfer: config, governance), each run
 * in a fresh process that times its own sync, with the audit trail on (the default) and
 * off (`audit.enabled: false`), alternating, comparing medians of wall time and of
 * process CPU time (all threads); target: <= 3%. Run-to-run noise on a shared machine can
 * exceed 3%, so the audited runs also time the audit trail itself (recorder and writer,
 * wrapped from outside) as a share of the run. Also times the log writer alone
 * (records/s with hashing, Merkle tree, signed checkpoints).
 * Scale with BENCH_SCALE=0.1 for a quick look, BENCH_REPEAT for more pairs. Not a test.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareTransfer } from '../src/api/transfer.js';
import { AuditLog } from '../src/governance/audit/log.js';
import { AuditRecorder } from '../src/governance/audit/recorder.js';
import { runSync } from '../src/sync/execute.js';
import { loadOrCreateSigner } from '../src/governance/audit/signing.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const REPEAT = Number(process.env.BENCH_REPEAT ?? '3');
const FILES = Math.max(100, Math.round(20_000 * SCALE));
const WORK = join(process.env.BENCH_DIR ?? tmpdir(), 'hybridsync-bench-audit');

function makeTree(dir: string): void {
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `d${String(i % 100).padStart(2, '0')}`);
    if (i < 100) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.bin`), randomBytes(1024));
  }
}

interface Timing {
  wall: number;
  cpu: number;
  /** Seconds spent inside the audit recorder and log writer (main thread). */
  audit: number;
}

/** Wraps prototype methods to add up the time spent in them (outermost calls only). */
function timeMethods(targets: Array<[object, string]>): () => number {
  let total = 0;
  let depth = 0;
  for (const [proto, name] of targets) {
    const p = proto as Record<string, (...a: unknown[]) => unknown>;
    const f = p[name]!;
    p[name] = function (this: unknown, ...a: unknown[]) {
      if (depth++ > 0) {
        try {
          return f.apply(this, a);
        } finally {
          depth--;
        }
      }
      const t0 = performance.now();
      try {
        return f.apply(this, a);
      } finally {
        depth--;
        total += performance.now() - t0;
      }
    };
  }
  return () => total / 1000;
}

async function run(src: string, dst: string, config: string, state: string): Promise<Timing> {
  const auditSeconds = timeMethods([
    [AuditRecorder.prototype, 'record'],
    [AuditLog.prototype, 'flush'],
  ]);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const prepared = await prepareTransfer({ mode: 'sync', src, dst, config, statePath: state });
  let summary;
  try {
    summary = await runSync(prepared.run);
  } finally {
    await prepared.close();
  }
  const cpu = process.cpuUsage(cpu0);
  if (summary.status !== 'ok' || summary.transferred !== FILES) throw new Error(`sync ${summary.status}, ${summary.transferred} files`);
  return { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (cpu.user + cpu.system) / 1e6, audit: auditSeconds() };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One timed sync in a fresh process (no JIT, cache or heap state carried between runs). */
function syncOnce(variant: 'on' | 'off', src: string, i: number): Timing {
  const dir = join(WORK, `${variant}-${i}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'hybridsync.yaml');
  writeFileSync(config, `audit:\n  enabled: ${variant === 'on'}\n  dir: ${join(dir, 'audit')}\n`);
  const out = execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--one', src, join(dir, 'dst'), config, join(dir, 'state.db')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const t = JSON.parse(out.trim().split('\n').at(-1)!) as Timing;
  if (variant === 'on') {
    const lines = readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8').split('\n').length - 1;
    if (lines < FILES) throw new Error(`audit log has ${lines} lines for ${FILES} files`);
  }
  rmSync(dir, { recursive: true, force: true });
  return t;
}

async function writerAlone(): Promise<{ perSecond: number; checkpoints: number }> {
  const dir = join(WORK, 'writer');
  rmSync(dir, { recursive: true, force: true });
  const log = new AuditLog({ file: join(dir, 'audit.jsonl'), signer: loadOrCreateSigner(join(dir, 'key.pem')), checkpointEvery: 1000, flushIntervalMs: 0 });
  const n = 200_000 * Math.max(SCALE, 0.05);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    log.append({
      type: 'transfer',
      run: '6c1e0f55-6b43-4a4e-9f0d-1b2c3d4e5f60',
      key: `d${i % 100}/f${i}.bin`,
      src: `/data/src/d${i % 100}/f${i}.bin`,
      dst: `s3://bucket/prefix/d${i % 100}/f${i}.bin`,
      bytes: 1024,
      hashBefore: 'd41d8cd98f00b204e9800998ecf8427e',
      hashAfter: 'd41d8cd98f00b204e9800998ecf8427e',
      classification: 'internal',
      decision: 'allow',
      durationMs: 3,
    });
  }
  await log.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSecond: Math.round(n / seconds), checkpoints: log.checkpoints.length };
}

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  const src = join(WORK, 'src');
  mkdirSync(src, { recursive: true });
  makeTree(src);
  syncOnce('off', src, -1); // warm the page cache
  syncOnce('on', src, -1);
  const times = { on: [] as Timing[], off: [] as Timing[] };
  for (let i = 0; i < REPEAT; i++) {
    // alternate the order so drift on a shared machine hits both sides alike
    for (const v of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) times[v].push(syncOnce(v, src, i));
  }
  const m = (v: 'on' | 'off', k: keyof Timing): number => median(times[v].map((t) => t[k]));
  const w = await writerAlone();
  const fmt = (xs: Timing[], k: keyof Timing): string => xs.map((x) => x[k].toFixed(2)).join(', ');
  const pct = (k: keyof Timing): string => `${(((m('on', k) - m('off', k)) / m('off', k)) * 100).toFixed(1)}%`;
  process.stdout.write(
    [
      `| ${FILES} x 1 KiB local -> local sync | median wall s | median CPU s | wall runs | CPU runs |`,
      '|---|---|---|---|---|',
      `| audit off | ${m('off', 'wall').toFixed(2)} | ${m('off', 'cpu').toFixed(2)} | ${fmt(times.off, 'wall')} | ${fmt(times.off, 'cpu')} |`,
      `| audit on  | ${m('on', 'wall').toFixed(2)} | ${m('on', 'cpu').toFixed(2)} | ${fmt(times.on, 'wall')} | ${fmt(times.on, 'cpu')} |`,
      '',
      `audit on / off: wall ${(m('on', 'wall') / m('off', 'wall')).toFixed(3)} (${pct('wall')}), CPU ${(m('on', 'cpu') / m('off', 'cpu')).toFixed(3)} (${pct('cpu')}); target <= 3%`,
      `time inside the audit trail (audited runs): ${fmt(times.on, 'audit')} s, median ${(median(times.on.map((t) => t.audit / t.wall)) * 100).toFixed(2)}% of the run's wall time`,
      `log writer alone: ${w.perSecond.toLocaleString('en')} records/s (${w.checkpoints} signed checkpoints)`,
      '',
    ].join('\n'),
  );
  rmSync(WORK, { recursive: true, force: true });
}

if (process.argv[2] === '--one') {
  const [src, dst, config, state] = process.argv.slice(3) as [string, string, string, string];
  process.stdout.write(`${JSON.stringify(await run(src, dst, config, state))}\n`);
} else {
  await main();
}
