/**
 * The daemon's dashboard shows a real caching gateway over Ceph RGW: the config names the
 * gateway by its cache directory (gateways:), the daemon polls its admin API, and the page —
 * in Debian's chromium through playwright-core — shows the same hit and miss counts, bytes
 * from the cache and from the cloud, dirty bytes and pending writes as `gateway status`, and
 * the dataset's copies with their freshness: the gateway's cache and a sync job's mirror
 * (after the job ran from the page). Saves test-artifacts/dashboard-gateway.png.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createTestBucket, deleteBucket, testClient } from '../helpers/s3.js';
import { tempDir } from '../helpers/fs.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { startDaemon } from '../helpers/daemon.js';
import { countingProxy, gatewayClient, startGatewayProcess, upstreamEnv, type RunningGatewayProcess } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
let ceph: S3Client;
let bucket: string;
let browser: Browser | undefined;
let gateway: RunningGatewayProcess | undefined;
let proxy: Awaited<ReturnType<typeof countingProxy>>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  ceph = testClient();
  bucket = await createTestBucket(ceph, 'gwdash');
  proxy = await countingProxy();
});
afterAll(async () => {
  await browser?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await gateway?.stop();
  await proxy.close();
  await deleteBucket(ceph, bucket);
  ceph.destroy();
});

interface Status {
  reads: { hits: number; misses: number; bytesFromCache: number; bytesFromUpstream: number };
  dirty: { bytes: number; pending: number; conflicts: number; uploadLagSeconds: number };
}

describe.skipIf(!existsSync(CHROMIUM))('the gateway on the dashboard', () => {
  it("shows the running gateway's hit/miss counts, bytes from cache and cloud, dirty bytes, upload lag, and the dataset's copies with their freshness", async () => {
    const cache = tempDir('gwdash-cache');
    const mirror = tempDir('gwdash-mirror');
    const work = tempDir('gwdash-work');
    const env = upstreamEnv(proxy.url);
    for (const k of ['a.bin', 'b.bin']) await ceph.send(new PutObjectCommand({ Bucket: bucket, Key: `train/${k}`, Body: randomBytes(300_000) }));
    gateway = await startGatewayProcess(['--upstream', `cloud:${bucket}/train`, '--cache', cache, '--max-size', '1G'], env);
    const c = gatewayClient(gateway.url);
    const read = async (k: string) => (await c.send(new GetObjectCommand({ Bucket: bucket, Key: k }))).Body!.transformToByteArray();
    await c.send(new ListObjectsV2Command({ Bucket: bucket }));
    await read('a.bin'); // miss
    await read('a.bin'); // hit
    await read('b.bin'); // miss
    proxy.refuseWrites.on = true; // the upload fails and is retried: what is written stays dirty while the page is looked at
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'new/c.bin', Body: randomBytes(200_000) }));
    c.destroy();

    const cfg = join(work, 'hybridsync.yaml');
    writeFileSync(
      cfg,
      `environments:
  onprem: { kind: onprem, locations: ["${cache}/**", "${mirror}/**"] }
  cloud: { kind: cloud, remotes: [cloud] }
datasets:
  training:
    locations: ["cloud:${bucket}/train/**", "${mirror}/**"]
    ssot: cloud
gateways:
  - name: dc1-gateway
    cache: ${cache}
jobs:
  - name: mirror-training
    kind: sync
    source: cloud:${bucket}/train
    destination: ${mirror}
server:
  listen: 127.0.0.1:0
`,
    );
    const daemon = await startDaemon(['--config', cfg, '--state', join(work, 'state.db')], env, children);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const failed: string[] = [];
    page.on('response', (r) => void (r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`)));
    await page.goto(`${daemon.url}/`);
    const gw = page.locator('#gateway [data-gateway="dc1-gateway"]');
    await gw.locator('[data-metric="hits"]').waitFor({ timeout: 30_000 });

    const status = JSON.parse((await runCli(['gateway', 'status', '--json', '--cache', cache])).stdout) as Status;
    const value = (m: string): Promise<string | null> => gw.locator(`[data-metric="${m}"]`).getAttribute('data-value');
    expect(status.reads).toMatchObject({ hits: 1, misses: 2, bytesFromCache: 300_000, bytesFromUpstream: 600_000 });
    expect(status.dirty).toMatchObject({ bytes: 200_000, pending: 1 });
    expect(await value('hits')).toBe(String(status.reads.hits));
    expect(await value('misses')).toBe(String(status.reads.misses));
    expect(Number(await value('hit-ratio'))).toBeCloseTo(1 / 3, 6);
    await expect(gw.locator('[data-metric="hit-ratio"]').textContent()).resolves.toBe('33.3%');
    expect(await value('bytes-from-cache')).toBe(String(status.reads.bytesFromCache));
    expect(await value('bytes-from-upstream')).toBe(String(status.reads.bytesFromUpstream));
    await expect(gw.locator('[data-metric="bytes-from-upstream"]').textContent()).resolves.toBe('585.9 KiB');
    expect(await value('dirty-bytes')).toBe('200000');
    expect(await value('pending')).toBe('1');
    expect(Number(await value('upload-lag'))).toBeGreaterThan(0);
    expect(await value('last-refresh')).toMatch(/^\d{4}-\d\d-\d\dT/);

    // the dataset's copies: the gateway's cache now, the job's mirror once it ran
    const gwCopy = page.locator('#gateway tr[data-dataset="training"][data-copy="dc1-gateway"]');
    await expect(gwCopy.locator('[data-metric="not-in-cloud"]').getAttribute('data-value')).resolves.toBe('1');
    const mirrorCopy = page.locator('#gateway tr[data-dataset="training"][data-copy="mirror-training"]');
    await expect(mirrorCopy.locator('[data-metric="last-sync"]').getAttribute('data-value')).resolves.toBe('');
    await page.locator('tr[data-job="mirror-training"] button[data-run]').click();
    await mirrorCopy.locator('[data-metric="last-sync"] time').waitFor({ timeout: 60_000 });
    await expect(mirrorCopy.textContent()).resolves.toMatch(/cloud\s*sync mirror-training.*ok/);
    expect(existsSync(join(mirror, 'a.bin'))).toBe(true);
    // gateway status lists the same copies, from the config and the daemon's job history
    const st = await runCli(['gateway', 'status', '--cache', cache, '--config', cfg, '--state', join(work, 'state.db')], { env });
    expect(st.stdout).toMatch(/copies of +training \(source of truth cloud\):\n +sync mirror-training: .*gwdash-mirror.* from cloud:.*\/train; last synced \d{4}-.*Z \(last run ok\)\n +gateway this gateway: .*gwdash-cache.*; refreshed \d{4}-.*Z, 1 writes not in the cloud/);

    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    expect(failed).toEqual([]);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-gateway.png'), fullPage: true });

    // a gateway that stops is shown as such, not as stale numbers
    await gateway.stop();
    await page.locator('#gateway p.gateway[data-gateway="dc1-gateway"] .warning').waitFor({ timeout: 30_000 });
    await expect(page.locator('#gateway p.gateway[data-gateway="dc1-gateway"]').textContent()).resolves.toMatch(/cannot reach the gateway|no gateway is running on cache/);
  });
});
