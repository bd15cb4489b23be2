/**
 * Watch-mode latency of `hybridsync bisync --watch` (local ⇄ Ceph RGW S3, 1 s polling):
 * from a KB-size metadata write on one side to the file being readable on the other, both
 * directions, alternating, over a tree that also holds BENCH_TREE (default 2,000) other
 * files — so a poll that listed the whole tree would show. p50/p95/max printed.
 * Then `bisync` of a fresh tree (first run: no base; second run: nothing changed) against
 * `rclone bisync` (Debian rclone 1.60: --resync first, then a plain run) on the same tree.
 *   eval "$(bash scripts/services/ensure-services.sh | grep '^export ')"; unset AWS_CA_BUNDLE
 *   npm run build && npx tsx bench/bisync-latency.ts
 * BENCH_SAMPLES (default 30 per direction), BENCH_TREE, BENCH_RCLONE=0 to skip rclone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'hybridsync.js');
const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: source the services' s3.env (scripts/services/ensure-services.sh)`);
  return v;
};
const endpoint = need('AWS_ENDPOINT_URL');
const key = need('AWS_ACCESS_KEY_ID');
const secret = need('AWS_SECRET_ACCESS_KEY');
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);
const TREE = Number(process.env.BENCH_TREE ?? 2000);
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: key, secretAccessKey: secret } });
const work = mkdtempSync(join(tmpdir(), 'hs-bisync-bench-'));
const bucket = `bisync-bench-${Date.now().toString(36)}`;

function write(root: string, rel: string, body: string): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, body);
}

function tree(root: string): void {
  for (let i = 0; i < TREE; i++) write(root, `archive/d${i % 50}/f-${i}.json`, JSON.stringify({ i, pad: 'x'.repeat(900) }));
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50)} ms, p95 ${pct(xs, 95)} ms, max ${Math.max(...xs)} ms (n=${xs.length})`;

async function readable(k: string): Promise<string | undefined> {
  try {
    return await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }))).Body!.transformToString();
  } catch {
    return undefined;
  }
}

async function latency(): Promise<{ toRemote: number[]; toLocal: number[] }> {
  const local = join(work, 'watch-local');
  tree(local);
  const env = { ...process.env, HYBRIDSYNC_STATE_DIR: join(work, 'watch-state') };
  const child = spawn(process.execPath, [BIN, 'bisync', local, `s3://${bucket}/watch/`, '--watch', '--poll-interval', '1s', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const t0 = Date.now();
  while (!out.includes('"type":"bisync-summary"')) await sleep(50);
  console.log(`watch: first run (${TREE} files up) took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const toRemote: number[] = [];
  const toLocal: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const body = JSON.stringify({ run: i, status: 'running', at: Date.now() });
    let start = Date.now();
    write(local, `runs/live/l-${i}.json`, body);
    while ((await readable(`watch/runs/live/l-${i}.json`)) !== body) await sleep(10);
    toRemote.push(Date.now() - start);
    await sleep(200 + Math.random() * 300);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `watch/runs/live/r-${i}.json`, Body: body }));
    start = Date.now();
    const f = join(local, `runs/live/r-${i}.json`);
    while (!(existsSync(f) && readFileSync(f, 'utf8') === body)) await sleep(5);
    toLocal.push(Date.now() - start);
    await sleep(200 + Math.random() * 300);
  }
  child.kill('SIGINT');
  await new Promise((r) => child.on('exit', r));
  return { toRemote, toLocal };
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): { wall: number; stdout: string } {
  const t = Date.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(-2000)}`);
  return { wall: Date.now() - t, stdout: r.stdout.toString() };
}

/** Wall time of a hybridsync run and the run's own duration (its summary), which leaves out Node's start-up. */
function hsRun(args: string[], env: NodeJS.ProcessEnv): { wall: number; run: number } {
  const r = timed(process.execPath, [BIN, ...args, '--json'], env);
  const line = r.stdout.split('\n').find((l) => l.includes('"type":"bisync-summary"'))!;
  return { wall: r.wall, run: (JSON.parse(line) as { summary: { durationMs: number } }).summary.durationMs };
}
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function runs(): void {
  const hsLocal = join(work, 'runs-hs');
  const rcLocal = join(work, 'runs-rc');
  tree(hsLocal);
  tree(rcLocal);
  const hsEnv = { ...process.env, HYBRIDSYNC_STATE_DIR: join(work, 'runs-state') };
  const start = timed(process.execPath, [BIN, '--version'], hsEnv).wall;
  const hs1 = hsRun(['bisync', hsLocal, `s3://${bucket}/hs/`], hsEnv);
  const hs2 = hsRun(['bisync', hsLocal, `s3://${bucket}/hs/`], hsEnv);
  console.log(`hybridsync --version (process start-up on this machine): ${secs(start)}`);
  console.log(`hybridsync bisync, ${TREE} files: first run ${secs(hs1.wall)} wall (${secs(hs1.run)} in the run), second run (no change) ${secs(hs2.wall)} wall (${secs(hs2.run)} in the run)`);
  if (process.env.BENCH_RCLONE === '0' || spawnSync('rclone', ['version']).status !== 0) return;
  const rcEnv: NodeJS.ProcessEnv = {
    ...process.env,
    RCLONE_CONFIG_CEPH_TYPE: 's3',
    RCLONE_CONFIG_CEPH_PROVIDER: 'Ceph',
    RCLONE_CONFIG_CEPH_ENDPOINT: endpoint,
    RCLONE_CONFIG_CEPH_ACCESS_KEY_ID: key,
    RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY: secret,
    RCLONE_CONFIG_CEPH_FORCE_PATH_STYLE: 'true',
    XDG_CACHE_HOME: join(work, 'rclone-cache'),
  };
  delete rcEnv.AWS_CA_BUNDLE;
  const common = ['bisync', rcLocal, `ceph:${bucket}/rc`, '--transfers', '8', '--checkers', '16'];
  const rc1 = timed('rclone', [...common, '--resync'], rcEnv).wall;
  const rc2 = timed('rclone', common, rcEnv).wall;
  console.log(`rclone bisync,      ${TREE} files: first run (--resync) ${secs(rc1)} wall, second run (no change) ${secs(rc2)} wall`);
  console.log(`ratio rclone/hybridsync wall: first run ${(rc1 / hs1.wall).toFixed(2)}, second run ${(rc2 / hs2.wall).toFixed(2)}; rclone wall / hybridsync in-run: ${(rc1 / hs1.run).toFixed(2)}, ${(rc2 / hs2.run).toFixed(2)}`);
}

await client.send(new CreateBucketCommand({ Bucket: bucket }));
const l = await latency();
console.log(`load average: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
console.log(`local write -> readable in S3:  ${fmt(l.toRemote)}`);
console.log(`S3 write    -> readable locally: ${fmt(l.toLocal)}`);
runs();
client.destroy();
