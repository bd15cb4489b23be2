/**
 * The dashboard end to end: start the daemon, open the page in Debian's chromium
 * (playwright-core), trigger a job that syncs to Ceph RGW, watch its live progress and its
 * completion in the page, and save a screenshot under test-artifacts/.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, testClient } from '../helpers/s3.js';
import { randomFile, tempDir, treeHashes } from '../helpers/fs.js';
import { ROOT, spawnCli } from '../helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const fromSource = existsSync(join(ROOT, 'dist', 'cli', 'daemon.js')) ? {} : { HYBRIDSYNC_FROM_SOURCE: '1' };
let client: S3Client;
let bucket: string;
let browser: Browser | undefined;
let daemon: ChildProcess | undefined;

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'dashboard');
});
afterAll(async () => {
  await browser?.close();
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  await deleteBucket(client, bucket);
  client.destroy();
});

describe.skipIf(!existsSync(CHROMIUM))('dashboard', () => {
  it('shows a triggered job running and completing, with links and the plan', async () => {
    const src = tempDir('dash-src');
    for (let i = 0; i < 6; i++) randomFile(src, `shards/shard-${i}.bin`, 500_000);
    randomFile(src, 'hr/salaries.bin', 1000); // restricted: must be denied toward the cloud
    const work = tempDir('dash-work');
    const cfg = join(work, 'hybridsync.yaml');
    writeFileSync(
      cfg,
      `environments:
  onprem:
    kind: onprem
    locations: ["${src}"]
  cloud:
    kind: cloud
    locations: ["s3://${bucket}"]
classification:
  rules:
    - path: "hr/**"
      level: restricted
policy:
  environments:
    onprem: { maxLevel: restricted }
    cloud: { maxLevel: confidential }
links:
  - name: dx-primary
    kind: direct-connect
    capacity: 16Mbps
jobs:
  - name: training-shards
    kind: sync
    source: ${src}
    destination: s3://${bucket}/shards
    link: dx-primary
    lane: bulk
  - name: nightly-bulk
    source: ${tempDir('dash-empty')}
    destination: ${tempDir('dash-dst')}
    schedule: "0 22 * * *"
    window: "22:00-06:00"
    volume: 40TB
    seed: 2PB
server:
  listen: 127.0.0.1:0
`,
    );
    daemon = spawnCli(['daemon', '--config', cfg, '--state', join(work, 'state.db'), '--monitor-interval', '1'], fromSource);
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      daemon!.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /dashboard on (http:\/\/[^/\s]+)\//.exec(stderr);
        if (m) resolve(m[1]!);
      });
      daemon!.on('close', (code) => reject(new Error(`daemon exited with ${code}: ${stderr}`)));
    });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${url}/`);
    const row = page.locator('tr[data-job="training-shards"]');
    await row.waitFor();
    await expect(row.locator('.job-status').textContent()).resolves.toBe('never run');
    await expect(page.locator('#plan-recommended').textContent()).resolves.toBe('14.4 Gbps');
    await expect(page.locator('tr.link[data-link="dx-primary"]').count()).resolves.toBe(1);

    await row.locator('button[data-run]').click();
    // 3 MB over a 16 Mbps (2 MB/s) link: live for about a second and a half
    await page.locator('.live-run[data-job="training-shards"]').waitFor({ timeout: 30_000 });
    // the restricted file was denied: the run ends with denials, not ok
    await row.locator('.job-status', { hasText: /^denied$/ }).waitFor({ timeout: 60_000 });
    await expect(page.locator('#recent tbody tr').first().textContent()).resolves.toMatch(/training-shards/);
    // the audit trail in the page shows the transfers and the denial
    await page.locator('#audit tr.audit-row[data-type="denied"]').first().waitFor({ timeout: 10_000 });
    await expect(page.locator('#audit tr.audit-row[data-type="denied"]').first().textContent()).resolves.toMatch(/hr\/salaries\.bin.*restricted/);
    await expect(page.locator('#audit tr.audit-row[data-type="transfer"]').count()).resolves.toBeGreaterThan(0);
    const api = (await (await fetch(`${url}/api/audit?type=denied`)).json()) as { records: Array<{ key: string; classification: string }> };
    expect(api.records.map((r) => [r.key, r.classification])).toEqual([['hr/salaries.bin', 'restricted']]);

    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    const shot = join(ROOT, 'test-artifacts', 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);

    for (const [rel, hash] of treeHashes(src)) {
      if (rel.startsWith('hr/')) await expect(getObjectMd5(client, bucket, `shards/${rel}`)).rejects.toThrow();
      else expect(await getObjectMd5(client, bucket, `shards/${rel}`)).toBe(hash);
    }

    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => (daemon!.exitCode !== null ? r(daemon!.exitCode) : daemon!.on('close', r)));
    expect(code).toBe(0);
  });
});
