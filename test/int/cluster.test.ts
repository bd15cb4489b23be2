/**
 * hybridsync cluster on real servers: Redis (Debian's redis-server, one per file) and Ceph
 * RGW. Worker processes with separate state directories take shards of one run; the
 * result is checked by rclone and by hashes, the shared bandwidth cap from the bytes and
 * the transfer window the workers recorded, and at-least-once delivery by killing a worker
 * mid-shard and by enqueueing a shard twice.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, QueueEvents } from 'bullmq';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, listAll, rcloneEnv, testClient } from '../helpers/s3.js';
import { randomFile, readJsonl, tempDir, treeHashes } from '../helpers/fs.js';
import { events, runCli, spawnCli } from '../helpers/cli.js';
import { clusterMonitor } from '../../src/api/cluster.js';
import { OpsMetrics } from '../../src/server/metrics.js';
import { redisSkipReason, startRedis, type TestRedis } from '../helpers/redis.js';

const MiB = 1024 * 1024;

/** A worker process and its NDJSON events as they arrive. */
class WorkerProc {
  readonly child: ChildProcess;
  readonly seen: Array<Record<string, unknown>> = [];
  private waiters: Array<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    redis: string,
    readonly stateDir: string,
  ) {
    this.child = spawnCli(
      ['cluster', 'worker', '--redis', redis, '--name', name, '--state', join(stateDir, 'state.db'), '--lock-duration', '4s', '--json'],
      { HYBRIDSYNC_STATE_DIR: stateDir },
    );
    this.exited = new Promise((r) => this.child.on('close', () => r()));
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      if (!l.startsWith('{')) return;
      const e = JSON.parse(l) as Record<string, unknown>;
      this.seen.push(e);
      this.waiters = this.waiters.filter((w) => (w.match(e) ? (w.resolve(e), false) : true));
    });
    this.child.stderr!.resume();
  }

  /** The first event (past or future) that matches. */
  next(match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const old = this.seen.find(match);
    return old ? Promise.resolve(old) : new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

function makeTree(files: number, minSize: number, maxSize: number): { dir: string; bytes: number } {
  const dir = tempDir('cluster-src');
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const size = minSize + ((i * 7919) % (maxSize - minSize));
    randomFile(dir, `part-${String(i % 20).padStart(2, '0')}/sample-${String(i).padStart(5, '0')}.bin`, size);
    bytes += size;
  }
  return { dir, bytes };
}

function rcloneCheck(src: string, remote: string): void {
  // throws (non-zero exit) on any difference in either direction
  execFileSync('rclone', ['check', src, remote], { env: rcloneEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function bucketMatchesTree(client: S3Client, bucket: string, prefix: string, dir: string): Promise<void> {
  const want = treeHashes(dir);
  // single-part objects: the ETag is the MD5 of the stored bytes, computed by the server
  const got = new Map((await listAll(client, bucket, prefix)).map((o) => [o.key.slice(prefix.length), o.etag]));
  expect(got.size).toBe(want.size);
  for (const [k, h] of want) expect(got.get(k), k).toBe(h);
}

function progressOf(stdout: string): Record<string, unknown> & { status: string; bytes: number; window: { start: number; end: number }; shards: number; shardsDone: number; shardRuns: number; transferred: number } {
  const s = events(stdout).find((e) => e.type === 'cluster-summary');
  if (!s) throw new Error(`no cluster-summary in:\n${stdout.slice(-2000)}`);
  return s.progress as never;
}

describe.skipIf(redisSkipReason !== undefined)('cluster (BullMQ on Redis, Ceph RGW)', () => {
  let redis: TestRedis;
  let client: S3Client;
  let bucket: string;
  const workers: WorkerProc[] = [];

  beforeAll(async () => {
    redis = startRedis();
    client = testClient();
    bucket = await createTestBucket(client, 'cluster');
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await deleteBucket(client, bucket);
    client.destroy();
    redis?.stop();
  });

  const startWorkers = (n: number, tag: string): WorkerProc[] => {
    const ws = Array.from({ length: n }, (_, i) => new WorkerProc(`${tag}-w${i + 1}`, redis.url, tempDir(`${tag}-w${i + 1}`)));
    workers.push(...ws);
    return ws;
  };

  it('3 workers with separate state sync 2000 files (~39 MiB) identically (rclone check, hashes) under one shared cap, a duplicated shard changing nothing, stale files deleted at the barrier', async () => {
    const { dir, bytes } = makeTree(2000, 12 * 1024, 28 * 1024); // ~39 MiB: ~26 s at the cap
    const prefix = 'capped/';
    for (const k of ['zz-stale-1.bin', 'part-03/stale-2.bin']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + k, Body: 'stale' }));
    const ws = startWorkers(3, 'cap');
    const cap = 1.5 * MiB; // well under what this machine does uncapped, so the cap binds
    const runId = `cap-${Date.now()}`;
    const coordinator = runCli(
      ['cluster', 'run', dir, `s3://${bucket}/${prefix}`, '--redis', redis.url, '--run-id', runId, '--shard-files', '100', '--bwlimit', '1.5M', '--max-delete', '10', '--transfers', '16', '--json', '--state', join(tempDir('coord'), 'state.db')],
      {},
    );
    // once a worker is on shard 3, enqueue shard 3 a second time (a new job id, outside the flow)
    await Promise.race(ws.map((w) => w.next((e) => e.type === 'shard-start' && e.shard === 3)));
    const queue = new Queue('hybridsync-cluster', { connection: { url: redis.url } });
    const queueEvents = new QueueEvents('hybridsync-cluster', { connection: { url: redis.url } });
    await queueEvents.waitUntilReady();
    const original = await queue.getJob(`${runId}-shard-3`);
    const dup = await queue.add('shard', original!.data, { jobId: `${runId}-shard-3-dup` });
    const r = await coordinator;
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    // the duplicate ran too (perhaps after the run ended)
    await dup.waitUntilFinished(queueEvents, 120_000);
    await Promise.all([queue.close(), queueEvents.close()]);

    const p = progressOf(r.stdout);
    expect(p.status).toBe('done');
    expect(p.shardsDone).toBe(p.shards);
    // totals add up every shard run: the duplicate's own transfers (if it overlapped the original) count too
    expect(p.transferred).toBeGreaterThanOrEqual(2000);
    expect(p.bytes).toBeGreaterThanOrEqual(bytes);
    expect(p.shardRuns).toBeGreaterThanOrEqual(p.shards);
    expect(p.deleted).toBe(2);
    expect((p.workers as string[]).length).toBe(3); // every worker took shards
    rcloneCheck(dir, `ceph:${bucket}/${prefix}`);
    await bucketMatchesTree(client, bucket, prefix, dir);

    // the cap: bytes over the window from the first shard's start to the last one's end
    const rate = (p.bytes * 1000) / (p.window.end - p.window.start);
    process.stderr.write(`[cluster cap] ${p.bytes} bytes in ${p.window.end - p.window.start} ms = ${(rate / MiB).toFixed(3)} MiB/s against a cap of ${cap / MiB} MiB/s\n`);
    expect(rate).toBeLessThanOrEqual(cap * 1.1);
    expect(rate).toBeGreaterThanOrEqual(cap * 0.9);

    // each worker's own audit trail verifies, and together they record every file
    const recorded = new Set<string>();
    for (const w of ws) {
      const v = await runCli(['audit', 'verify', '--state', join(w.stateDir, 'state.db')], { env: { HYBRIDSYNC_STATE_DIR: w.stateDir } });
      expect(v.code, v.stdout + v.stderr).toBe(0);
      for (const rec of readJsonl(join(w.stateDir, 'audit', 'audit.jsonl'))) if (rec.type === 'transfer') recorded.add(rec.key as string);
    }
    expect(recorded.size).toBe(2000);

    // progress as users read it: cluster status, and the daemon's /metrics gauges
    const st = await runCli(['cluster', 'status', runId, '--redis', redis.url, '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ runId, status: 'done', shardsDone: p.shards, deleted: 2 });
    const monitor = await clusterMonitor(redis.url);
    const metrics = new OpsMetrics();
    metrics.attachCluster(() => monitor.runs());
    const text = await metrics.registry.metrics();
    monitor.close();
    expect(text).toContain(`hybridsync_cluster_shards_done{run="${runId}"} ${p.shards}`);
    expect(text).toContain(`hybridsync_cluster_running{run="${runId}"} 0`);
    expect(text).toContain(`hybridsync_cluster_workers{run="${runId}"} 3`);
    await Promise.all(ws.map((w) => w.stop()));
  });

  it('a worker SIGKILLed mid-shard: its shard is taken again by another worker after the lock expires, and the run completes identically', async () => {
    const { dir } = makeTree(900, 8 * 1024, 24 * 1024);
    const prefix = 'killed/';
    const ws = startWorkers(3, 'kill');
    const runId = `kill-${Date.now()}`;
    const coordinator = runCli(
      ['cluster', 'run', dir, `s3://${bucket}/${prefix}`, '--redis', redis.url, '--run-id', runId, '--shard-files', '50', '--bwlimit', '2M', '--json', '--state', join(tempDir('coord'), 'state.db')],
      {},
    );
    // kill w1 while it is inside its second shard (its first is done, so it is mid-run for sure)
    const victim = ws[0]!;
    await victim.next((e) => e.type === 'shard-done');
    const start = await victim.next((e) => e.type === 'shard-start' && victim.seen.indexOf(e) > victim.seen.findIndex((x) => x.type === 'shard-done'));
    victim.child.kill('SIGKILL');
    await victim.exited;
    const r = await coordinator;
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const p = progressOf(r.stdout);
    expect(p.status).toBe('done');
    expect(p.shardsDone).toBe(p.shards);
    // the victim's shard was finished by a surviving worker
    const { Redis } = await import('ioredis');
    const db = new Redis(redis.url);
    const result = JSON.parse((await db.hget(`hybridsync:cluster:run:${runId}:shards`, String(start.shard)))!) as { worker: string };
    db.disconnect();
    expect(result.worker).not.toBe(victim.name);
    rcloneCheck(dir, `ceph:${bucket}/${prefix}`);
    await bucketMatchesTree(client, bucket, prefix, dir);
    await Promise.all(ws.map((w) => w.stop()));
  });
});
