/**
 * hybridsync cluster on real servers: Redis (Debian's redis-server, one per file) and Ceph
 * RGW. Worker processes with separate state directories take shards of one run; the
 * result is checked by rclone and by hashes, the shared bandwidth cap and the lanes of a
 * shared link from the bytes the workers stored and when, at-least-once delivery by
 * killing a worker mid-shard and by enqueueing a shard twice, the barrier's batched
 * deletions and its --max-delete guard through a proxy that counts the workers' requests,
 * parallel listing by the key ranges an incremental run lists, and the workers' audit
 * records merged into the coordinator's trail (and a forged batch refused).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue, QueueEvents } from 'bullmq';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, listAll, rcloneEnv, testClient } from '../helpers/s3.js';
import { randomFile, readJsonl, tempDir, treeHashes } from '../helpers/fs.js';
import { events, runCli } from '../helpers/cli.js';
import { clusterMonitor } from '../../src/api/cluster.js';
import { OpsMetrics } from '../../src/server/metrics.js';
import { redisSkipReason, startRedis, type TestRedis } from '../helpers/redis.js';
import { WorkerProc } from '../helpers/cluster.js';
import { countingProxy } from '../helpers/gateway.js';
import { AuditLog, type WrittenBatch } from '../../src/governance/audit/log.js';
import { loadOrCreateSigner } from '../../src/governance/audit/signing.js';

const MiB = 1024 * 1024;

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

type AuditRow = Record<string, unknown> & { type: string };

/** The coordinator's trail, as `hybridsync audit verify` and an auditor read it. */
async function coordinatorTrail(stateDir: string): Promise<{ verifyCode: number; verifyOut: string; records: AuditRow[] }> {
  const v = await runCli(['audit', 'verify', '--state', join(stateDir, 'state.db')], { env: { HYBRIDSYNC_STATE_DIR: stateDir } });
  return { verifyCode: v.code ?? -1, verifyOut: v.stdout + v.stderr, records: readJsonl(join(stateDir, 'audit', 'audit.jsonl')) as AuditRow[] };
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
  // a test that fails leaves no worker behind to take the next test's shards
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await deleteBucket(client, bucket);
    client.destroy();
    redis?.stop();
  });

  const startWorkers = (n: number, tag: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): WorkerProc[] => {
    const ws = Array.from({ length: n }, (_, i) => new WorkerProc(`${tag}-w${i + 1}`, redis.url, tempDir(`${tag}-w${i + 1}`), extra, env));
    workers.push(...ws);
    return ws;
  };

  it('3 workers with separate state sync 3000 files (~41 MiB) identically (rclone check, hashes) under one shared cap, a duplicated shard changing nothing, stale files deleted at the barrier; the coordinator’s trail verifies and records each file once by the worker that moved it (twice only in the duplicated shard), every worker verified', async () => {
    const { dir, bytes } = makeTree(3000, 8 * 1024, 20 * 1024); // ~41 MiB: ~41 s at the cap
    const prefix = 'capped/';
    for (const k of ['zz-stale-1.bin', 'part-03/stale-2.bin']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + k, Body: 'stale' }));
    const ws = startWorkers(3, 'cap');
    // well under what this machine does uncapped, and ~73 files/s: workers keep up even when other tests load the cores
    const cap = 1 * MiB;
    const runId = `cap-${Date.now()}`;
    const scriptCalls = async (): Promise<number> => {
      const { Redis } = await import('ioredis');
      const db = new Redis(redis.url);
      const n = Number(/cmdstat_eval:calls=(\d+)/.exec(await db.info('commandstats'))?.[1] ?? 0);
      db.disconnect();
      return n;
    };
    const callsBefore = await scriptCalls();
    const coordDir = tempDir('coord');
    const coordinator = runCli(
      ['cluster', 'run', dir, `s3://${bucket}/${prefix}`, '--redis', redis.url, '--run-id', runId, '--shard-files', '100', '--bwlimit', '1M', '--max-delete', '10', '--transfers', '16', '--json', '--state', join(coordDir, 'state.db')],
      {},
    );
    // once a worker is on shard 3, enqueue shard 3 a second time (a new job id, outside the flow)
    await Promise.race(ws.map((w) => w.next((e) => e.type === 'shard-start' && e.shard === 3)));
    const queue = new Queue('hybridsync-cluster-bulk', { connection: { url: redis.url } });
    const queueEvents = new QueueEvents('hybridsync-cluster-bulk', { connection: { url: redis.url } });
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
    expect(p.transferred).toBeGreaterThanOrEqual(3000);
    expect(p.bytes).toBeGreaterThanOrEqual(bytes);
    expect(p.shardRuns).toBeGreaterThanOrEqual(p.shards);
    expect(p.deleted).toBe(2);
    expect((p.workers as string[]).length).toBe(3); // every worker took shards
    rcloneCheck(dir, `ceph:${bucket}/${prefix}`);
    await bucketMatchesTree(client, bucket, prefix, dir);

    // the cap: bytes over the window from the first shard's start to the last one's end
    const rate = (p.bytes * 1000) / (p.window.end - p.window.start);
    // Redis script calls (the leases, plus a few progress reads and heartbeats) per lease of the run
    const leases = (p.leasedBytes as number) / Math.max(64 * 1024, Math.floor(cap / 20));
    process.stderr.write(
      `[cluster cap] ${p.bytes} bytes in ${p.window.end - p.window.start} ms = ${(rate / MiB).toFixed(3)} MiB/s against a cap of ${cap / MiB} MiB/s; ${Math.round(leases)} leases, ${((await scriptCalls()) - callsBefore) / Math.round(leases)} Redis script calls per lease\n`,
    );
    expect(rate).toBeLessThanOrEqual(cap * 1.1);
    expect(rate).toBeGreaterThanOrEqual(cap * 0.9);

    // each worker's own audit trail verifies, and together they record every file
    const recorded = new Set<string>();
    for (const w of ws) {
      const v = await runCli(['audit', 'verify', '--state', join(w.stateDir, 'state.db')], { env: { HYBRIDSYNC_STATE_DIR: w.stateDir } });
      expect(v.code, v.stdout + v.stderr).toBe(0);
      for (const rec of readJsonl(join(w.stateDir, 'audit', 'audit.jsonl'))) if (rec.type === 'transfer') recorded.add(rec.key as string);
    }
    expect(recorded.size).toBe(3000);

    // the coordinator's own trail: verifies, one transfer record per file naming its worker (twice only in the duplicated shard), the deletions, every worker verified
    const trail = await coordinatorTrail(coordDir);
    expect(trail.verifyCode, trail.verifyOut).toBe(0);
    const names = ws.map((w) => w.name);
    const transfers = trail.records.filter((x) => x.type === 'transfer' && x.clusterRun === runId);
    for (const t of transfers) expect(names).toContain(t.worker);
    const perKey = new Map<string, number>();
    for (const t of transfers) perKey.set(t.key as string, (perKey.get(t.key as string) ?? 0) + 1);
    expect(perKey.size).toBe(3000);
    const shard3 = original!.data as { startAfter?: string; endAt?: string };
    for (const [k, n] of perKey) if (n > 1) expect(n === 2 && k > shard3.startAfter! && k <= shard3.endAt!, `${k} recorded ${n} times`).toBe(true);
    expect(trail.records.filter((x) => x.type === 'delete' && x.clusterRun === runId).map((x) => x.key).sort()).toEqual(['part-03/stale-2.bin', 'zz-stale-1.bin']);
    const closing = trail.records.filter((x) => x.type === 'cluster-run' && x.clusterRun === runId);
    expect(closing).toHaveLength(1);
    expect(closing[0]).toMatchObject({ verified: true, status: 'done' });
    const listed = closing[0]!.workers as Array<{ worker: string; verified: boolean; logId: string; keyId: string; records: number; checkpoint: { treeSize: number } }>;
    expect(listed.map((w) => w.worker).sort()).toEqual([...names].sort());
    for (const w of listed) expect(w).toMatchObject({ verified: true, logId: expect.stringMatching(/^[0-9a-f]{32}$/), keyId: expect.stringMatching(/^ed25519:/) });
    expect(p.audit).toMatchObject({ verified: true });
    // cross-reference: each merged record is the same leaf (hash) at its place in its worker's own trail
    for (const w of ws) {
      const own = readJsonl(join(w.stateDir, 'audit', 'audit.jsonl'));
      const logId = own[0]!.logId as string;
      const merged = trail.records.filter((x) => x.workerLogId === logId);
      expect(merged.length).toBeGreaterThan(0);
      for (const m of merged) expect(own[m.workerSeq as number]!.hash, `${w.name} record ${String(m.workerSeq)}`).toBe(m.workerHash);
    }

    // progress as users read it: cluster status, and the daemon's /metrics gauges
    const st = await runCli(['cluster', 'status', runId, '--redis', redis.url, '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ runId, status: 'done', shardsDone: p.shards, deleted: 2 });
    const monitor = await clusterMonitor(redis.url);
    const metrics = new OpsMetrics();
    metrics.attachCluster(() => monitor.snapshot());
    const text = await metrics.registry.metrics();
    monitor.close();
    expect(text).toContain(`hybridsync_cluster_shards_done{run="${runId}"} ${p.shards}`);
    expect(text).toContain(`hybridsync_cluster_running{run="${runId}"} 0`);
    expect(text).toContain(`hybridsync_cluster_workers{run="${runId}"} 3`);
    await Promise.all(ws.map((w) => w.stop()));
  }, 300_000);

  it('two runs on one link under one cap: the metadata lane gets its weight’s share (4:1), the bulk lane keeps the rest, and together they stay within 10% of the link', async () => {
    const config = join(tempDir('lanes-cfg'), 'hybridsync.yaml');
    writeFileSync(config, 'links:\n  - name: wan\n    capacity: 4Mbps\n    lanes: { metadata: 4, bulk: 1 }\n');
    const cap = 4e6 / 8; // bytes per second: few files per second, so the lanes' demand holds up even when other tests load the cores
    const bulkTree = makeTree(360, 16 * 1024, 28 * 1024); // ~7.5 MiB: ~16 s at the cap
    const metaTree = makeTree(150, 16 * 1024, 28 * 1024); // ~3 MiB
    const ws = startWorkers(3, 'lanes', ['--verbose']);
    const bulkId = `lanes-bulk-${Date.now()}`;
    const metaId = `lanes-meta-${Date.now()}`;
    const run = (dir: string, prefix: string, runId: string, lane: string) =>
      runCli(['cluster', 'run', dir, `s3://${bucket}/${prefix}`, '--redis', redis.url, '--run-id', runId, '--config', config, '--link', 'wan', '--lane', lane, '--shard-files', '50', '--transfers', '16', '--json', '--state', join(tempDir('coord'), 'state.db')]);
    const [b, m] = await Promise.all([run(bulkTree.dir, 'lane-bulk/', bulkId, 'bulk'), run(metaTree.dir, 'lane-meta/', metaId, 'metadata')]);
    expect(b.code, b.stdout.slice(-2000)).toBe(0);
    expect(m.code, m.stdout.slice(-2000)).toBe(0);
    expect(progressOf(b.stdout)).toMatchObject({ status: 'done', lane: 'bulk', link: { name: 'wan', bytesPerSecond: cap } });
    expect(progressOf(m.stdout)).toMatchObject({ status: 'done', lane: 'metadata', link: { name: 'wan', bytesPerSecond: cap } });
    rcloneCheck(bulkTree.dir, `ceph:${bucket}/lane-bulk/`);
    rcloneCheck(metaTree.dir, `ceph:${bucket}/lane-meta/`);

    // each file as the workers stored it: its run, when, how many bytes
    const sent = ws
      .flatMap((w) => w.seen.filter((e) => e.type === 'event' && (e.event as { type: string }).type === 'transfer'))
      .map((e) => ({ run: e.runId as string, t: Date.parse(e.time as string), bytes: (e.event as { bytesSent: number }).bytesSent }));
    expect(sent.filter((x) => x.run === bulkId)).toHaveLength(360);
    expect(sent.filter((x) => x.run === metaId)).toHaveLength(150);
    const span = (runId?: string): [number, number] => {
      const ts = sent.filter((x) => !runId || x.run === runId).map((x) => x.t);
      return [Math.min(...ts), Math.max(...ts)];
    };
    const rate = (runId: string | undefined, [from, to]: [number, number]): number =>
      (sent.filter((x) => (!runId || x.run === runId) && x.t > from && x.t <= to).reduce((a, x) => a + x.bytes, 0) * 1000) / (to - from);
    // while both ran: from the later first stored file to the earlier last one
    const [mSpan, bSpan] = [span(metaId), span(bulkId)];
    const both: [number, number] = [Math.max(mSpan[0], bSpan[0]), Math.min(mSpan[1], bSpan[1])];
    const [metaRate, bulkRate] = [rate(metaId, both), rate(bulkId, both)];
    const whole = span();
    const totalRate = rate(undefined, [whole[0] - 1, whole[1]]);
    const MB = 1e6;
    process.stderr.write(
      `[cluster lanes] both running for ${both[1] - both[0]} ms: metadata ${(metaRate / MB).toFixed(3)} MB/s, bulk ${(bulkRate / MB).toFixed(3)} MB/s (ratio ${(metaRate / bulkRate).toFixed(2)}, weights 4:1), together ${((metaRate + bulkRate) / MB).toFixed(3)}; over both runs (${whole[1] - whole[0]} ms) ${(totalRate / MB).toFixed(3)} MB/s; cap ${cap / MB} MB/s\n`,
    );
    expect(both[1] - both[0]).toBeGreaterThan(0);
    expect(metaRate / bulkRate).toBeGreaterThanOrEqual(2.5);
    expect(metaRate / bulkRate).toBeLessThanOrEqual(6.5);
    expect(bulkRate).toBeGreaterThanOrEqual(0.1 * cap); // the lower lane is not starved
    expect(metaRate + bulkRate).toBeLessThanOrEqual(cap * 1.1);
    expect(totalRate).toBeLessThanOrEqual(cap * 1.1);
    expect(totalRate).toBeGreaterThanOrEqual(cap * 0.9);
    await Promise.all(ws.map((w) => w.stop()));
  }, 300_000);

  it('the barrier deletes 1,100 stale objects in two DeleteObjects requests and no single DELETE, after refusing while they were over --max-delete', async () => {
    const { dir } = makeTree(60, 1024, 4096);
    const prefix = 'barrier/';
    const stale = Array.from({ length: 1100 }, (_, i) => `${prefix}zz-old/o-${String(i).padStart(4, '0')}.bin`);
    for (let i = 0; i < stale.length; i += 50) await Promise.all(stale.slice(i, i + 50).map((k) => client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: 'old' }))));
    // the workers reach the bucket through a proxy that counts their requests
    const proxy = await countingProxy();
    const ws = startWorkers(2, 'barrier', [], { AWS_ENDPOINT_URL: proxy.url });
    const run = (runId: string, maxDelete: string) =>
      runCli(['cluster', 'run', dir, `s3://${bucket}/${prefix}`, '--redis', redis.url, '--run-id', runId, '--shard-files', '25', '--max-delete', maxDelete, '--json', '--state', join(tempDir('coord'), 'state.db')]);
    try {
      const refused = await run(`barrier-refused-${Date.now()}`, '1000');
      expect(refused.code).toBe(1);
      expect(progressOf(refused.stdout)).toMatchObject({ status: 'failed', barrier: 'refused', deleted: 0, deletesDue: 1100, shardsDone: 3 });
      expect(progressOf(refused.stdout).message).toMatch(/1100 files would be deleted at .*, more than --max-delete 1000; nothing was deleted/);
      expect(await listAll(client, bucket, `${prefix}zz-old/`)).toHaveLength(1100);
      expect(proxy.seen.filter((q) => q.method === 'DELETE' || (q.method === 'POST' && /[?&]delete(=|&|$)/.test(q.path)))).toEqual([]);

      const allowed = await run(`barrier-allowed-${Date.now()}`, '2000');
      expect(allowed.code, allowed.stdout.slice(-2000)).toBe(0);
      expect(progressOf(allowed.stdout)).toMatchObject({ status: 'done', barrier: 'done', deleted: 1100, deletesDue: 1100 });
      expect(proxy.seen.filter((q) => q.method === 'DELETE')).toEqual([]);
      expect(proxy.seen.filter((q) => q.method === 'POST' && /[?&]delete(=|&|$)/.test(q.path))).toHaveLength(2); // 1000 + 100 keys
    } finally {
      await Promise.all(ws.map((w) => w.stop()));
      await proxy.close();
    }
    expect(await listAll(client, bucket, `${prefix}zz-old/`)).toEqual([]);
    rcloneCheck(dir, `ceph:${bucket}/${prefix}`);
  }, 300_000);

  it('an incremental run lists both sides as 16 key ranges at once (split at the destination’s directories) and sends, deletes and leaves exactly what it should', async () => {
    const { dir } = makeTree(400, 1024, 4096);
    const prefix = 'ranges/';
    const ws = startWorkers(2, 'ranges');
    const run = (runId: string, parallel: string) =>
      runCli(['cluster', 'run', dir, `s3://${bucket}/${prefix}`, '--redis', redis.url, '--run-id', runId, '--shard-files', '20', '--list-parallel', parallel, '--json', '--state', join(tempDir('coord'), 'state.db')]);
    try {
      // first run: the destination is empty and a local source shows no directories: one range
      const first = await run(`ranges-1-${Date.now()}`, '4');
      expect(first.code, first.stdout.slice(-2000)).toBe(0);
      expect(progressOf(first.stdout)).toMatchObject({ status: 'done', ranges: 1, transferred: 400 });
      // three edits, one new file, one stale object
      for (const k of ['part-00/sample-00000.bin', 'part-07/sample-00107.bin', 'part-19/sample-00399.bin']) randomFile(dir, k, 3000);
      randomFile(dir, 'part-11/new.bin', 500);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}part-05/zz-stale.bin`, Body: 'stale' }));
      const second = await run(`ranges-2-${Date.now()}`, '4');
      expect(second.code, second.stdout.slice(-2000)).toBe(0);
      expect(progressOf(second.stdout)).toMatchObject({ status: 'done', ranges: 16, transferred: 4, skipped: 397, deleted: 1 });
    } finally {
      await Promise.all(ws.map((w) => w.stop()));
    }
    rcloneCheck(dir, `ceph:${bucket}/${prefix}`);
    await bucketMatchesTree(client, bucket, prefix, dir);
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

  it('a batch forged in a worker’s name (signed with a key that is not the one it registered) fails the run with a message naming the worker; the trail records the rejection and keeps the forged record out', async () => {
    const { dir } = makeTree(40, 1024, 4096);
    const prefix = 'forged/';
    const ws = startWorkers(2, 'forge');
    const victim = ws[0]!.name;
    const runId = `forge-${Date.now()}`;
    const { Redis } = await import('ioredis');
    const db = new Redis(redis.url);
    try {
      // the worker has registered its key once it is up (it does so before taking shards)
      while (!(await db.hget('hybridsync:cluster:audit-keys', victim))) await new Promise((r) => setTimeout(r, 100));
      // an attacker with write access to Redis adds a signed-looking batch in the victim's name
      const forgeDir = mkdtempSync(join(tmpdir(), 'forger-'));
      const batches: WrittenBatch[] = [];
      const forger = new AuditLog({ file: join(forgeDir, 'audit.jsonl'), signer: loadOrCreateSigner(join(forgeDir, 'key.pem')), checkpointEvery: 1000, flushIntervalMs: 0, onBatch: (b) => batches.push(b), signEveryBatch: true });
      forger.append({ type: 'transfer', key: 'part-00/forged.bin', bytes: 1 });
      await forger.close();
      const b = batches[0]!;
      await db.xadd(`hybridsync:cluster:run:${runId}:audit`, '*', 'worker', victim, 'attempt', `${victim}/0/forged`, 'shard', '0', 'logId', b.logId, 'size', String(b.size), 'frontier', b.frontier.join(','), 'lines', b.lines.join('\n'));
      const coordDir = tempDir('coord');
      const r = await runCli(['cluster', 'run', dir, `s3://${bucket}/${prefix}`, '--redis', redis.url, '--run-id', runId, '--shard-files', '10', '--json', '--state', join(coordDir, 'state.db')]);
      expect(r.code, r.stdout.slice(-2000)).toBe(1);
      const p = progressOf(r.stdout);
      expect(p).toMatchObject({ status: 'failed', shardsDone: 4, transferred: 40 });
      expect(p.message).toMatch(new RegExp(`audit trail of the run does not verify: worker ${victim}: .*not by the registered key`));
      rcloneCheck(dir, `ceph:${bucket}/${prefix}`); // the data moved: it is the record of it that cannot be vouched for

      const trail = await coordinatorTrail(coordDir);
      expect(trail.verifyCode, trail.verifyOut).toBe(0); // the coordinator's trail itself is intact
      expect(trail.records.filter((x) => x.type === 'cluster-audit-rejected')).toMatchObject([{ worker: victim, clusterRun: runId }]);
      expect(trail.records.filter((x) => x.key === 'part-00/forged.bin')).toEqual([]);
      expect(trail.records.filter((x) => x.type === 'transfer' && x.clusterRun === runId)).toHaveLength(40);
      const closing = trail.records.find((x) => x.type === 'cluster-run' && x.clusterRun === runId)!;
      expect(closing.verified).toBe(false);
      expect((closing.workers as Array<{ worker: string; verified: boolean }>).find((w) => w.worker === victim)).toMatchObject({ verified: false });

      // each worker's own trail verifies and agrees with what the coordinator merged from it
      const cross = await runCli(['audit', 'cross-check', '--state', join(coordDir, 'state.db'), ...ws.flatMap((w) => ['--worker-state', join(w.stateDir, 'state.db')]), '--json']);
      expect(cross.code, cross.stdout + cross.stderr).toBe(0);
      expect(events(cross.stdout).map((e) => e.ok)).toEqual([true, true]);
    } finally {
      db.disconnect();
      await Promise.all(ws.map((w) => w.stop()));
    }
  });
});
