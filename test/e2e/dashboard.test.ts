/**
 * The dashboard end to end, as a user on a 1280 px laptop screen sees it: start the daemon,
 * open the page in Debian's chromium (playwright-core) at 1280×800, trigger a job that
 * syncs to Ceph RGW, watch its live progress and its completion, run it again (every file
 * unchanged) and read the audit panel, trigger a job whose endpoint never answers, and
 * check the page's layout, its network requests, its dates and its run state throughout.
 * Saves a full-page screenshot as test-artifacts/dashboard-1280.png.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, testClient } from '../helpers/s3.js';
import { randomFile, tempDir, treeHashes } from '../helpers/fs.js';
import { ROOT, spawnCli } from '../helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const fromSource = existsSync(join(ROOT, 'dist', 'cli', 'daemon.js')) ? {} : { HYBRIDSYNC_FROM_SOURCE: '1' };
/** A realistic, long dataset path: it must wrap inside its card, not widen the page. */
const DATASET = 'datasets/imagenet-subset/snapshot-v3/training-shards';
/** The page's one date format. */
const DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
let client: S3Client;
let bucket: string;
let browser: Browser | undefined;
let daemon: ChildProcess | undefined;
let silent: Server | undefined;
const silentSockets = new Set<Socket>();

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'dashboard');
});
afterAll(async () => {
  await browser?.close();
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  for (const s of silentSockets) s.destroy();
  silent?.close();
  await deleteBucket(client, bucket);
  client.destroy();
});

interface RunState {
  /** job name -> the status its row shows */
  rows: Record<string, string>;
  /** jobs the "runs in progress" panel shows, with their phase */
  live: Record<string, string>;
  /** whether the panel says "no run in progress" */
  idle: boolean;
  /** the header's "updated …" line: it changes at every refresh */
  updated: string;
}

// What the page shows, read in the browser (plain JS: the test's TypeScript has no DOM types).
const RUN_STATE = `({
  rows: Object.fromEntries([...document.querySelectorAll('#jobs tr[data-job]')].map((r) => [r.dataset.job, r.querySelector('.job-status').textContent])),
  live: Object.fromEntries([...document.querySelectorAll('#live .live-run')].map((l) => [l.dataset.job, l.dataset.phase])),
  idle: /no run in progress/.test(document.getElementById('live').textContent),
  updated: document.getElementById('status').textContent,
})`;
const LAYOUT = `({
  scrollWidth: document.documentElement.scrollWidth,
  sections: [...document.querySelectorAll('section')].map((s) => s.getBoundingClientRect().right),
  buttons: [...document.querySelectorAll('button')].map((b) => {
    const bb = b.getBoundingClientRect();
    const cb = b.closest('section').getBoundingClientRect();
    return { text: b.textContent, job: b.dataset.run, inside: bb.left >= cb.left && bb.right <= cb.right && bb.top >= cb.top && bb.bottom <= cb.bottom, button: [bb.left, bb.right], card: [cb.left, cb.right] };
  }),
})`;
const DATES = `({ times: [...document.querySelectorAll('time')].map((t) => t.textContent), text: document.body.innerText })`;

const runState = (page: Page): Promise<RunState> => page.evaluate<RunState>(RUN_STATE);

/** The job rows and the runs panel agree: a row says running exactly when the panel shows its run. */
function expectConsistent(s: RunState): void {
  const runningRows = Object.keys(s.rows).filter((j) => s.rows[j] === 'running').sort();
  expect.soft(Object.keys(s.live).sort(), JSON.stringify(s)).toEqual(runningRows);
  expect.soft(s.idle, JSON.stringify(s)).toBe(runningRows.length === 0);
}

/** The state after the page's next refresh (each one renders jobs, runs and audit in one go). */
async function nextRefresh(page: Page): Promise<RunState> {
  const before = (await runState(page)).updated;
  await page.waitForFunction(`document.getElementById('status').textContent !== ${JSON.stringify(before)}`, undefined, { timeout: 10_000 });
  return runState(page);
}

/** Nothing wider than the viewport; every button inside the card (section) it belongs to. */
async function expectFits(page: Page, width: number): Promise<void> {
  const m = await page.evaluate<{ scrollWidth: number; sections: number[]; buttons: Array<{ inside: boolean }> }>(LAYOUT);
  expect.soft(m.scrollWidth, `page width at a ${width} px viewport`).toBeLessThanOrEqual(width);
  for (const right of m.sections) expect.soft(right, `a card's right edge at a ${width} px viewport`).toBeLessThanOrEqual(width);
  expect(m.buttons.length).toBeGreaterThan(0);
  for (const b of m.buttons) expect.soft(b.inside, `button inside its card at ${width} px: ${JSON.stringify(b)}`).toBe(true);
}

describe.skipIf(!existsSync(CHROMIUM))('dashboard', () => {
  it('at 1280 px: fits, no failed request, one date format, consistent run state, audit without skips unless asked', async () => {
    const src = join(tempDir('dash-src'), DATASET);
    for (let i = 0; i < 6; i++) randomFile(src, `shards/shard-${i}.bin`, 500_000);
    randomFile(src, 'hr/salaries.bin', 1000); // restricted: must be denied toward the cloud
    // an endpoint that accepts connections and never answers: its job hangs while preparing
    silent = createServer((s) => {
      silentSockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as { port: number }).port;
    const work = tempDir('dash-work');
    const cfg = join(work, 'hybridsync.yaml');
    writeFileSync(
      cfg,
      `remotes:
  unreachable:
    type: s3
    endpoint: https://127.0.0.1:${silentPort}
environments:
  onprem:
    kind: onprem
    locations: ["${src}"]
  cloud:
    kind: cloud
    locations: ["s3://${bucket}"]
    remotes: [unreachable]
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
    destination: s3://${bucket}/${DATASET}
    link: dx-primary
    lane: bulk
  - name: nightly-bulk
    source: ${tempDir('dash-empty')}
    destination: ${tempDir('dash-dst')}
    schedule: "0 22 * * *"
    window: "22:00-06:00"
    volume: 40TB
    seed: 2PB
  - name: stalled-endpoint
    source: ${src}
    destination: unreachable:${bucket}/${DATASET}
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
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    // every response the page gets, the favicon included (only the protocol sees that one)
    const failed: string[] = [];
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceived', (e) => {
      if (e.response.status >= 400) failed.push(`${e.response.status} ${e.response.url}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => failed.push(`failed ${r.url()}: ${r.failure()?.errorText}`));

    await page.goto(`${url}/`);
    const row = page.locator('tr[data-job="training-shards"]');
    await row.waitFor();
    await expect(row.locator('.job-status').textContent()).resolves.toBe('never run');
    await expect(page.locator('#plan-recommended').textContent()).resolves.toBe('14.4 Gbps');
    await expect(page.locator('tr.link[data-link="dx-primary"]').count()).resolves.toBe(1);
    expectConsistent(await nextRefresh(page));
    await expectFits(page, 1280);

    // first run: 3 MB over a 16 Mbps (2 MB/s) link, live for about a second and a half
    await row.locator('button[data-run]').click();
    await page.locator('.live-run[data-job="training-shards"]').waitFor({ timeout: 30_000 });
    for (let s = await runState(page); s.rows['training-shards'] === 'running'; s = await nextRefresh(page)) expectConsistent(s);
    // the restricted file was denied: the run ends with denials, not ok
    await row.locator('.job-status', { hasText: /^denied$/ }).waitFor({ timeout: 60_000 });
    expectConsistent(await nextRefresh(page));
    await expect(page.locator('#recent tbody tr').first().textContent()).resolves.toMatch(/training-shards/);
    await page.locator('#audit tr.audit-row[data-type="denied"]').first().waitFor({ timeout: 10_000 });
    await expect(page.locator('#audit tr.audit-row[data-type="denied"]').first().textContent()).resolves.toMatch(/hr\/salaries\.bin.*restricted/);
    await expect(page.locator('#audit tr.audit-row[data-type="transfer"]').count()).resolves.toBeGreaterThan(0);

    // second run: every shard unchanged, so the log gets skip records; the panel leaves them out
    await row.locator('button[data-run]:not([disabled])').click();
    await page.locator('#audit tr.audit-row[data-type="denied"]').nth(1).waitFor({ timeout: 60_000 });
    // the same file denied again, unchanged: a known denial, not news
    await row.locator('.job-status', { hasText: /^known-denials$/ }).waitFor({ timeout: 60_000 });
    await nextRefresh(page);
    const skipsInLog = (await (await fetch(`${url}/api/audit?type=skip&limit=1000`)).json()) as { records: Array<{ key: string }> };
    expect(skipsInLog.records.map((r) => r.key).sort()).toEqual([0, 1, 2, 3, 4, 5].map((i) => `shards/shard-${i}.bin`));
    await expect(page.locator('#audit tr.audit-row').count()).resolves.toBeGreaterThan(0);
    await expect.soft(page.locator('#audit tr.audit-row[data-type="skip"]').count(), 'skip rows in the audit panel by default').resolves.toBe(0);
    const byDefault = (await (await fetch(`${url}/api/audit?limit=1000`)).json()) as { records: Array<{ type: string }> };
    expect.soft(byDefault.records.filter((r) => r.type === 'skip').length, 'skip records from /api/audit by default').toBe(0);
    expect(byDefault.records.filter((r) => r.type === 'transfer').length).toBe(6);
    // on request, the skips are there, in the API and in the panel
    const withSkips = (await (await fetch(`${url}/api/audit?limit=1000&include=skip`)).json()) as { records: Array<{ type: string }> };
    expect(withSkips.records.filter((r) => r.type === 'skip').length).toBe(6);
    await page.locator('#audit-skips').check();
    await page.locator('#audit tr.audit-row[data-type="skip"]').first().waitFor({ timeout: 10_000 });
    await page.locator('#audit-skips').uncheck();
    await page.waitForFunction(`document.querySelectorAll('#audit tr.audit-row[data-type="skip"]').length === 0`, undefined, { timeout: 10_000 });

    // a job whose endpoint never answers: its row says running and the runs panel shows that run, preparing
    await page.locator('tr[data-job="stalled-endpoint"] button[data-run]').click();
    await page.locator('tr[data-job="stalled-endpoint"] .job-status', { hasText: /^running$/ }).waitFor({ timeout: 10_000 });
    for (let i = 0; i < 3; i++) {
      const s = await nextRefresh(page);
      expectConsistent(s);
      if (s.rows['stalled-endpoint'] === 'running') expect(s.live['stalled-endpoint']).toBe('preparing');
    }
    await expect(page.locator('tr[data-job="stalled-endpoint"] button[data-run]').isDisabled()).resolves.toBe(true);

    // layout, at 1280 and down to 1024, with the long paths, the denial reason and a run in progress on the page
    await expectFits(page, 1280);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    const shot = join(ROOT, 'test-artifacts', 'dashboard-1280.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    await page.setViewportSize({ width: 1024, height: 800 });
    await nextRefresh(page);
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-1024.png'), fullPage: true });
    await expectFits(page, 1024);
    await page.setViewportSize({ width: 1280, height: 800 });

    // one date format for every time on the page: job rows, runs, audit, header
    const dates = await page.evaluate<{ times: string[]; text: string }>(DATES);
    expect(dates.times.length).toBeGreaterThan(10);
    for (const t of dates.times) expect.soft(t).toMatch(DATE);
    const dateLike = dates.text.match(/\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}(?:[ ,T]+\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?Z?(?: ?[AP]M)?)?|\b\d{1,2}:\d{2}(?::\d{2})? ?[AP]M\b/g) ?? [];
    expect.soft(dateLike.length, 'dates on the page outside the one formatter').toBe(dates.times.length);
    for (const d of dateLike) expect.soft(d).toMatch(DATE);
    await expect(page.locator('#zone').textContent()).resolves.toMatch(/^times in .+ \(UTC[+−]\d{2}:\d{2}\)$/);

    expect.soft(failed, 'failed responses').toEqual([]);

    for (const [rel, hash] of treeHashes(src)) {
      if (rel.startsWith('hr/')) await expect(getObjectMd5(client, bucket, `${DATASET}/${rel}`)).rejects.toThrow();
      else expect(await getObjectMd5(client, bucket, `${DATASET}/${rel}`)).toBe(hash);
    }

    // the stop cuts the run stuck on the silent endpoint, which is still there
    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => (daemon!.exitCode !== null ? r(daemon!.exitCode) : daemon!.on('close', r)));
    expect(code, stderr).toBe(0);
  });
});
