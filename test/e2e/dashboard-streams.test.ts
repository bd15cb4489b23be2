/**
 * The dashboard's streaming lanes panel, end to end: a daemon with three `kind: stream`
 * jobs against Ceph RGW — one that ships as records arrive, one whose 1 h segment age keeps
 * it behind, one whose bucket does not exist — opened in Debian's chromium (playwright-core)
 * at 1280×800. Each lane has its row: the lagging one shows how many bytes and seconds it
 * is behind, the shipping one its throughput and no lag, the broken one its error; the
 * numbers agree with /api/streams, and the shipped bytes are in the bucket.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { startDaemon, until } from '../helpers/daemon.js';
import { tempDir } from '../helpers/fs.js';
import { concatObjects, createTestBucket, deleteBucket, testClient } from '../helpers/s3.js';

const CHROMIUM = '/usr/bin/chromium';
let client: S3Client;
let bucket: string;
let browser: Browser | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'dashstream');
});
afterAll(async () => {
  await browser?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await deleteBucket(client, bucket);
  client.destroy();
});

interface LaneRow {
  state: string;
  lagBytes: string;
  lagSeconds: string;
  throughput: string;
  error: string | null;
}

// what the panel shows per lane, read in the browser (plain JS: no DOM types in the test)
const ROWS = `Object.fromEntries([...document.querySelectorAll('#streams tr.stream-lane')].map((r) => [r.dataset.lane, {
  state: r.dataset.state,
  lagBytes: r.querySelector('.lag-bytes').textContent,
  lagSeconds: r.querySelector('.lag-seconds').textContent,
  throughput: r.querySelector('.throughput').textContent,
  error: document.querySelector('#streams tr.stream-lane-error[data-lane="' + r.dataset.lane + '"]')?.textContent ?? null,
}]))`;

const stored = (prefix: string): Promise<string> => concatObjects(client, bucket, prefix);

describe.skipIf(!existsSync(CHROMIUM))('dashboard: streaming lanes', () => {
  it('shows each stream lane with its lag in bytes and seconds, its throughput, and the error of a failed one', async () => {
    const dir = tempDir('dashstream-src');
    const shipping = join(dir, 'events.jsonl');
    const lagging = join(dir, 'features.jsonl');
    writeFileSync(shipping, Array.from({ length: 200 }, (_, i) => `{"event":${i},"pad":"${'e'.repeat(100)}"}\n`).join(''));
    writeFileSync(lagging, Array.from({ length: 300 }, (_, i) => `{"feature":${i},"pad":"${'f'.repeat(200)}"}\n`).join(''));
    const work = tempDir('dashstream-work');
    const cfg = join(work, 'hybridsync.yaml');
    writeFileSync(
      cfg,
      `links:
  - name: dx
    capacity: 1Gbps
jobs:
  - name: events
    kind: stream
    direction: push
    source: ${shipping}
    destination: s3://${bucket}/events
    link: dx
    lane: metadata
    stream: { segmentAge: 200ms, poll: 50ms }
  - name: features
    kind: stream
    direction: push
    source: ${lagging}
    destination: s3://${bucket}/features
    link: dx
    stream: { segmentAge: 1h, poll: 50ms }
  - name: broken
    kind: stream
    direction: push
    source: ${shipping}
    destination: s3://${bucket}-missing/x
    retry: { backoff: 1h }
server:
  listen: 127.0.0.1:0
`,
    );
    const d = await startDaemon(['--config', cfg, '--state', join(work, 'state.db')], {}, children);
    await until('the shipping lane stored its file', async () => ((await stored('events/')) === readFileSync(shipping, 'utf8') ? true : undefined));

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${d.url}/`);
    await page.locator('#streams tr.stream-lane[data-lane="broken"][data-state="failed"]').waitFor({ timeout: 60_000 });
    // more appended to the shipping lane: shipped within the minute, so it has a throughput
    appendFileSync(shipping, `{"event":"late","pad":"${'l'.repeat(100)}"}\n`);
    await until('the late record stored', async () => ((await stored('events/')) === readFileSync(shipping, 'utf8') ? true : undefined));
    // (the object is readable a moment before its offset commits and the page refreshes: wait for the page to catch up)
    const rows = await until('every lane on the page, the lagging one behind, the shipping one caught up', async () => {
      const r = await page.evaluate<Record<string, LaneRow>>(ROWS);
      return r.events && r.features && r.broken && r.features.lagSeconds !== '0.0 s' && r.events.lagBytes === '0 B' ? r : undefined;
    });

    // the lagging lane: every byte of its file is behind, and for a while
    const size = readFileSync(lagging).length;
    expect(rows.features!.state).toBe('following');
    expect(rows.features!.lagBytes).toBe(`${(size / 1024).toFixed(1)} KiB`);
    expect(Number(rows.features!.lagSeconds.replace(' s', ''))).toBeGreaterThan(0);
    // the shipping lane: caught up, with a throughput
    expect(rows.events!.state).toBe('following');
    expect(rows.events!.lagBytes).toBe('0 B');
    expect(rows.events!.throughput).toMatch(/^\d+(\.\d)? (B|KiB)\/s$/);
    // the broken lane: failed, with the reason a user can act on
    expect(rows.broken!.error).toMatch(/bucket does not exist: s3:\/\/.*-missing/);

    // the job table agrees: the broken job waits to restart, the others run; no "Run now" for a job that always runs
    await expect(page.locator('tr[data-job="broken"] .job-status').textContent()).resolves.toBe('restarting');
    await expect(page.locator('tr[data-job="events"] .job-status').textContent()).resolves.toBe('running');
    await expect(page.locator('tr[data-job="events"] button').count()).resolves.toBe(0);

    // the page shows what the API says
    const api = (await (await fetch(`${d.url}/api/streams`)).json()) as { lanes: Array<{ lane: string; lagBytes: number; bytes: number; state: string }> };
    expect(api.lanes.find((l) => l.lane === 'features')).toMatchObject({ lagBytes: size, state: 'following' });
    expect(api.lanes.find((l) => l.lane === 'events')!.bytes).toBe(readFileSync(shipping).length);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-streams-1280.png'), fullPage: true });
    expect(failed).toEqual([]);

    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
  });
});
