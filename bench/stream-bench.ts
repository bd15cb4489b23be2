/**
 * Streaming lanes against Ceph RGW, in one run:
 *  1. latency: a writer appends timestamped JSONL records at 1 MB/s and at 20 MB/s while
 *     `stream push` (5 s segments, 8 MiB) ships them; a watcher lists the prefix every 100 ms
 *     and reads each new object: latency = when the record's object was readable − when the
 *     record was appended (p50/p95 over every record); and, with `stream pull` following that
 *     prefix into a local directory, append → appended locally (end to end through both);
 *  2. throughput: one lane shipping a prepared file (`--once`, 8 MiB segments) against
 *     `aws s3 cp --recursive` of the same bytes pre-split into the same 8 MiB segment files,
 *     at the CLI's default concurrency (10 requests) and at 1 (one lane is one request at a
 *     time); alternating runs, medians, client CPU, ratios.
 * Run through bench/run.sh, or:
 *   eval "$(bash scripts/services/ensure-services.sh | grep '^export ')"; unset AWS_CA_BUNDLE; npx tsx bench/stream-bench.ts
 * BENCH_SCALE=0.25 for a quick look; BENCH_RUNS (default 3) runs per tool.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

const ROOT = join(import.meta.dirname, '..');
const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run through bench/run.sh or source the services' s3.env`);
  return v;
};
const endpoint = need('AWS_ENDPOINT_URL');
const creds = { accessKeyId: need('AWS_ACCESS_KEY_ID'), secretAccessKey: need('AWS_SECRET_ACCESS_KEY') };
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WORK = process.env.BENCH_WORK ?? join(tmpdir(), 'hybridsync-bench-stream');
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds });
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' };
const hsArgs = (args: string[]): string[] => [join(ROOT, 'bin/hybridsync.js'), ...args];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const fmt = (x: number, d = 1): string => x.toFixed(d);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function listKeys(bucket: string, prefix: string, after?: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, ...(after && !token ? { StartAfter: after } : {}) }));
    for (const o of r.Contents ?? []) out.push(o.Key!);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function getText(bucket: string, key: string): Promise<string> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (r.Body as { transformToString(): Promise<string> }).transformToString();
}

/** Append time (ms) of every record in `text` (records carry `"t":<ms>`). */
function stamps(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/"t":(\d+)/g)) out.push(Number(m[1]));
  return out;
}

/** Appends ~1 KiB records at `rate` bytes/s for `seconds`, in 50 ms ticks; each record has its append time. */
async function write(file: string, rate: number, seconds: number): Promise<number> {
  const fd = openSync(file, 'a');
  const pad = 'p'.repeat(980);
  const end = Date.now() + seconds * 1000;
  let written = 0;
  let i = 0;
  const start = Date.now();
  while (Date.now() < end) {
    const due = ((Date.now() - start) / 1000) * rate;
    let chunk = '';
    while (written + chunk.length < due) chunk += `{"i":${i++},"t":${Date.now()},"pad":"${pad}"}\n`;
    if (chunk) {
      writeSync(fd, chunk);
      written += chunk.length;
    }
    await sleep(50);
  }
  closeSync(fd);
  return i;
}

function spawnHs(args: string[]): ChildProcess {
  return spawn(process.execPath, hsArgs(args), { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function latency(rate: number, seconds: number): Promise<string> {
  const bucket = `bench-stream-lat-${Date.now().toString(36)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const dir = mkdtempSync(join(WORK, 'lat-'));
  const file = join(dir, 'features.jsonl');
  writeFileSync(file, '');
  const state = join(dir, 'state', 'state.db');
  const local = join(dir, 'pulled');
  const push = spawnHs(['stream', 'push', file, `s3://${bucket}/l`, '--segment-age', '5s', '--segment-size', '8MiB', '--poll', '100ms', '--state', state]);
  const pull = spawnHs(['stream', 'pull', `s3://${bucket}/l`, local, '--poll', '100ms', '--state', join(dir, 'pstate', 'state.db')]);
  await sleep(3000); // both started (no records yet)
  const pushLat: number[] = [];
  const pullLat: number[] = [];
  let done = false;
  let records = 0;
  const writer = write(file, rate, seconds).then((n) => {
    records = n;
  });
  // watch the bucket: each new object, as soon as it is listed, read
  const watchBucket = (async () => {
    let last: string | undefined;
    while (!done || pushLat.length < records) {
      for (const key of await listKeys(bucket, 'l/', last)) {
        const seen = Date.now();
        for (const t of stamps(await getText(bucket, key))) pushLat.push(seen - t);
        last = key;
      }
      if (done && pushLat.length >= records) break;
      await sleep(100);
    }
  })();
  // watch the pulled file: new bytes as they are appended locally
  const watchLocal = (async () => {
    let off = 0;
    let carry = '';
    let path: string | undefined;
    while (!done || pullLat.length < records) {
      path ??= findFile(local);
      if (path && existsSync(path) && statSync(path).size > off) {
        const size = statSync(path).size;
        const fd = openSync(path, 'r');
        const buf = Buffer.alloc(size - off);
        readSync(fd, buf, 0, buf.length, off);
        closeSync(fd);
        const seen = Date.now();
        off = size;
        const text = carry + buf.toString('utf8');
        const cut = text.lastIndexOf('\n') + 1;
        for (const t of stamps(text.slice(0, cut))) pullLat.push(seen - t);
        carry = text.slice(cut);
      }
      if (done && pullLat.length >= records) break;
      await sleep(50);
    }
  })();
  await writer;
  done = true;
  const deadline = Date.now() + 60_000;
  await Promise.race([Promise.all([watchBucket, watchLocal]), sleep(deadline - Date.now())]);
  push.kill('SIGTERM');
  pull.kill('SIGTERM');
  await sleep(500);
  const mbps = rate / 1e6;
  return (
    `| ${fmt(mbps, 0)} MB/s, 5 s segments, ${seconds} s, ${records} records | ` +
    `${fmt(pct(pushLat, 50) / 1000, 2)} s / ${fmt(pct(pushLat, 95) / 1000, 2)} s (${pushLat.length}) | ` +
    `${fmt(pct(pullLat, 50) / 1000, 2)} s / ${fmt(pct(pullLat, 95) / 1000, 2)} s (${pullLat.length}) |`
  );
}

function findFile(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const id of readdirSafe(dir)) for (const g of readdirSafe(join(dir, id))) return join(dir, id, g);
  return undefined;
}
function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

interface Run {
  wall: number;
  cpu: number;
}

function timed(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const out = join(WORK, `time-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S', '-o', out, cmd, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${err}`));
      const [e, u, s] = readFileSync(out, 'utf8').trim().split(/\s+/).slice(-3).map(Number);
      resolve({ wall: e!, cpu: u! + s! });
    });
  });
}

async function throughput(totalBytes: number): Promise<string[]> {
  const bucket = `bench-stream-tp-${Date.now().toString(36)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const dir = mkdtempSync(join(WORK, 'tp-'));
  const file = join(dir, 'big.jsonl');
  const seg = 8 * 1024 * 1024;
  // records of ~1 KiB: random payload, so nothing compresses away
  const fd = openSync(file, 'w');
  const parts = join(dir, 'parts');
  mkdirSync(parts);
  let written = 0;
  let part: Buffer[] = [];
  let partBytes = 0;
  let n = 0;
  const flushPart = (): void => {
    const data = Buffer.concat(part);
    writeSync(fd, data);
    writeFileSync(join(parts, `${String(n++).padStart(6, '0')}`), data);
    part = [];
    partBytes = 0;
  };
  while (written < totalBytes) {
    const rec = Buffer.from(`{"r":"${randomBytes(500).toString('hex')}"}\n`);
    written += rec.length;
    if (partBytes + rec.length > seg) flushPart();
    part.push(rec);
    partBytes += rec.length;
  }
  if (partBytes) flushPart();
  closeSync(fd);
  const awsConfig1 = join(dir, 'aws-config-1');
  writeFileSync(awsConfig1, '[default]\ns3 =\n  max_concurrent_requests = 1\n');
  const h: Run[] = [];
  const a10: Run[] = [];
  const a1: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    h.push(await timed(process.execPath, hsArgs(['stream', 'push', file, `s3://${bucket}/hs-${i}`, '--once', '--segment-size', '8MiB', '--state', join(dir, `s${i}`, 'state.db')])));
    a10.push(await timed('/usr/bin/aws', ['--endpoint-url', endpoint, 's3', 'cp', '--recursive', '--quiet', parts, `s3://${bucket}/aws10-${i}`]));
    a1.push(await timed('/usr/bin/aws', ['--endpoint-url', endpoint, 's3', 'cp', '--recursive', '--quiet', parts, `s3://${bucket}/aws1-${i}`], { AWS_CONFIG_FILE: awsConfig1 }));
  }
  const mib = written / (1 << 20);
  const rate = (r: Run): number => mib / r.wall;
  const row = (name: string, xs: Run[]): string =>
    `| ${name} | ${fmt(median(xs.map(rate)))} MiB/s (min ${fmt(Math.min(...xs.map(rate)))}) | ${fmt(median(xs.map((x) => x.cpu / (mib / 1024))), 2)} CPU s/GiB | **${fmt(median(h.map(rate)) / median(xs.map(rate)), 2)}×** |`;
  rmSync(dir, { recursive: true, force: true });
  return [
    `one lane, ${fmt(mib, 0)} MiB of JSONL in ${n} segments of 8 MiB, median of ${RUNS} alternating runs (hybridsync ÷ peer):`,
    '',
    '| tool | throughput | client CPU | hybridsync ÷ this |',
    '|---|---|---|---|',
    row('hybridsync stream push --once (one lane, one PUT at a time)', h),
    row('aws s3 cp --recursive, 10 concurrent requests (default)', a10),
    row('aws s3 cp --recursive, 1 concurrent request', a1),
  ];
}

mkdirSync(WORK, { recursive: true });
const ONLY = process.env.BENCH_ONLY ?? 'latency,throughput';
if (ONLY.includes('latency')) {
  const lat1 = await latency(1e6, Math.round(30 * SCALE) || 10);
  const lat20 = await latency(20e6, Math.round(20 * SCALE) || 5);
  console.log('\nlatency, append → readable (p50 / p95, records measured):\n');
  console.log('| load | append → object readable (push) | append → appended locally (push + pull) |');
  console.log('|---|---|---|');
  console.log(lat1);
  console.log(lat20);
  console.log('');
}
if (ONLY.includes('throughput')) for (const l of await throughput(Math.round(400 * SCALE) * 1024 * 1024)) console.log(l);
client.destroy();
