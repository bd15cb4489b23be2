/**
 * bench/sync-bench.ts — hybridsync against rclone and aws-cli on the same Ceph RGW, in one run.
 *
 *   (a) 20,000 × 64 KiB files, upload
 *   (b) 4 × 1 GiB files, upload
 *   (c) re-sync of 100,000 unchanged files
 *   (d) (a) over a long-latency link: bench/delay-proxy.ts, 10 ms each way, 1 Gbit/s
 *   (e) (b) over the same link
 *
 * Every scenario runs each tool BENCH_ROUNDS times (default 3), alternating (hybridsync,
 * rclone, …, then the next round starting one tool later), each run into a fresh bucket that
 * is dropped afterwards, so neither order nor server warm-up favours anyone. Per run: wall
 * time, client CPU (user + sys of the process and its children, from wait4 via
 * /usr/bin/time) and peak RSS. Printed: min / median / max, per 1,000 files and per GiB, and
 * hybridsync's ratio to each peer from the medians.
 *
 * Peers: rclone at hybridsync's concurrency (`--transfers 32 --checkers 16`, "equal"), rclone
 * as the seed documents ran it (`--transfers 32 --checkers 16 --s3-upload-concurrency 8`,
 * "seed flags"), rclone with its own defaults (the long-latency scenarios' "defaults"
 * comparison), `aws s3 sync`. hybridsync runs with its defaults everywhere.
 *
 * BENCH_SCALE=0.1 for a quick look; BENCH_ONLY=ad picks scenarios; BENCH_ROUNDS=5;
 * BENCH_HS_FLAGS="--transfers 32" adds hybridsync with those flags as one more tool in the
 * upload scenarios (an A/B of a default in the same alternating rounds).
 * BENCH_HS_BASE=/path/to/another/checkout (built) adds that build of hybridsync, with its
 * defaults, the same way: two builds compared in the same rounds. BENCH_HS_NODE=/path/to/node
 * adds hybridsync run by that Node (scripts/node24.sh prints one), e.g. to see the start with
 * Node 22+'s compile cache.
 * BENCH_TOOLS=rclone,aws keeps hybridsync and only the peers whose names contain one of
 * those words (e.g. BENCH_TOOLS="seed flags" for the full-scale (a) without aws-cli).
 * Not a test: nothing here asserts. Run through bench/run.sh (its own Ceph cluster).
 */
import { execFileSync, spawn } from 'node:child_process';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { timed } from './timed.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
const ROOT = join(import.meta.dirname, '..');
const WORK = process.env.BENCH_DIR ?? join(tmpdir(), 'hybridsync-bench');
const endpoint = process.env.AWS_ENDPOINT_URL!;
const keyId = process.env.AWS_ACCESS_KEY_ID!;
const secret = process.env.AWS_SECRET_ACCESS_KEY!;
if (!endpoint) throw new Error('source the S3 env first (bench/run.sh does)');
const GiB = 1024 ** 3;

const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: keyId, secretAccessKey: secret } });

interface Run {
  wall: number;
  cpu: number;
  rssMiB: number;
  ok: boolean;
}

/** A run of a tool: wall, CPU and peak RSS (bench/timed.ts); a failed run is reported and kept out of the figures. */
async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const r = await timed(cmd, args, { ...process.env, ...env });
  if (r.code !== 0) process.stderr.write(`  ! ${cmd} exited ${r.code}: ${r.stderr.slice(-600)}\n`);
  return { wall: r.wall, cpu: r.cpu, rssMiB: r.rssMiB, ok: r.code === 0 };
}

type Tool = (src: string, bucket: string, prefix: string, ep: string) => Promise<Run>;

const rcloneEnv = (ep: string): NodeJS.ProcessEnv => ({
  RCLONE_CONFIG_CEPH_TYPE: 's3',
  RCLONE_CONFIG_CEPH_PROVIDER: 'Ceph',
  RCLONE_CONFIG_CEPH_ENDPOINT: ep,
  RCLONE_CONFIG_CEPH_ACCESS_KEY_ID: keyId,
  RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY: secret,
  RCLONE_CONFIG_CEPH_FORCE_PATH_STYLE: 'true',
  AWS_CA_BUNDLE: '',
});
const hsTool =
  (extra: string[] = [], state?: string, root = ROOT, node = process.execPath): Tool =>
  (src, bucket, prefix, ep) =>
    measure(node, [join(root, 'bin/hybridsync.js'), 'sync', src, `s3://${bucket}/${prefix}`, '--no-progress', '--s3-endpoint', ep, '--state', state ?? join(WORK, `state-${bucket}-${prefix}.db`), ...extra]);
const rcloneTool =
  (flags: string[]): Tool =>
  (src, bucket, prefix, ep) =>
    measure('rclone', ['sync', src, `ceph:${bucket}/${prefix}`, ...flags], rcloneEnv(ep));
const awsTool: Tool = (src, bucket, prefix, ep) => measure('/usr/bin/aws', ['--endpoint-url', ep, 's3', 'sync', src, `s3://${bucket}/${prefix}`, '--only-show-errors'], { AWS_CA_BUNDLE: '' });

const RCLONE_EQUAL = ['--transfers', '32', '--checkers', '16'];
const RCLONE_SEED = ['--transfers', '32', '--checkers', '16', '--s3-upload-concurrency', '8'];

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

function makeBigFiles(dir: string, n: number, size: number): void {
  if (existsSync(join(dir, '.done'))) return;
  mkdirSync(dir, { recursive: true });
  const chunk = randomBytes(16 * 1024 * 1024);
  for (let i = 0; i < n; i++) {
    const parts: Buffer[] = [];
    for (let off = 0; off < size; off += chunk.length) parts.push(Buffer.from(chunk.subarray(0, Math.min(chunk.length, size - off))));
    parts[0]!.writeUInt32LE(i + 1, 0);
    writeFileSync(join(dir, `ckpt-${i}.pt`), Buffer.concat(parts));
  }
  writeFileSync(join(dir, '.done'), '');
}

async function newBucket(tag: string): Promise<string> {
  const b = `bench-${tag}-${randomBytes(3).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: b }));
  return b;
}

/** Frees the space a run used (the bench cluster holds one scenario's data at a time). */
async function dropBucket(b: string): Promise<void> {
  const conf = process.env.BENCH_CEPH_CONF;
  if (conf) await measure('radosgw-admin', ['-c', conf, '-n', 'client.admin', 'bucket', 'rm', `--bucket=${b}`, '--purge-objects', '--bypass-gc']);
  // not our own cluster (no admin access): through the S3 API, so a run never fills the store
  else await measure('/usr/bin/aws', ['--endpoint-url', endpoint, 's3', 'rb', `s3://${b}`, '--force']);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
const range = (xs: number[], d = 1): string => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;

interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly files: number;
  readonly bytes: number;
  /** Tools in alternation order; the first is hybridsync. */
  readonly tools: ReadonlyArray<readonly [string, Tool]>;
  readonly src: string;
  /** Endpoint the tools talk to (the delay proxy for the link scenarios). */
  readonly ep: string;
  /** A prefix already holding the files (re-sync): runs go there instead of a fresh bucket. */
  readonly existing?: { bucket: string; prefix: string };
}

const report: string[] = [];
const json: unknown[] = [];

const toolFilter = process.env.BENCH_TOOLS?.split(',').map((w) => w.trim()).filter(Boolean);

async function runScenario(all: Scenario): Promise<void> {
  const s = toolFilter ? { ...all, tools: all.tools.filter(([name], i) => i === 0 || name.startsWith('hybridsync') || toolFilter.some((w) => name.includes(w))) } : all;
  process.stderr.write(`${s.id}: ${s.title}\n`);
  const runs = new Map<string, Run[]>(s.tools.map(([name]) => [name, []]));
  const loads: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < s.tools.length; i++) {
      const [name, tool] = s.tools[(i + round) % s.tools.length]!;
      const bucket = s.existing?.bucket ?? (await newBucket(s.id.replace(/\W/g, '')));
      const prefix = s.existing?.prefix ?? 'data';
      loads.push(loadavg()[0]!);
      const r = await tool(s.src, bucket, prefix, s.ep);
      process.stderr.write(`  round ${round + 1} ${name}: ${fmt(r.wall)} s wall, ${fmt(r.cpu)} s CPU, ${r.rssMiB} MiB${r.ok ? '' : ' FAILED'}\n`);
      runs.get(name)!.push(r);
      if (!s.existing) await dropBucket(bucket);
    }
  }
  const per = (x: number): { k: number; g: number } => ({ k: (x / s.files) * 1000, g: x / (s.bytes / GiB) });
  const hs = runs.get(s.tools[0]![0])!;
  report.push(`\n### ${s.id}: ${s.title}\n`);
  report.push(`${ROUNDS} alternating rounds; load average (1 min) during the runs ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))}. Median (min–max).\n`);
  report.push('| tool | wall s | files/s | MiB/s | client CPU s | CPU s / 1k files | CPU s / GiB | peak RSS MiB | hybridsync: files/s ratio, CPU ratio |');
  report.push('|---|---|---|---|---|---|---|---|---|');
  for (const [name] of s.tools) {
    const rs = runs.get(name)!.filter((r) => r.ok);
    if (rs.length === 0) {
      report.push(`| ${name} | failed | | | | | | | |`);
      continue;
    }
    const wall = rs.map((r) => r.wall);
    const cpu = rs.map((r) => r.cpu);
    const ratio = name === s.tools[0]![0] ? '—' : `**${fmt(median(wall) / median(hs.map((r) => r.wall)), 2)}×** faster, CPU **${fmt(median(hs.map((r) => r.cpu)) / median(cpu), 2)}×**`;
    report.push(
      `| ${name} | ${range(wall)} | ${range(wall.map((w) => s.files / w), 0)} | ${range(wall.map((w) => s.bytes / 2 ** 20 / w))} | ${range(cpu, 2)} | ${fmt(per(median(cpu)).k, 3)} | ${fmt(per(median(cpu)).g, 2)} | ${median(rs.map((r) => r.rssMiB))} | ${ratio} |`,
    );
    json.push({ scenario: s.id, tool: name, runs: rs });
  }
}

mkdirSync(WORK, { recursive: true });
const which = (process.env.BENCH_ONLY ?? 'abcde').split('');
const smallN = Math.round(20_000 * SCALE);
const smallDir = join(WORK, `a-${smallN}`);
const bigSize = Math.round(GiB * SCALE);
const bigDir = join(WORK, `b-${bigSize}`);
const variant = process.env.BENCH_HS_FLAGS?.split(' ').filter(Boolean);
const base = process.env.BENCH_HS_BASE;
const otherNode = process.env.BENCH_HS_NODE;
const variantTools = (): Array<[string, Tool]> => [
  ...(variant ? [[`hybridsync ${variant.join(' ')}`, hsTool(variant)] as [string, Tool]] : []),
  ...(base ? [[`hybridsync (the build in ${base})`, hsTool([], undefined, base)] as [string, Tool]] : []),
  ...(otherNode ? [[`hybridsync on Node ${execFileSync(otherNode, ['--version'], { encoding: 'utf8' }).trim()}`, hsTool([], undefined, ROOT, otherNode)] as [string, Tool]] : []),
];
const loopTools = (): Array<[string, Tool]> => [
  ['hybridsync', hsTool()],
  ...variantTools(),
  ['rclone (equal: --transfers 32 --checkers 16)', rcloneTool(RCLONE_EQUAL)],
  ['rclone (seed flags: --transfers 32 --checkers 16 --s3-upload-concurrency 8)', rcloneTool(RCLONE_SEED)],
  ['aws s3 sync', awsTool],
];

if (which.includes('a')) {
  makeFiles(smallDir, smallN, 64 * 1024);
  await runScenario({ id: '(a)', title: `${smallN} × 64 KiB upload`, files: smallN, bytes: smallN * 64 * 1024, src: smallDir, ep: endpoint, tools: loopTools() });
}
if (which.includes('b')) {
  makeBigFiles(bigDir, 4, bigSize);
  await runScenario({ id: '(b)', title: `4 × ${fmt(bigSize / GiB, 2)} GiB upload`, files: 4, bytes: 4 * bigSize, src: bigDir, ep: endpoint, tools: loopTools() });
}
if (which.includes('c')) {
  const n = Math.round(100_000 * SCALE);
  const dir = join(WORK, `c-${n}`);
  makeFiles(dir, n, 1024);
  const bucket = await newBucket('c');
  const state = join(WORK, `state-c-${bucket}.db`);
  process.stderr.write(`(c) initial upload of ${n} files\n`);
  await hsTool([], state)(dir, bucket, 'data', endpoint);
  await runScenario({
    id: '(c)',
    title: `re-sync of ${n} unchanged files`,
    files: n,
    bytes: n * 1024,
    src: dir,
    ep: endpoint,
    existing: { bucket, prefix: 'data' },
    tools: [
      // rclone reads the mtime metadata hybridsync writes, so every tool sees the tree unchanged
      ['hybridsync', hsTool([], state)],
      ['hybridsync with an empty state db (a new machine: HEADs like rclone)', (src, b, p, ep) => hsTool([], join(WORK, `state-c-cold-${randomBytes(3).toString('hex')}.db`))(src, b, p, ep)],
      ['rclone (equal: --transfers 32 --checkers 16)', rcloneTool(RCLONE_EQUAL)],
      ['aws s3 sync', awsTool],
    ],
  });
  await dropBucket(bucket);
}
if (which.includes('d') || which.includes('e')) {
  const target = new URL(endpoint);
  const link = { delayMs: Number(process.env.BENCH_DELAY_MS ?? 10), mbps: Number(process.env.BENCH_LINK_MBPS ?? 1000) };
  // the proxy is the network: in a process of its own, so its CPU is not the clients'
  const proxyChild = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/delay-proxy.ts'), '--target', `${target.hostname}:${target.port}`, '--delay-ms', String(link.delayMs), '--mbps', String(link.mbps)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => proxyChild.stdout.on('data', (d: Buffer) => resolve(Number(/listening (\d+)/.exec(d.toString())?.[1]))));
  const ep = `http://127.0.0.1:${port}`;
  const linkTitle = `over a link of ${link.delayMs} ms each way, ${link.mbps} Mbit/s`;
  const linkTools = (): Array<[string, Tool]> => [
    ['hybridsync (defaults)', hsTool()],
    ...variantTools(),
    ['rclone (defaults)', rcloneTool([])],
    ['rclone (seed flags: --transfers 32 --checkers 16 --s3-upload-concurrency 8)', rcloneTool(RCLONE_SEED)],
  ];
  if (which.includes('d')) {
    const n = Math.round(5_000 * SCALE);
    const dir = join(WORK, `d-${n}`);
    makeFiles(dir, n, 64 * 1024);
    await runScenario({ id: '(d)', title: `${n} × 64 KiB upload ${linkTitle}`, files: n, bytes: n * 64 * 1024, src: dir, ep, tools: linkTools() });
  }
  if (which.includes('e')) {
    const size = Math.round(256 * 2 ** 20 * SCALE);
    const dir = join(WORK, `e-${size}`);
    makeBigFiles(dir, 4, size);
    await runScenario({ id: '(e)', title: `4 × ${fmt(size / 2 ** 20, 0)} MiB upload ${linkTitle}`, files: 4, bytes: 4 * size, src: dir, ep, tools: linkTools() });
  }
  proxyChild.kill();
}

const text = `hybridsync bench ${new Date().toISOString()}, scale ${SCALE}, Ceph RGW on loopback, 2 cores shared by the clients and the server\n${report.join('\n')}\n`;
console.log(text);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
const stamp = Date.now();
writeFileSync(join(ROOT, 'bench', 'results', `sync-${stamp}.md`), text);
writeFileSync(join(ROOT, 'bench', 'results', `sync-${stamp}.json`), JSON.stringify(json, null, 1));
client.destroy();
