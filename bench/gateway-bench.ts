/**
 * The caching gateway against the upstream it fronts (Ceph RGW), one run: GET throughput
 * and first-byte latency for a cache miss, a cache hit and the upstream directly; PUT
 * throughput through the gateway (acknowledged once durable on local disk) and directly,
 * and the time until a flush has everything in the cloud. The gateway runs as the built
 * CLI in its own process; the client is the AWS SDK v3. Run through bench/run.sh, or
 *   eval "$(bash scripts/services/ensure-services.sh | grep '^export ')"; npx tsx bench/gateway-bench.ts
 * BENCH_SCALE (default 1: 6 objects of 64 MiB) scales the object size.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const ROOT = join(import.meta.dirname, '..');
const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run through bench/run.sh or source the services' s3.env`);
  return v;
};
const up = { endpoint: need('AWS_ENDPOINT_URL'), key: need('AWS_ACCESS_KEY_ID'), secret: need('AWS_SECRET_ACCESS_KEY') };
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const SIZE = Math.max(1, Math.round(64 * SCALE)) * 1024 * 1024;
const N = 6;
const GW = { key: 'BENCHGATEWAYKEY00001', secret: 'bench-gateway-secret' };

const client = (endpoint: string, key: string, secret: string, checksums: boolean): S3Client =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: key, secretAccessKey: secret },
    ...(checksums ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }),
  });

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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mibs = (ms: number): number => SIZE / 1024 / 1024 / (ms / 1000);

async function main(): Promise<void> {
  const direct = client(up.endpoint, up.key, up.secret, false);
  const bucket = `gwbench-${randomBytes(4).toString('hex')}`;
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
  const bodies = Array.from({ length: N }, () => randomBytes(SIZE));
  for (let i = 0; i < N; i++) await direct.send(new PutObjectCommand({ Bucket: bucket, Key: `read/o${i}`, Body: bodies[i] }));

  const cache = mkdtempSync(join(tmpdir(), 'gwbench-cache-'));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'hybridsync.js'), 'gateway', '--listen', '127.0.0.1:0', '--upstream', `s3://${bucket}`, '--cache', cache, '--max-size', '100G'], {
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
  const gw = client(url, GW.key, GW.secret, true);
  try {
    const rows: Array<[string, number[], number[]]> = [];
    const measure = async (label: string, c: S3Client, keys: string[]): Promise<void> => {
      const r = [];
      for (const k of keys) r.push(await get(c, bucket, k));
      rows.push([label, r.map((x) => x.firstByteMs), r.map((x) => mibs(x.totalMs))]);
    };
    const keys = Array.from({ length: N }, (_, i) => `read/o${i}`);
    await measure('upstream directly', direct, keys);
    await measure('gateway, cache miss', gw, keys);
    await measure('gateway, cache hit', gw, keys);

    const putTimes = async (c: S3Client, prefix: string): Promise<number[]> => {
      const out = [];
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        await c.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/p${i}`, Body: bodies[i], ContentLength: SIZE }));
        out.push(mibs(performance.now() - t0));
      }
      return out;
    };
    const putDirect = await putTimes(direct, 'put-direct');
    const t0 = performance.now();
    const putGw = await putTimes(gw, 'put-gw');
    const admin = await fetch(`${url}/_hybridsync/flush`, { method: 'POST', headers: { authorization: `Bearer ${(await import('node:fs')).readFileSync(join(cache, '.gateway', 'admin-token'), 'utf8').trim()}` } });
    if (!admin.ok) throw new Error(`flush: ${admin.status}`);
    const inCloudMiBs = (N * SIZE) / 1024 / 1024 / ((performance.now() - t0) / 1000);

    const d = rows[0]!;
    process.stdout.write(`\n## Caching gateway (bench/gateway-bench.ts, ${N} × ${SIZE / 1024 / 1024} MiB, Ceph RGW upstream on loopback)\n\n`);
    process.stdout.write('| GET | median first byte ms | median MiB/s | throughput vs upstream directly |\n|---|---|---|---|\n');
    for (const [label, fb, tp] of rows) process.stdout.write(`| ${label} | ${median(fb).toFixed(1)} | ${median(tp).toFixed(1)} | ${(median(tp) / median(d[2])).toFixed(2)}× |\n`);
    process.stdout.write('\n| PUT | median MiB/s | vs directly |\n|---|---|---|\n');
    process.stdout.write(`| upstream directly | ${median(putDirect).toFixed(1)} | 1.00× |\n`);
    process.stdout.write(`| gateway (200 once durable on local disk) | ${median(putGw).toFixed(1)} | ${(median(putGw) / median(putDirect)).toFixed(2)}× |\n`);
    process.stdout.write(`| gateway, until flush --wait has all in the cloud | ${inCloudMiBs.toFixed(1)} | ${(inCloudMiBs / median(putDirect)).toFixed(2)}× |\n`);
  } finally {
    gw.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(cache, { recursive: true, force: true });
    direct.destroy();
  }
}

await main();
