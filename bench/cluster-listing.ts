/**
 * bench/cluster-listing.ts — the cluster coordinator's listing of both sides, on a real
 * S3 endpoint (the test Ceph RGW): N objects (default 20,000, zero bytes, in 50
 * directories) under two prefixes, listed as a coordinator lists them (listInShards: the
 * key ranges, each range's march of both listings read ahead, through the shard emitter;
 * no Redis, nothing enqueued) with --list-parallel 1 and 4, against the peers listing the
 * same two prefixes (two `aws s3 ls --recursive` at once, two `rclone lsf -R` at once).
 * Rounds alternate; medians of keys/s (both sides) and client CPU seconds are printed, with
 * the load average. BENCH_LATENCY_MS=50 puts every client behind bench/delay-proxy.ts with a
 * 50 ms round trip (a store in another region) — simulated latency, said so in the output.
 *
 *   source /tmp/testenv.sh; node --import tsx bench/cluster-listing.ts [N] [ROUNDS]
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { openLocation } from '../src/api/transfer.js';
import { startDelayProxy } from './delay-proxy.js';
import { listInShards } from '../src/cluster/listing.js';
import { DEFAULT_SHARD_LIMITS, type ListingTally } from '../src/cluster/shards.js';
import { forEachConcurrent } from '../src/lib/pool.js';

const N = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const upstream = process.env.AWS_ENDPOINT_URL;
if (!upstream) throw new Error('set AWS_ENDPOINT_URL and keys (source /tmp/testenv.sh)');
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 0);

// the link of bench/delay-proxy.ts: LATENCY_MS of round trip (half each way), capacity far above what a listing needs
const up = new URL(upstream);
const proxy = LATENCY_MS > 0 ? await startDelayProxy(0, { host: up.hostname, port: Number(up.port) }, { delayMs: LATENCY_MS / 2, mbps: 10_000 }) : undefined;
const endpoint = proxy ? `http://127.0.0.1:${proxy.port}` : upstream;
process.env.AWS_ENDPOINT_URL = endpoint; // what openLocation's s3:// uses
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
const bucket = process.env.BENCH_LIST_BUCKET ?? `bench-list-${N}`;

async function populate(): Promise<void> {
  // a bucket of this name holds the objects already (Ceph answers a second create with 200)
  const exists = await client.send(new HeadBucketCommand({ Bucket: bucket })).then(
    () => true,
    () => false,
  );
  if (exists) return void process.stderr.write(`reusing bucket ${bucket}\n`);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys = Array.from({ length: N }, (_, i) => `d${String(i % 50).padStart(2, '0')}/k-${String(i).padStart(8, '0')}`);
  let done = 0;
  await forEachConcurrent(
    keys.flatMap((k) => [`src/${k}`, `dst/${k}`]),
    64,
    async (Key) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Buffer.alloc(0) }));
      if (++done % 5000 === 0) process.stderr.write(`  ${done}/${2 * N} objects\n`);
    },
  );
}

interface Sample {
  readonly s: number;
  readonly cpu: number;
}

async function ours(parallel: number): Promise<Sample> {
  const src = openLocation(`s3://${bucket}/src`);
  const dst = openLocation(`s3://${bucket}/dst`);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const tally: ListingTally = { srcFiles: 0, srcBytes: 0, dstFiles: 0 };
  await listInShards({ src, dst, mode: 'sync', limits: DEFAULT_SHARD_LIMITS, parallel, allowMissingDst: false, tally }, async () => undefined);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(cpu0);
  if (tally.srcFiles !== N || tally.dstFiles !== N) throw new Error(`listed ${tally.srcFiles} + ${tally.dstFiles}, expected ${N} each`);
  await Promise.all([src.close?.(), dst.close?.()]);
  return { s, cpu: (c.user + c.system) / 1e6 };
}

/** A command run twice at once (one per prefix) under /usr/bin/time; wall seconds and the children's CPU seconds. */
async function peer(cmd: (prefix: string) => string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  const t0 = process.hrtime.bigint();
  const one = (prefix: string) =>
    new Promise<number>((resolve, reject) => {
      const argv = cmd(prefix);
      const child = spawn('/usr/bin/time', ['-f', 'CPU %U %S', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let lines = 0;
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        for (const b of d) if (b === 10) lines++;
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => {
        const m = /CPU ([\d.]+) ([\d.]+)/.exec(err);
        if (code !== 0 || !m) return reject(new Error(`${argv.join(' ')}: exit ${code}: ${err.slice(-500)}`));
        if (lines < N) return reject(new Error(`${argv[0]} listed ${lines} lines, expected ${N}`));
        resolve(Number(m[1]) + Number(m[2]));
      });
    });
  const cpus = await Promise.all([one('src/'), one('dst/')]);
  return { s: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpus[0]! + cpus[1]! };
}

const rcloneEnv: NodeJS.ProcessEnv = {
  ...process.env,
  RCLONE_CONFIG_CEPH_TYPE: 's3',
  RCLONE_CONFIG_CEPH_PROVIDER: 'Ceph',
  RCLONE_CONFIG_CEPH_ENDPOINT: endpoint,
  RCLONE_CONFIG_CEPH_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
  RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
  RCLONE_CONFIG_CEPH_FORCE_PATH_STYLE: 'true',
};
delete rcloneEnv.AWS_CA_BUNDLE;
const awsEnv = { ...process.env, AWS_CA_BUNDLE: '' };

const contenders: Record<string, () => Promise<Sample>> = {
  'hybridsync --list-parallel 1': () => ours(1),
  'hybridsync --list-parallel 4': () => ours(4),
  'aws s3 ls --recursive (×2 at once)': () => peer((p) => ['/usr/bin/aws', '--endpoint-url', endpoint!, 's3', 'ls', '--recursive', `s3://${bucket}/${p}`], awsEnv),
  'rclone lsf -R (×2 at once)': () => peer((p) => ['rclone', 'lsf', '-R', '--files-only', `ceph:${bucket}/${p}`], rcloneEnv),
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await populate();
const samples = new Map<string, Sample[]>(Object.keys(contenders).map((k) => [k, []]));
const load0 = loadavg();
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(contenders)) samples.get(name)!.push(await run());
}
const load1 = loadavg();
const base = median(samples.get('hybridsync --list-parallel 1')!.map((x) => x.s));
console.log(`\n${N.toLocaleString('en')} keys per side (${(2 * N).toLocaleString('en')} listed), ${LATENCY_MS ? `${LATENCY_MS} ms round trip added by bench/delay-proxy.ts (simulated), ` : ''}${ROUNDS} alternating rounds, medians; load average ${load0.map((l) => l.toFixed(1)).join(' ')} → ${load1.map((l) => l.toFixed(1)).join(' ')}`);
console.log('| lister | s | keys/s (both sides) | ratio to --list-parallel 1 | client CPU s |');
console.log('|---|---|---|---|---|');
for (const [name, xs] of samples) {
  const s = median(xs.map((x) => x.s));
  console.log(`| ${name} | ${s.toFixed(2)} | ${Math.round((2 * N) / s).toLocaleString('en')} | ${(base / s).toFixed(2)}× | ${median(xs.map((x) => x.cpu)).toFixed(2)} |`);
}
client.destroy();
await proxy?.close();
