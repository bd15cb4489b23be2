/**
 * `hybridsync demo`: the main job on an embedded default. Generates a small, realistic
 * hybrid-AI tree (training shards, a model checkpoint, experiment metadata, a feature
 * extract) as the "on-prem" side and syncs it to a local "cloud" directory — or to any
 * destination given with --dst — then edits one file in place (same size) and syncs
 * again to show incremental, verified transfer. No account or server needed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync, readFileSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { formatBytes } from '../lib/units.js';
import { runTransferCommand } from './transfer-command.js';
import type { TransferFlags } from './transfer-options.js';

interface DemoFlags {
  dir: string;
  dst?: string;
  json?: boolean;
  progress: boolean;
}

/** Deterministic pseudo-random bytes (so reruns generate the same tree). */
function bytes(seed: string, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < n; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, n - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export function generateDemoTree(root: string): { files: number; bytes: number } {
  let files = 0;
  let total = 0;
  const put = (rel: string, data: Buffer | string): void => {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, data);
    utimesSync(p, new Date('2026-11-01T02:00:00Z'), new Date('2026-11-01T02:00:00Z'));
    files++;
    total += Buffer.byteLength(data);
  };
  for (let i = 0; i < 24; i++) put(`training/imagenet-subset/shard-${String(i).padStart(5, '0')}.tfrecord`, bytes(`shard${i}`, 512 * 1024 + i * 4096));
  put('training/imagenet-subset/_manifest.json', JSON.stringify({ shards: 24, format: 'tfrecord', split: 'train' }, null, 2));
  put('models/resnet50/run-0042/checkpoint-epoch-10.pt', bytes('ckpt', 24 * 1024 * 1024));
  put('models/resnet50/run-0042/config.yaml', 'arch: resnet50\nlr: 0.1\nbatch_size: 256\nepochs: 90\n');
  for (let e = 1; e <= 5; e++) {
    put(`experiments/exp-00${e}/params.json`, JSON.stringify({ lr: 0.1 / e, seed: e, optimizer: 'sgd' }));
    put(`experiments/exp-00${e}/metrics.json`, JSON.stringify({ epoch: 10, top1: 0.7 + e / 100, loss: 1.2 - e / 10 }));
  }
  const rows = ['user_bucket,feature_a,feature_b,label'];
  for (let r = 0; r < 20_000; r++) rows.push(`${r % 97},${(r * 7) % 13},${(r * 31) % 101},${r % 2}`);
  put('features/daily/2026-11-22.csv', rows.join('\n'));
  return { files, bytes: total };
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('generate a sample hybrid-AI tree and sync it to a local "cloud" directory (or --dst), then sync an edit incrementally')
    .option('--dir <path>', 'working directory for the demo', 'hybridsync-demo')
    .option('--dst <location>', 'destination instead of DIR/cloud (e.g. s3://bucket/demo)')
    .option('--json', 'NDJSON events')
    .option('--no-progress', 'no progress output')
    .action(async (f: DemoFlags) => {
      const dir = resolve(f.dir);
      const onprem = join(dir, 'onprem');
      const dst = f.dst ?? join(dir, 'cloud');
      const log = (s: string): void => void (f.json ? undefined : process.stderr.write(`${s}\n`));
      const g = generateDemoTree(onprem);
      log(`demo: generated ${g.files} files (${formatBytes(g.bytes)}) in ${onprem}`);
      log(`demo: step 1 — sync ${onprem} -> ${dst}`);
      const flags: TransferFlags = { progress: f.progress, stats: '2s', json: f.json, state: join(dir, 'state.db'), createBucket: true };
      let code = await runTransferCommand('sync', onprem, dst, flags);
      if (code !== 0) {
        process.exitCode = code;
        return;
      }
      // a same-size edit: the metric value changes, the length does not
      const metrics = join(onprem, 'experiments/exp-001/metrics.json');
      const text = readFileSync(metrics, 'utf8');
      writeFileSync(metrics, text.includes('"epoch":10') ? text.replace('"epoch":10', '"epoch":11') : text.replace('"epoch":11', '"epoch":10'));
      log(`demo: step 2 — edited ${metrics} in place (same size) and sync again: only that file moves`);
      code = await runTransferCommand('sync', onprem, dst, flags);
      if (code === 0) {
        log(`demo: step 3 — check ${onprem} against ${dst} by content`);
        code = await runTransferCommand('check', onprem, dst, { ...flags, checksum: true });
      }
      if (code === 0 && existsSync(dir)) log(`demo: done. Try: npx hybridsync ls -l ${dst}`);
      process.exitCode = code;
    });
}
