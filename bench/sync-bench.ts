/**
 * bench/sync-bench.ts — hybridsync against its peers on the same Ceph RGW, in one run.
 *   (a) 20,000 x 64 KiB files, upload            hybridsync vs rclone vs aws s3 sync
 *   (b) 4 x 1 GiB files, upload                  hybridsync vs raw SDK multipart PUT vs rclone vs aws
 *   (c) re-sync of 100,000 unchanged files       hybridsync vs rclone vs aws
 * Peak RSS of every run is sampled from /proc. Prints a ratio table (markdown).
 * Scale with BENCH_SCALE=0.1 for a quick look. Not a test: nothing here asserts.
 */
import { spawn } from 'node:child_process';
import { createReadStream, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const ROOT = join(import.meta.dirname, '..');
const WORK = process.env.BENCH_DIR ?? join(tmpdir(), 'hybridsync-bench');
const endpoint = process.env.AWS_ENDPOINT_URL!;
const keyId = process.env.AWS_ACCESS_KEY_ID!;
const secret = process.env.AWS_SECRET_ACCESS_KEY!;
if (!endpoint) throw new Error('source the S3 env first (bench/run.sh does)');

const client = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: keyId, secretAccessKey: secret },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

interface RunResult {
  seconds: number;
  peakRssMiB: number;
  code: number | null;
}

/** Runs a command, sampling its peak RSS (VmHWM) from /proc while it runs. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let peak = 0;
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const sample = (): void => {
      try {
        const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const m = /VmHWM:\s+(\d+) kB/.exec(s);
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        /* exited */
      }
    };
    const timer = setInterval(sample, 50);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) process.stderr.write(`  ! ${cmd} exited ${code}: ${err.slice(-600)}\n`);
      resolve({ seconds, peakRssMiB: Math.round(peak), code });
    });
  });
}

const rcloneEnv = {
  RCLONE_CONFIG_CEPH_TYPE: 's3',
  RCLONE_CONFIG_CEPH_PROVIDER: 'Ceph',
  RCLONE_CONFIG_CEPH_ENDPOINT: endpoint,
  RCLONE_CONFIG_CEPH_ACCESS_KEY_ID: keyId,
  RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY: secret,
  RCLONE_CONFIG_CEPH_FORCE_PATH_STYLE: 'true',
  AWS_CA_BUNDLE: '',
};
const hs = (args: string[], state: string) => measure(process.execPath, [join(ROOT, 'bin/hybridsync.js'), ...args, '--no-progress', '--state', state]);
const rclone = (args: string[]) => measure('rclone', [...args, '--transfers', '16', '--checkers', '16'], rcloneEnv);
const aws = (args: string[]) => measure('/usr/bin/aws', ['--endpoint-url', endpoint, 's3', ...args, '--only-show-errors'], { AWS_CA_BUNDLE: '' });

function makeFiles(dir: string, n: number, size: number): void {
  if (existsSync(join(dir, '.done'))) return;
  rmSync(dir, { recursive: true, force: true });
  const block = randomBytes(size);
  for (let i = 0; i < n; i++) {
    const d = join(dir, `d${String(Math.floor(i / 1000)).padStart(3, '0')}`);
    if (i % 1000 === 0) mkdirSync(d, { recursive: true });
    block.writeUInt32LE(i, 0); // distinct content per file
    writeFileSync(join(d, `f${String(i).padStart(6, '0')}.bin`), block);
  }
  writeFileSync(join(dir, '.done'), '');
}

/** Frees the space a scenario used (the bench cluster is sized for one scenario at a time). */
async function dropBucket(b: string): Promise<void> {
  const conf = process.env.BENCH_CEPH_CONF;
  if (conf) await measure('radosgw-admin', ['-c', conf, '-n', 'client.admin', 'bucket', 'rm', `--bucket=${b}`, '--purge-objects', '--bypass-gc']);
}

async function bucket(name: string): Promise<string> {
  const b = `bench-${name}-${randomBytes(3).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: b }));
  return b;
}

const rows: string[] = [];
const row = (...cells: Array<string | number>): void => void rows.push(`| ${cells.join(' | ')} |`);
const fmt = (x: number, d = 1): string => x.toFixed(d);

async function scenarioA(): Promise<void> {
  const n = Math.round(20_000 * SCALE);
  const dir = join(WORK, `a-${n}`);
  makeFiles(dir, n, 64 * 1024);
  const b = await bucket('a');
  process.stderr.write(`(a) ${n} x 64 KiB\n`);
  const h = await hs(['sync', dir, `s3://${b}/hs`, '--transfers', '16', '--checkers', '16'], join(WORK, `state-a-${b}.db`));
  const r = await rclone(['sync', dir, `ceph:${b}/rclone`]);
  const a = await aws(['sync', dir, `s3://${b}/aws`]);
  const fps = (x: RunResult) => n / x.seconds;
  await dropBucket(b);
  row(`(a) ${n} × 64 KiB upload`, `${fmt(fps(h), 0)} files/s`, `${fmt(fps(r), 0)} files/s`, `${fmt(fps(a), 0)} files/s`, `**${fmt(fps(h) / fps(r), 2)}×** rclone, ${fmt(fps(h) / fps(a), 2)}× aws`, `${h.peakRssMiB} / ${r.peakRssMiB} / ${a.peakRssMiB}`);
}

async function scenarioB(): Promise<void> {
  const n = 4;
  const size = Math.round(1024 * 1024 * 1024 * SCALE);
  const dir = join(WORK, `b-${size}`);
  if (!existsSync(join(dir, '.done'))) {
    mkdirSync(dir, { recursive: true });
    const chunk = randomBytes(16 * 1024 * 1024);
    for (let i = 0; i < n; i++) {
      const parts: Buffer[] = [];
      for (let off = 0; off < size; off += chunk.length) parts.push(chunk.subarray(0, Math.min(chunk.length, size - off)));
      chunk.writeUInt32LE(i + 1, 0);
      writeFileSync(join(dir, `ckpt-${i}.pt`), Buffer.concat(parts));
    }
    writeFileSync(join(dir, '.done'), '');
  }
  const b = await bucket('b');
  process.stderr.write(`(b) 4 x ${size} bytes\n`);
  // raw SDK: lib-storage Upload, 16 MiB parts, 4 files x 4 parts in flight, no hashing
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      new Upload({ client, params: { Bucket: b, Key: `sdk/ckpt-${i}.pt`, Body: createReadStream(join(dir, `ckpt-${i}.pt`)) }, partSize: 16 * 1024 * 1024, queueSize: 4 }).done(),
    ),
  );
  const sdkSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const h = await hs(['sync', dir, `s3://${b}/hs`, '--transfers', '4', '--multipart-concurrency', '4', '--part-size', '16M', '--exclude', '.done'], join(WORK, `state-b-${b}.db`));
  const r = await rclone(['sync', dir, `ceph:${b}/rclone`, '--s3-chunk-size', '16M', '--s3-upload-concurrency', '4']);
  const a = await aws(['sync', dir, `s3://${b}/aws`]);
  await dropBucket(b);
  const mibs = (s: number) => (n * size) / 1024 / 1024 / s;
  row(`(b) 4 × ${fmt(size / 1024 ** 3, 2)} GiB upload`, `${fmt(mibs(h.seconds))} MiB/s`, `${fmt(mibs(r.seconds))} MiB/s`, `${fmt(mibs(a.seconds))} MiB/s`, `**${fmt(sdkSec / h.seconds, 2)}×** raw SDK (${fmt(mibs(sdkSec))} MiB/s), ${fmt(r.seconds / h.seconds, 2)}× rclone`, `${h.peakRssMiB} / ${r.peakRssMiB} / ${a.peakRssMiB}`);
}

async function scenarioC(): Promise<void> {
  const n = Math.round(100_000 * SCALE);
  const dir = join(WORK, `c-${n}`);
  makeFiles(dir, n, 1024);
  const b = await bucket('c');
  const state = join(WORK, `state-c-${b}.db`);
  process.stderr.write(`(c) ${n} files: initial upload\n`);
  const first = await hs(['sync', dir, `s3://${b}/data`, '--transfers', '16', '--checkers', '16'], state);
  process.stderr.write(`    initial upload ${fmt(first.seconds)} s; re-syncs\n`);
  // rclone reads the same mtime metadata hybridsync writes, so both see the tree unchanged
  const h = await hs(['sync', dir, `s3://${b}/data`, '--transfers', '16', '--checkers', '16'], state);
  const r = await rclone(['sync', dir, `ceph:${b}/data`]);
  const a = await aws(['sync', dir, `s3://${b}/data`]);
  // without the state cache (a new machine): HEADs every object like rclone does
  const cold = await hs(['sync', dir, `s3://${b}/data`, '--transfers', '16', '--checkers', '32'], join(WORK, `state-c-cold-${b}.db`));
  await dropBucket(b);
  row(`(c) re-sync ${n} unchanged`, `${fmt(h.seconds)} s (cold state: ${fmt(cold.seconds)} s)`, `${fmt(r.seconds)} s`, `${fmt(a.seconds)} s`, `**${fmt(h.seconds / r.seconds, 3)}** of rclone's time, ${fmt(h.seconds / a.seconds, 2)} of aws's`, `${h.peakRssMiB} / ${r.peakRssMiB} / ${a.peakRssMiB}`);
  row(`RSS vs files (hybridsync)`, `(a) ${Math.round(20_000 * SCALE)} files upload: see above`, '', '', `(c) ${n} files: ${h.peakRssMiB} MiB`, '');
}

mkdirSync(WORK, { recursive: true });
const which = (process.env.BENCH_ONLY ?? 'abc').split('');
if (which.includes('a')) await scenarioA();
if (which.includes('b')) await scenarioB();
if (which.includes('c')) await scenarioC();
const header = ['| scenario | hybridsync | rclone 1.60 | aws-cli v2 | ratio | peak RSS MiB (hs / rclone / aws) |', '|---|---|---|---|---|---|'];
const table = [...header, ...rows].join('\n');
console.log(`\nhybridsync bench, ${new Date().toISOString()}, scale ${SCALE}, Ceph RGW on loopback, 2 cores shared by client and server\n`);
console.log(table);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', `sync-${Date.now()}.md`), `${table}\n`);
client.destroy();
