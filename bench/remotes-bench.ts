/**
 * Two endpoints, two users, one run: on-prem (Ceph RGW over plain http, user 1) to cloud
 * (the same Ceph's TLS 1.3 endpoint, user 2 — who cannot read user 1's buckets, so every
 * byte streams through the client). hybridsync `sync onprem:… cloud:…` against rclone
 * `copy onp:… cld:…` at equal concurrency, alternating runs (hs, rclone, hs, rclone, …)
 * into fresh prefixes; wall time and client CPU (user+sys) per run, medians printed with
 * ratios. Needs the endpoints of scripts/services (s3.env): run through bench/run.sh, or
 *   eval "$(bash scripts/services/ensure-services.sh | grep '^export ')"; npx tsx bench/remotes-bench.ts
 * BENCH_SCALE=0.25 for a quick look; BENCH_RUNS (default 3) runs per tool.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent as HttpsAgent } from 'node:https';
import { timedOk } from './timed.js';

const ROOT = join(import.meta.dirname, '..');
const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run through bench/run.sh or source the services' s3.env`);
  return v;
};
const onprem = { endpoint: need('AWS_ENDPOINT_URL'), key: need('AWS_ACCESS_KEY_ID'), secret: need('AWS_SECRET_ACCESS_KEY') };
const cloud = {
  endpoint: need('HYBRIDSYNC_TEST_S3_TLS_ENDPOINT'),
  key: need('HYBRIDSYNC_TEST_S3_USER2_ACCESS_KEY_ID'),
  secret: need('HYBRIDSYNC_TEST_S3_USER2_SECRET_ACCESS_KEY'),
  ca: need('HYBRIDSYNC_TEST_CA_BUNDLE'),
};
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WORK = process.env.BENCH_WORK ?? join(tmpdir(), 'hybridsync-bench-remotes');

interface Run {
  wall: number;
  cpu: number;
  rssMiB: number;
}

const timed = async (cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> => timedOk(cmd, args, { ...process.env, ...env });

const remotesEnv = {
  ONPREM_KEY: onprem.key,
  ONPREM_SECRET: onprem.secret,
  HYBRIDSYNC_REMOTE_ONPREM_TYPE: 's3',
  HYBRIDSYNC_REMOTE_ONPREM_ENDPOINT: onprem.endpoint,
  HYBRIDSYNC_REMOTE_ONPREM_ACCESS_KEY_ID_ENV: 'ONPREM_KEY',
  HYBRIDSYNC_REMOTE_ONPREM_SECRET_ACCESS_KEY_ENV: 'ONPREM_SECRET',
  HYBRIDSYNC_REMOTE_CLOUD_TYPE: 's3',
  HYBRIDSYNC_REMOTE_CLOUD_ENDPOINT: cloud.endpoint,
  HYBRIDSYNC_REMOTE_CLOUD_CA_BUNDLE: cloud.ca,
  HYBRIDSYNC_REMOTE_CLOUD_ACCESS_KEY_ID: cloud.key,
  HYBRIDSYNC_REMOTE_CLOUD_SECRET_ACCESS_KEY: cloud.secret,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
const rcloneEnv = {
  RCLONE_CONFIG_ONP_TYPE: 's3',
  RCLONE_CONFIG_ONP_PROVIDER: 'Ceph',
  RCLONE_CONFIG_ONP_ENDPOINT: onprem.endpoint,
  RCLONE_CONFIG_ONP_ACCESS_KEY_ID: onprem.key,
  RCLONE_CONFIG_ONP_SECRET_ACCESS_KEY: onprem.secret,
  RCLONE_CONFIG_ONP_FORCE_PATH_STYLE: 'true',
  RCLONE_CONFIG_CLD_TYPE: 's3',
  RCLONE_CONFIG_CLD_PROVIDER: 'Ceph',
  RCLONE_CONFIG_CLD_ENDPOINT: cloud.endpoint,
  RCLONE_CONFIG_CLD_ACCESS_KEY_ID: cloud.key,
  RCLONE_CONFIG_CLD_SECRET_ACCESS_KEY: cloud.secret,
  RCLONE_CONFIG_CLD_FORCE_PATH_STYLE: 'true',
  AWS_CA_BUNDLE: '',
};
const hs = (args: string[], state: string) => timed(process.execPath, [join(ROOT, 'bin/hybridsync.js'), ...args, '--no-progress', '--state', state], remotesEnv);
// equal concurrency: 32 files, 16 checkers, 4 parts of 8 MiB per file, as hybridsync's defaults
const rclone = (args: string[]) =>
  timed('rclone', [...args, '--transfers', '32', '--checkers', '16', '--s3-upload-concurrency', '4', '--s3-chunk-size', '8M', '--s3-upload-cutoff', '16M', '--ca-cert', cloud.ca], rcloneEnv);

/** n files of `size` bytes under dir, made once per (n, size): a tree of another shape is made anew. */
function makeTree(dir: string, n: number, size: number): void {
  const done = join(dir, '.done');
  if (existsSync(done) && readFileSync(done, 'utf8') === `${n}x${size}`) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const block = randomBytes(size);
  for (let i = 0; i < n; i++) {
    const d = join(dir, `d${String(Math.floor(i / 1000)).padStart(3, '0')}`);
    if (i % 1000 === 0) mkdirSync(d, { recursive: true });
    block.writeUInt32LE(i, 0);
    writeFileSync(join(d, `f${String(i).padStart(6, '0')}.bin`), block);
  }
  writeFileSync(done, `${n}x${size}`);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number, d = 1): string => x.toFixed(d);

async function scenario(name: string, files: number, size: number): Promise<string> {
  const src = join(WORK, `${name}-src`);
  mkdirSync(src, { recursive: true });
  makeTree(src, files, size);
  const onBucket = `bench-onp-${name}-${Date.now().toString(36)}`;
  const cloudBucket = `bench-cld-${name}-${Date.now().toString(36)}`;
  const c1 = new S3Client({ endpoint: onprem.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: onprem.key, secretAccessKey: onprem.secret } });
  const c2 = new S3Client({
    endpoint: cloud.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: cloud.key, secretAccessKey: cloud.secret },
    requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: readFileSync(cloud.ca), minVersion: 'TLSv1.3' }) }),
  });
  await c1.send(new CreateBucketCommand({ Bucket: onBucket })).catch(() => undefined);
  await c2.send(new CreateBucketCommand({ Bucket: cloudBucket }));
  c1.destroy();
  c2.destroy();
  const state = mkdtempSync(join(WORK, 'state-'));
  await hs(['copy', src, `onprem:${onBucket}/data`], join(state, 'seed.db')); // the on-prem copy, not timed
  const h: Run[] = [];
  const r: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    h.push(await hs(['sync', `onprem:${onBucket}/data`, `cloud:${cloudBucket}/hs-${i}`], join(state, `hs-${i}.db`)));
    r.push(await rclone(['copy', `onp:${onBucket}/data`, `cld:${cloudBucket}/rclone-${i}`]));
  }
  const bytes = files * size;
  const unit = size >= 1 << 20 ? 'MiB/s' : 'files/s';
  const rate = (x: Run): number => (size >= 1 << 20 ? bytes / (1 << 20) / x.wall : files / x.wall);
  const hsRate = median(h.map(rate));
  const rcRate = median(r.map(rate));
  const per = size >= 1 << 20 ? (x: Run) => x.cpu / (bytes / (1 << 30)) : (x: Run) => (x.cpu / files) * 1000;
  const perUnit = size >= 1 << 20 ? 'CPU s/GiB' : 'CPU s/1000 files';
  return (
    `| ${name}: ${files} × ${size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`} onprem(http) → cloud(TLS 1.3) | ` +
    `${fmt(hsRate)} ${unit} (min ${fmt(Math.min(...h.map(rate)))}) | ${fmt(rcRate)} ${unit} (min ${fmt(Math.min(...r.map(rate)))}) | **${fmt(hsRate / rcRate, 2)}×** | ` +
    `${fmt(median(h.map(per)), 2)} / ${fmt(median(r.map(per)), 2)} ${perUnit} (**${fmt(median(h.map(per)) / median(r.map(per)), 2)}×**) | ${median(h.map((x) => x.rssMiB))} / ${median(r.map((x) => x.rssMiB))} |`
  );
}

mkdirSync(WORK, { recursive: true });
const rows = [
  await scenario('small', Math.round(2000 * SCALE), 64 * 1024),
  await scenario('large', Math.max(1, Math.round(2 * SCALE)), 256 * 1024 * 1024),
];
console.log(`\ncross-endpoint streaming, median of ${RUNS} alternating runs each (hybridsync defaults vs rclone 1.60 at equal concurrency):\n`);
console.log('| scenario | hybridsync | rclone | ratio | client CPU hs / rclone | peak RSS MiB hs / rclone |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
