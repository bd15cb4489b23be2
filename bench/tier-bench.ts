/**
 * Tiering throughput on Ceph RGW: `hybridsync tier apply` against `rclone settier` (its
 * peer: an in-place storage class change of every object under a prefix), both moving
 * fresh STANDARD objects to STANDARD_IA, alternating runs (hs, rclone, hs, rclone, …), each
 * on its own freshly uploaded prefix (the upload is not timed). Wall time, client CPU
 * (user+sys) and peak RSS per run under /usr/bin/time; medians with ratios; the classes
 * are checked after every run. hybridsync reads every object back after moving it (size,
 * metadata, class) and keeps the state database current; rclone issues the copy only.
 *   source /tmp/testenv.sh (or bench/run.sh's services); npx tsx bench/tier-bench.ts
 * BENCH_OBJECTS (default 500) objects of 4 KiB; BENCH_RUNS (default 3) runs per tool.
 */
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { timedOk } from './timed.js';

const ROOT = join(import.meta.dirname, '..');
const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: source the test services' environment (/tmp/testenv.sh or s3.env)`);
  return v;
};
const s3 = { endpoint: need('AWS_ENDPOINT_URL'), key: need('AWS_ACCESS_KEY_ID'), secret: need('AWS_SECRET_ACCESS_KEY') };
const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WORK = mkdtempSync(join(tmpdir(), 'hybridsync-bench-tier-'));

interface Run {
  wall: number;
  cpu: number;
  rssMiB: number;
}

const timed = async (cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> => timedOk(cmd, args, { ...process.env, ...env });

const hsEnv = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', HYBRIDSYNC_STATE_DIR: join(WORK, 'state') };
const hs = (args: string[]) => timed(process.execPath, [join(ROOT, 'bin/hybridsync.js'), ...args], hsEnv);
const rcloneEnv = {
  RCLONE_CONFIG_ONP_TYPE: 's3',
  RCLONE_CONFIG_ONP_PROVIDER: 'Ceph',
  RCLONE_CONFIG_ONP_ENDPOINT: s3.endpoint,
  RCLONE_CONFIG_ONP_ACCESS_KEY_ID: s3.key,
  RCLONE_CONFIG_ONP_SECRET_ACCESS_KEY: s3.secret,
  RCLONE_CONFIG_ONP_FORCE_PATH_STYLE: 'true',
  AWS_CA_BUNDLE: '',
};
// equal concurrency: hybridsync decides and moves 16 objects at once, rclone's 16 checkers
const rclone = (args: string[]) => timed('rclone', [...args, '--checkers', '16', '--transfers', '16'], rcloneEnv);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function classes(c: S3Client, bucket: string, prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let token: string | undefined;
  do {
    const r = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) out[o.StorageClass ?? 'STANDARD'] = (out[o.StorageClass ?? 'STANDARD'] ?? 0) + 1;
    token = r.NextContinuationToken;
  } while (token);
  return out;
}

async function main(): Promise<void> {
  const src = join(WORK, 'src');
  const block = randomBytes(4096);
  const old = new Date('2024-01-01T00:00:00Z');
  for (let i = 0; i < OBJECTS; i++) {
    const d = join(src, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    block.writeUInt32LE(i, 0);
    const f = join(d, `f${i}.bin`);
    writeFileSync(f, block);
    utimesSync(f, old, old);
  }
  const bucket = `bench-tier-${Date.now().toString(36)}`;
  const c = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s3.key, secretAccessKey: s3.secret } });
  await c.send(new CreateBucketCommand({ Bucket: bucket }));
  const h: Run[] = [];
  const r: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const p of [`hs-${i}`, `rc-${i}`]) await hs(['copy', src, `s3://${bucket}/${p}`, '--no-progress']); // fresh STANDARD objects, not timed
    const cfg = join(WORK, `tier-${i}.yaml`);
    writeFileSync(cfg, `tier:\n  rules:\n    - name: bench\n      location: s3://${bucket}/hs-${i}/\n      olderThan: 1d\n      storageClass: STANDARD_IA\n`);
    h.push(await hs(['tier', 'apply', '--config', cfg]));
    r.push(await rclone(['settier', 'STANDARD_IA', `onp:${bucket}/rc-${i}`]));
    for (const p of [`hs-${i}/`, `rc-${i}/`]) {
      const got = await classes(c, bucket, p);
      if (got.STANDARD_IA !== OBJECTS) throw new Error(`${p}: expected ${OBJECTS} objects in STANDARD_IA, found ${JSON.stringify(got)}`);
    }
  }
  c.destroy();
  const rate = (x: Run): number => OBJECTS / x.wall;
  const hRate = median(h.map(rate));
  const rRate = median(r.map(rate));
  const cpu = (xs: Run[]): number => median(xs.map((x) => (x.cpu * 1000) / OBJECTS));
  const rss = (xs: Run[]): number => median(xs.map((x) => x.rssMiB));
  console.log(`tier: ${OBJECTS} × 4 KiB STANDARD -> STANDARD_IA on Ceph RGW, ${RUNS} alternating runs each, medians (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  console.log(`| tool | objects/s | client CPU s per 1000 objects | peak RSS MiB |`);
  console.log(`|---|---|---|---|`);
  console.log(`| hybridsync tier apply | ${hRate.toFixed(1)} | ${cpu(h).toFixed(2)} | ${rss(h)} |`);
  console.log(`| rclone settier | ${rRate.toFixed(1)} | ${cpu(r).toFixed(2)} | ${rss(r)} |`);
  console.log(`ratio hybridsync / rclone: ${(hRate / rRate).toFixed(2)}× objects/s, ${(cpu(h) / cpu(r)).toFixed(2)}× CPU; runs hs ${h.map((x) => x.wall.toFixed(1)).join(' ')} s, rclone ${r.map((x) => x.wall.toFixed(1)).join(' ')} s`);
  console.log(`bucket ${bucket} left for inspection; remove with: aws s3 rb --force s3://${bucket}`);
}

await main();
