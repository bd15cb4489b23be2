/**
 * Streaming lanes against Ceph RGW, in one run:
 *  1. latency: a writer appends timestamped JSONL records at 1 MB/s and at 20 MB/s while
 *     `stream push` (5 s segments, 8 MiB) ships them; a watcher lists the prefix every 25 ms:
 *     latency = when a listing first showed the record's object − when the record was appended (p50/p95 over every record); and, with `stream pull` following that
 *     prefix into a local directory, append → appended locally (end to end through both).
 *     BENCH_RUNS runs of each rate, alternating; with BENCH_BASELINE=<a checkout with dist/
 *     built> (e.g. /work/main) its lanes run in alternation too, as "before"; BENCH_RATES=1,20
 *     (MB/s) picks the rates. The lane's own figure is there too: append → its segment's
 *     commit event (the object was readable a moment before), free of the watcher's delay;
 *  2. throughput: one lane shipping a prepared file (`--once`, 8 MiB segments) with each
 *     window of BENCH_WINDOWS (`--in-flight`: segments stored at once) against
 *     `aws s3 cp --recursive` of the same bytes pre-split into the same 8 MiB segment files,
 *     at the CLI's default concurrency (10 requests) and at 1; alternating runs, medians,
 *     client CPU, ratios to both.
 * Run through bench/run.sh, or:
 *   eval "$(bash scripts/services/ensure-services.sh | grep '^export ')"; unset AWS_CA_BUNDLE; npx tsx bench/stream-bench.ts
 * BENCH_SCALE=0.25 for a quick look; BENCH_RUNS (default 3) runs per tool; BENCH_WINDOWS
 * (default 1,2,4,8) the lane's windows; BENCH_RTT_MS=50: the throughput runs of both tools go
 * through a proxy that delays every chunk by half that each way (a link with that round-trip
 * time, as to a cloud region); BENCH_ONLY=latency or throughput.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDelayProxy } from './delay-proxy.js';
import { timedOk } from './timed.js';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

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
const hsArgs = (args: string[], root = ROOT): string[] => [join(root, 'bin/hybridsync.js'), ...args];
const BASELINE = process.env.BENCH_BASELINE;
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

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

/** Deletes what a run stored (the services are shared: nothing is left behind). */
async function dropPrefix(bucket: string, prefix: string): Promise<void> {
  for (let keys = await listKeys(bucket, prefix); keys.length > 0; keys = await listKeys(bucket, prefix)) {
    for (let i = 0; i < keys.length; i += 1000) {
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
    }
  }
}

async function dropBucket(bucket: string): Promise<void> {
  await dropPrefix(bucket, '');
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
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

/** Starts a lane (`--json`) and resolves once it is following (its stream-start event), so no record waits for a process to start; `out()` is its NDJSON so far. */
function startLane(args: string[], root: string): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, hsArgs([...args, '--json'], root), { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"stream-start"')) resolve({ child, out: () => out });
    });
    child.on('exit', (code) => reject(new Error(`stream lane exited ${code} before it started`)));
  });
}

/**
 * The lane's own figure, free of the watcher's listing delay: for each segment event, when
 * it committed (its NDJSON time; the object was readable a moment before) minus the append
 * time of each record in its byte range.
 */
function committedLatency(ndjson: string, file: string): number[] {
  const data = readFileSync(file);
  const out: number[] = [];
  for (const line of ndjson.split('\n')) {
    if (!line.includes('"type":"segment"')) continue;
    const e = JSON.parse(line) as { time: string; start: number; end: number };
    const at = Date.parse(e.time);
    for (const t of stamps(data.subarray(e.start, e.end).toString('utf8'))) out.push(at - t);
  }
  return out;
}

interface Latency {
  readonly push: number[];
  /** Append → its segment committed, by the lane's events. */
  readonly committed: number[];
  readonly pull: number[];
  readonly records: number;
  readonly load: string;
}

async function latency(root: string, rate: number, seconds: number): Promise<Latency> {
  const bucket = `bench-stream-lat-${Date.now().toString(36)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const dir = mkdtempSync(join(WORK, 'lat-'));
  const file = join(dir, 'features.jsonl');
  writeFileSync(file, '');
  const state = join(dir, 'state', 'state.db');
  const local = join(dir, 'pulled');
  const push = await startLane(['stream', 'push', file, `s3://${bucket}/l`, '--segment-age', '5s', '--segment-size', '8MiB', '--poll', '100ms', '--state', state], root);
  const pull = await startLane(['stream', 'pull', `s3://${bucket}/l`, local, '--poll', '100ms', '--state', join(dir, 'pstate', 'state.db')], root);
  const pushLat: number[] = [];
  const pullLat: number[] = [];
  let done = false;
  let records = 0;
  const writer = write(file, rate, seconds).then((n) => {
    records = n;
  });
  // watch the bucket (listed every 25 ms): an object is readable once a listing shows it (S3 and
  // RGW list what they would serve); its records, by the byte range in its key, from the file
  // (reading each object back would make the watcher, not the lane, the bottleneck at 20 MB/s)
  const watchBucket = (async () => {
    let last: string | undefined;
    while (!done || pushLat.length < records) {
      const keys = await listKeys(bucket, 'l/', last);
      const seen = Date.now();
      for (const key of keys) {
        const [, start, end] = /-(\d+)-(\d+)$/.exec(key)!.map(Number) as [number, number, number];
        const fd = openSync(file, 'r');
        const buf = Buffer.alloc(end - start);
        readSync(fd, buf, 0, buf.length, start);
        closeSync(fd);
        for (const t of stamps(buf.toString('utf8'))) pushLat.push(seen - t);
        last = key;
      }
      if (done && pushLat.length >= records) break;
      await sleep(25);
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
  push.child.kill('SIGTERM');
  pull.child.kill('SIGTERM');
  await sleep(500);
  const committed = committedLatency(push.out(), file);
  rmSync(dir, { recursive: true, force: true });
  const load = loadavg();
  await dropBucket(bucket);
  return { push: pushLat, committed, pull: pullLat, records, load };
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

const timed = async (cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> => timedOk(cmd, args, { ...env, ...extraEnv });

async function throughput(totalBytes: number): Promise<string[]> {
  const rtt = Number(process.env.BENCH_RTT_MS ?? 0);
  const target = new URL(endpoint);
  // a link with that round trip and capacity to spare (10 Gbit/s): only the latency counts here
  const proxy = rtt > 0 ? await startDelayProxy(0, { host: target.hostname, port: Number(target.port) }, { delayMs: rtt / 2, mbps: 10_000 }) : undefined;
  const via = proxy ? `http://127.0.0.1:${proxy.port}` : endpoint;
  const viaEnv = { AWS_ENDPOINT_URL: via };
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
  // each tool's fixed cost, measured in the same alternation: the process with nothing to send
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'none.jsonl'), '');
  const windows = (process.env.BENCH_WINDOWS ?? '1,2,4,8').split(',').map(Number);
  const tools: Array<{ name: string; run: (i: number) => Promise<Run>; start: (i: number) => Promise<Run>; runs: Run[]; starts: Run[] }> = [
    ...windows.map((w) => ({
      name: `hybridsync stream push --once --in-flight ${w}`,
      run: (i: number) => timed(process.execPath, hsArgs(['stream', 'push', file, `s3://${bucket}/hs${w}-${i}`, '--once', '--segment-size', '8MiB', '--in-flight', String(w), '--state', join(dir, `s${w}-${i}`, 'state.db')]), viaEnv),
      start: (i: number) => timed(process.execPath, hsArgs(['stream', 'push', join(empty, 'none.jsonl'), `s3://${bucket}/hs${w}-${i}`, '--once', '--in-flight', String(w), '--state', join(dir, `e${w}-${i}`, 'state.db')]), viaEnv),
      runs: [] as Run[],
      starts: [] as Run[],
    })),
    ...[10, 1].map((c) => ({
      name: `aws s3 cp --recursive, ${c === 10 ? '10 concurrent requests (default)' : '1 request at a time'}`,
      run: (i: number) => timed('/usr/bin/aws', ['--endpoint-url', via, 's3', 'cp', '--recursive', '--quiet', parts, `s3://${bucket}/aws${c}-${i}`], c === 1 ? { AWS_CONFIG_FILE: awsConfig1 } : {}),
      start: (i: number) => timed('/usr/bin/aws', ['--endpoint-url', via, 's3', 'cp', '--recursive', '--quiet', join(empty, 'sub-none'), `s3://${bucket}/aws${c}-${i}`], c === 1 ? { AWS_CONFIG_FILE: awsConfig1 } : {}),
      runs: [] as Run[],
      starts: [] as Run[],
    })),
  ];
  mkdirSync(join(empty, 'sub-none'));
  const mib = written / (1 << 20);
  console.log(`\none lane, ${fmt(mib, 0)} MiB of JSONL in ${n} segments of 8 MiB${rtt ? `, through a ${rtt} ms round trip` : ''}; each run (wall s, CPU s), then its process with nothing to send:\n`);
  for (let i = 0; i < RUNS; i++) {
    for (const t of tools) {
      const r = await t.run(i);
      t.runs.push(r);
      const prefix = t.name.startsWith('aws') ? `aws${t.name.includes('10') ? 10 : 1}-${i}/` : `hs${t.name.split(' ').at(-1)}-${i}/`;
      await dropPrefix(bucket, prefix);
      const st = await t.start(i);
      t.starts.push(st);
      console.log(`  run ${i + 1}: ${t.name}: ${fmt(r.wall, 2)} s wall, ${fmt(r.cpu, 2)} s CPU; nothing to send: ${fmt(st.wall, 2)} s, ${fmt(st.cpu, 2)} s CPU; load ${loadavg()}`);
    }
  }
  const rate = (r: Run): number => mib / r.wall;
  const med = (xs: Run[]): number => median(xs.map(rate));
  // sustained: the bytes over the time beyond the tool's own fixed cost (median of its empty runs)
  const sustained = (t: (typeof tools)[number]): number => mib / Math.max(0.01, median(t.runs.map((r) => r.wall)) - median(t.starts.map((r) => r.wall)));
  const [a10, a1] = tools.slice(-2) as [(typeof tools)[number], (typeof tools)[number]];
  const row = (t: (typeof tools)[number]): string =>
    `| ${t.name} | ${fmt(med(t.runs))} MiB/s (min ${fmt(Math.min(...t.runs.map(rate)))}) | ${fmt(sustained(t))} MiB/s | ${fmt(median(t.runs.map((x) => x.cpu / (mib / 1024))), 2)} CPU s/GiB | ` +
    `**${fmt(med(t.runs) / med(a10.runs), 2)}×** / ${fmt(sustained(t) / sustained(a10), 2)}× | ${fmt(med(t.runs) / med(a1.runs), 2)}× / ${fmt(sustained(t) / sustained(a1), 2)}× |`;
  rmSync(dir, { recursive: true, force: true });
  await dropBucket(bucket);
  await proxy?.close();
  return [
    '',
    `median of ${RUNS} alternating runs; "sustained" leaves out each tool's own start (the median of its runs with nothing to send):`,
    '',
    '| tool | throughput (wall, start included) | sustained | client CPU | ÷ aws 10 concurrent: wall / sustained | ÷ aws 1 at a time: wall / sustained |',
    '|---|---|---|---|---|---|',
    ...tools.map(row),
    '',
    `load average after: ${loadavg()}`,
  ];
}

mkdirSync(WORK, { recursive: true });
const ONLY = process.env.BENCH_ONLY ?? 'latency,throughput';
if (ONLY.includes('latency')) {
  const builds: Array<[string, string]> = [['this build', ROOT], ...(BASELINE ? [[process.env.BENCH_BASELINE_LABEL ?? `before (${BASELINE})`, BASELINE] as [string, string]] : [])];
  const rates: Array<[number, number]> = (
    [
      [1e6, Math.round(30 * SCALE) || 10],
      [20e6, Math.round(20 * SCALE) || 5],
    ] as Array<[number, number]>
  ).filter(([r]) => (process.env.BENCH_RATES ?? '1,20').split(',').map(Number).includes(r / 1e6));
  const s = (ms: number): string => `${fmt(ms / 1000, 2)} s`;
  const runs = new Map<string, Latency[]>();
  console.log(`\nlatency, append → readable, 5 s segments (p50 / p95 over every record), ${RUNS} alternating runs; load average at start ${loadavg()}:\n`);
  console.log('| build | load | run | append → object readable (push; watcher lists every 25 ms) | append → segment committed (the lane\'s events) | append → appended locally (push + pull) | records | load average after |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (let i = 0; i < RUNS; i++) {
    for (const [rate, seconds] of rates) {
      for (const [name, root] of builds) {
        const r = await latency(root, rate, seconds);
        const k = `${name}|${rate}`;
        runs.set(k, [...(runs.get(k) ?? []), r]);
        console.log(`| ${name} | ${fmt(rate / 1e6, 0)} MB/s | ${i + 1} | ${s(pct(r.push, 50))} / ${s(pct(r.push, 95))} | ${s(pct(r.committed, 50))} / ${s(pct(r.committed, 95))} | ${s(pct(r.pull, 50))} / ${s(pct(r.pull, 95))} | ${r.records} | ${r.load} |`);
      }
    }
  }
  console.log('\nmedians of the runs:\n');
  console.log('| build | load | push p50 / p95 (object readable) | p50 / p95 (segment committed) | push + pull p50 / p95 |');
  console.log('|---|---|---|---|---|');
  for (const [rate] of rates) {
    for (const [name] of builds) {
      const rs = runs.get(`${name}|${rate}`)!;
      const m = (f: (r: Latency) => number): string => s(median(rs.map(f)));
      console.log(`| ${name} | ${fmt(rate / 1e6, 0)} MB/s | ${m((r) => pct(r.push, 50))} / **${m((r) => pct(r.push, 95))}** | ${m((r) => pct(r.committed, 50))} / ${m((r) => pct(r.committed, 95))} | ${m((r) => pct(r.pull, 50))} / ${m((r) => pct(r.pull, 95))} |`);
    }
  }
  console.log('');
}
if (ONLY.includes('throughput')) for (const l of await throughput(Math.round(400 * SCALE) * 1024 * 1024)) console.log(l);
client.destroy();
