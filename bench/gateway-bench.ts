/**
 * The caching gateway against the upstream it fronts (Ceph RGW): GET throughput and
 * first-byte latency for a cache miss, a cache hit and the upstream directly; PUT
 * throughput through the gateway (acknowledged once durable on local disk) and directly,
 * and the time until a flush has a batch in the cloud. BENCH_RUNS rounds (default 3) in
 * alternating order; the tables give medians over every object of every round, the client's
 * CPU time (this process) and the gateway's (its own process, from /proc), and the load
 * average before and after. The gateway runs as the built CLI; the client is the AWS SDK v3
 * (its default checksums toward the gateway, none toward Ceph). Run through bench/run.sh, or
 *   source /tmp/testenv.sh (or the services' s3.env); npx tsx bench/gateway-bench.ts
 * BENCH_SCALE (default 1: 6 objects of 64 MiB) scales the object size. BENCH_GW_NODE_ARGS
 * passes node flags to the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/gwprof"; BENCH_GW_BIN another
 * build's bin/hybridsync.js (to compare two versions).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const ROOT = join(import.meta.dirname, '..');
const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run through bench/run.sh or source the services' s3.env`);
  return v;
};
const up = { endpoint: need('AWS_ENDPOINT_URL'), key: need('AWS_ACCESS_KEY_ID'), secret: need('AWS_SECRET_ACCESS_KEY') };
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SIZE = Math.max(1, Math.round(64 * SCALE)) * 1024 * 1024;
const N = 6;
const GW = { key: 'BENCHGATEWAYKEY00001', secret: 'bench-gateway-secret' };
const TICK = 100; // clock ticks per second of /proc/<pid>/stat (Linux default)

const client = (endpoint: string, key: string, secret: string, checksums: boolean): S3Client =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: key, secretAccessKey: secret },
    ...(checksums ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }),
  });

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mibs = (bytes: number, ms: number): number => bytes / 1024 / 1024 / (ms / 1000);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const procCpuMs = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICK; // utime + stime
};

interface Sample {
  mibs: number;
  firstByteMs?: number;
  clientCpuMs: number;
  gatewayCpuMs: number;
}

async function get(c: S3Client, bucket: string, key: string): Promise<{ firstByteMs: number; totalMs: number }> {
  const t0 = performance.now();
  const r = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  let first = 0;
  let n = 0;
  for await (const chunk of r.Body as AsyncIterable<Buffer>) {
    if (n === 0) first = performance.now() - t0;
    n += chunk.length;
  }
  if (n !== SIZE) throw new Error(`${key}: read ${n} bytes, expected ${SIZE}`);
  return { firstByteMs: first, totalMs: performance.now() - t0 };
}

async function main(): Promise<void> {
  const direct = client(up.endpoint, up.key, up.secret, false);
  const bucket = `gwbench-${randomBytes(4).toString('hex')}`;
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
  process.stderr.write(`bucket ${bucket}: writing ${N} objects of ${SIZE} bytes to read back\n`);
  const bodies = Array.from({ length: N }, () => randomBytes(SIZE));
  for (let i = 0; i < N; i++) await direct.send(new PutObjectCommand({ Bucket: bucket, Key: `read/o${i}`, Body: bodies[i] }));
  const loadBefore = load();

  const cache = mkdtempSync(join(tmpdir(), 'gwbench-cache-'));
  const nodeArgs = (process.env.BENCH_GW_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, process.env.BENCH_GW_BIN ?? join(ROOT, 'bin', 'hybridsync.js'), 'gateway', '--listen', '127.0.0.1:0', '--upstream', `s3://${bucket}`, '--cache', cache, '--max-size', '100G'], {
    env: { ...process.env, HYBRIDSYNC_GATEWAY_ACCESS_KEY_ID: GW.key, HYBRIDSYNC_GATEWAY_SECRET_ACCESS_KEY: GW.secret, HYBRIDSYNC_STATE_DIR: cache, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = / on (http:\/\/[^\s]+) \(cache/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${err}`)));
  });
  const token = readFileSync(join(cache, '.gateway', 'admin-token'), 'utf8').trim();
  const admin = async (path: string): Promise<void> => {
    const r = await fetch(`${url}/_hybridsync/${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    await r.text();
  };
  const gw = client(url, GW.key, GW.secret, true);
  /** Runs `fn`, returning its client and gateway CPU time. */
  const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T; clientCpuMs: number; gatewayCpuMs: number }> => {
    const c0 = cpuMs();
    const g0 = procCpuMs(child.pid!);
    const value = await fn();
    return { value, clientCpuMs: cpuMs() - c0, gatewayCpuMs: procCpuMs(child.pid!) - g0 };
  };
  const samples = new Map<string, Sample[]>();
  const add = (label: string, s: Sample): void => void samples.set(label, [...(samples.get(label) ?? []), s]);
  const keys = Array.from({ length: N }, (_, i) => `read/o${i}`);
  let putSeq = 0;

  const getRound = async (label: string, c: S3Client): Promise<void> => {
    for (const k of keys) {
      const t = await timed(() => get(c, bucket, k));
      add(label, { mibs: mibs(SIZE, t.value.totalMs), firstByteMs: t.value.firstByteMs, clientCpuMs: t.clientCpuMs, gatewayCpuMs: t.gatewayCpuMs });
    }
  };
  /** N PUTs one after the other: each one's MiB/s; through the gateway, also until a flush has the batch in the cloud. */
  const putRound = async (label: string, c: S3Client): Promise<void> => {
    const t0 = performance.now();
    const all = await timed(async () => {
      for (let i = 0; i < N; i++) {
        const t = await timed(async () => {
          const s = performance.now();
          await c.send(new PutObjectCommand({ Bucket: bucket, Key: `put/${label.startsWith('gateway') ? 'gw' : 'direct'}/${putSeq++}`, Body: bodies[i], ContentLength: SIZE }));
          return performance.now() - s;
        });
        add(label, { mibs: mibs(SIZE, t.value), clientCpuMs: t.clientCpuMs, gatewayCpuMs: t.gatewayCpuMs });
      }
      if (c === gw) await admin('flush');
    });
    if (c === gw) add('gateway, batch until flush --wait has it in the cloud', { mibs: mibs(N * SIZE, performance.now() - t0), clientCpuMs: all.clientCpuMs / N, gatewayCpuMs: all.gatewayCpuMs / N });
  };

  try {
    for (let r = 0; r < RUNS; r++) {
      await admin('release?prefix=read/');
      const gets: Array<[string, S3Client]> = [
        ['upstream directly', direct],
        ['gateway, cache miss (streams while it fills the cache)', gw],
        ['gateway, cache hit', gw],
      ];
      if (r % 2 === 1) gets.push(gets.shift()!); // miss, hit, direct
      for (const [label, c] of gets) await getRound(label, c);
      const puts: Array<[string, S3Client]> = [
        ['upstream directly', direct],
        ['gateway (200 once durable on local disk)', gw],
      ];
      if (r % 2 === 1) puts.reverse();
      for (const [label, c] of puts) await putRound(`PUT ${label}`, c);
      process.stderr.write(`round ${r + 1}/${RUNS} done, load ${load()}\n`);
    }
    const loadAfter = load();
    const row = (label: string, base: number, fb: boolean): string => {
      const s = samples.get(label)!;
      const m = median(s.map((x) => x.mibs));
      const cpu = (k: 'clientCpuMs' | 'gatewayCpuMs'): string => (median(s.map((x) => x[k])) / (SIZE / 1024 / 1024)).toFixed(1);
      return `| ${label.replace(/^PUT /, '')} |${fb ? ` ${median(s.map((x) => x.firstByteMs!)).toFixed(1)} |` : ''} ${m.toFixed(1)} | ${(m / base).toFixed(2)}× | ${cpu('clientCpuMs')} | ${cpu('gatewayCpuMs')} |\n`;
    };
    const out = process.stdout;
    out.write(`\n## Caching gateway (bench/gateway-bench.ts, ${N} × ${SIZE / 1024 / 1024} MiB, ${RUNS} alternating rounds, Ceph RGW upstream on loopback)\n\n`);
    out.write(`Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAfter}. CPU columns: median ms of CPU per MiB moved, client (this process) and gateway (its process).\n\n`);
    const directGet = median(samples.get('upstream directly')!.map((x) => x.mibs));
    out.write('| GET | median first byte ms | median MiB/s | vs upstream directly | client CPU ms/MiB | gateway CPU ms/MiB |\n|---|---|---|---|---|---|\n');
    for (const l of ['upstream directly', 'gateway, cache miss (streams while it fills the cache)', 'gateway, cache hit']) out.write(row(l, directGet, true));
    const directPut = median(samples.get('PUT upstream directly')!.map((x) => x.mibs));
    out.write('\n| PUT | median MiB/s | vs directly | client CPU ms/MiB | gateway CPU ms/MiB |\n|---|---|---|---|---|\n');
    for (const l of ['PUT upstream directly', 'PUT gateway (200 once durable on local disk)', 'gateway, batch until flush --wait has it in the cloud']) out.write(row(l, directPut, false));
  } finally {
    gw.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(cache, { recursive: true, force: true });
    for (;;) {
      const l = await direct.send(new ListObjectsV2Command({ Bucket: bucket }));
      const objs = (l.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (objs.length === 0) break;
      await direct.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objs } }));
    }
    await direct.send(new DeleteBucketCommand({ Bucket: bucket }));
    direct.destroy();
  }
}

await main();
