/**
 * The dashboard's cluster panel end to end: a daemon pointed at a real Redis (--cluster-redis),
 * two real cluster workers, real cluster runs to Ceph RGW, and the page in Debian's chromium
 * (playwright-core) at 1280 px. What the panel shows is checked against what happened: live
 * progress while a run transfers, the finished run's totals and barrier, and a run whose
 * shard fails for good (failed shards, the barrier not run, the stale objects still there).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DeleteBucketPolicyCommand, PutBucketPolicyCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, listAll, testClient } from '../helpers/s3.js';
import { randomFile, tempDir } from '../helpers/fs.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { startDaemon, type StartedDaemon } from '../helpers/daemon.js';
import { redisSkipReason, startRedis, type TestRedis } from '../helpers/redis.js';
import { WorkerProc } from '../helpers/cluster.js';

const CHROMIUM = '/usr/bin/chromium';
let redis: TestRedis | undefined;
let client: S3Client;
let bucket: string;
let browser: Browser | undefined;
let daemon: StartedDaemon | undefined;
const workers: WorkerProc[] = [];

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'dashcluster');
});
afterAll(async () => {
  await browser?.close();
  if (daemon && daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.stop()));
  await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket })).catch(() => undefined);
  await deleteBucket(client, bucket);
  client.destroy();
  redis?.stop();
});

interface RunRow {
  status: string;
  barrier: string;
  shardsDone: number;
  shardsTotal: number;
  files: number;
  workersActive: number;
  failedShards: number;
  rate: string;
  barrierText: string;
}

// read in the browser (plain JS: the test's TypeScript has no DOM types)
const rowOf = (runId: string): string => `(() => {
  const r = document.querySelector('#cluster tr.cluster-run[data-run=${JSON.stringify(runId)}]');
  if (!r) return null;
  const n = (sel) => Number(r.querySelector(sel).textContent);
  return { status: r.dataset.status, barrier: r.dataset.barrier, shardsDone: n('.shards-done'), shardsTotal: n('.shards-total'), files: n('.files-done'), workersActive: n('.workers-active'), failedShards: n('.failed-shards'), rate: r.querySelector('.rate').textContent, barrierText: r.querySelector('.barrier').textContent };
})()`;

async function waitForRow(page: Page, runId: string, what: string, ok: string): Promise<RunRow> {
  // `ok` is a JS condition on `r`, the row as rowOf reads it
  await page.waitForFunction(`(() => { const r = ${rowOf(runId)}; return r !== null && (${ok}); })()`, undefined, { timeout: 120_000 }).catch((e: Error) => {
    throw new Error(`the cluster panel never showed ${what}: ${e.message}`);
  });
  return (await page.evaluate<RunRow | null>(rowOf(runId)))!;
}

describe.skipIf(!existsSync(CHROMIUM) || redisSkipReason !== undefined)('dashboard: cluster panel', () => {
  it('shows a real cluster run live (shards done of total, workers on it, barrier waiting) and finished (files, bytes, rate, deletions), and a run whose shard fails for good (failed shards, barrier not run, nothing deleted)', async () => {
    redis = startRedis();
    const work = tempDir('dashcluster');
    const cfg = join(work, 'hybridsync.yaml');
    writeFileSync(cfg, 'server:\n  listen: 127.0.0.1:0\n');
    for (const name of ['dash-w1', 'dash-w2']) workers.push(new WorkerProc(name, redis.url, tempDir(name)));
    daemon = await startDaemon(['--config', cfg, '--state', join(work, 'state.db'), '--cluster-redis', redis.url]);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => failed.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
    await page.goto(`${daemon.url}/`);
    // both workers beat before any run exists
    await page.locator('#cluster-alive', { hasText: /^2$/ }).waitFor({ timeout: 30_000 });
    await expect(page.locator('#cluster').textContent()).resolves.toMatch(/no cluster runs on this Redis yet/);

    // a run of 240 files (~4.7 MiB) in 6 shards under a 1 MiB/s cap, with 2 stale objects for the barrier
    const src = tempDir('dashcluster-src');
    for (let i = 0; i < 240; i++) randomFile(src, `d${i % 4}/f-${String(i).padStart(3, '0')}.bin`, 12 * 1024 + ((i * 7919) % (16 * 1024)));
    for (const k of ['ok/zz-stale-1.bin', 'ok/zz-stale-2.bin']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: 'stale' }));
    const okId = `dash-ok-${Date.now()}`;
    const cluster = (runId: string, prefix: string) =>
      runCli(['cluster', 'run', src, `s3://${bucket}/${prefix}`, '--redis', redis!.url, '--run-id', runId, '--shard-files', '40', '--bwlimit', '1M', '--max-delete', '5', '--json', '--state', join(tempDir('coord'), 'state.db')]);
    const okRun = cluster(okId, 'ok/');
    const live = await waitForRow(page, okId, 'the run in progress', `r.status === 'running' && r.shardsTotal === 6 && r.shardsDone < 6 && r.workersActive >= 1`);
    expect(live.barrier).toBe('waiting');
    expect(live.barrierText).toMatch(/^waiting for [1-6] shard\(s\)$/);
    const r1 = await okRun;
    expect(r1.code, r1.stdout.slice(-2000)).toBe(0);
    const done = await waitForRow(page, okId, 'the finished run', `r.status === 'done' && r.barrier === 'done'`);
    expect(done).toMatchObject({ shardsDone: 6, shardsTotal: 6, files: 240, failedShards: 0, workersActive: 0, barrierText: 'done: 2/2 deleted' });
    expect(done.rate).toMatch(/^\d+(\.\d)? (KiB|MiB)\/s$/);
    // the page shows what the API says, which is what happened at the destination
    const api = (await (await fetch(`${daemon.url}/api/cluster`)).json()) as { runs: Array<{ runId: string; bytes: number; rate: number; workers: string[] }>; workersAlive: string[] };
    const okApi = api.runs.find((r) => r.runId === okId)!;
    expect(okApi.workers.sort()).toEqual(['dash-w1', 'dash-w2']);
    expect(api.workersAlive.sort()).toEqual(['dash-w1', 'dash-w2']);
    await expect(page.locator(`#cluster tr.cluster-run[data-run="${okId}"] .bytes`).textContent()).resolves.toMatch(/^4\.\d MiB/);
    const stored = await listAll(client, bucket, 'ok/');
    expect(stored).toHaveLength(240);
    expect(stored.reduce((a, o) => a + o.size, 0)).toBe(okApi.bytes);

    // a run one of whose files the bucket refuses (a policy denies its PUT): that shard fails every attempt
    for (const k of ['bad/zz-stale-1.bin', 'bad/zz-stale-2.bin']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: 'stale' }));
    const deny = [{ Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/bad/d1/f-101.bin` }];
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: deny }) }));
    const badId = `dash-bad-${Date.now()}`;
    const r2 = await cluster(badId, 'bad/');
    await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    expect(r2.code, r2.stdout.slice(-2000)).toBe(1);
    const bad = await waitForRow(page, badId, 'the failed run', `r.status === 'failed'`);
    expect(bad).toMatchObject({ barrier: 'not-run', failedShards: 1, shardsDone: 5, shardsTotal: 6, barrierText: 'not run: nothing deleted' });
    await expect(page.locator(`#cluster tr.cluster-run[data-run="${badId}"]`).textContent()).resolves.toMatch(/shard \d failed after every attempt \(1 file\(s\); first: d1\/f-101\.bin: access denied/);
    const badKeys = (await listAll(client, bucket, 'bad/')).map((o) => o.key);
    expect(badKeys).toContain('bad/zz-stale-1.bin'); // nothing deleted
    expect(badKeys).not.toContain('bad/d1/f-101.bin');
    expect(badKeys).toHaveLength(240 - 1 + 2);

    // the panel fits the page, and nothing the page asked for failed
    const width = await page.evaluate<number>('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(1280);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.locator('#cluster').screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-cluster-1280.png') });
    expect(failed).toEqual([]);

    daemon.child.kill('SIGTERM');
    expect(await daemon.exit).toBe(0);
  });
});
