/**
 * `hybridsync daemon` as an operator runs it, against a real Ceph RGW: the HTTP API
 * (jobs, trigger, live progress, history, links, plan), /metrics, probes, the bearer token
 * rule, and a graceful SIGTERM in the middle of a run that the next run completes.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, listAll, testClient } from '../helpers/s3.js';
import { randomFile, tempDir, treeHashes } from '../helpers/fs.js';
import { ROOT, events, runCli } from '../helpers/cli.js';
import { startDaemon as startDaemonIn, until } from '../helpers/daemon.js';

let client: S3Client;
let bucket: string;
const fromSource = existsSync(join(ROOT, 'dist', 'cli', 'daemon.js')) ? {} : { HYBRIDSYNC_FROM_SOURCE: '1' };
const children: ChildProcess[] = [];

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'opsdaemon');
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await deleteBucket(client, bucket);
  client.destroy();
});

/** Starts the daemon and resolves once it printed its URL. */
const startDaemon = (args: string[], env: NodeJS.ProcessEnv = {}) => startDaemonIn(args, { ...fromSource, ...env }, children);

/** POST as the dashboard does: with the daemon's CSRF token (GET /api/session). */
async function post(base: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
  const session = (await (await fetch(`${base}/api/session`, { headers })).json()) as { csrfHeader: string; csrfToken: string };
  return fetch(base + path, { method: 'POST', headers: { ...headers, [session.csrfHeader]: session.csrfToken } });
}


function setup(capacity: string, files: number, size: number) {
  const src = tempDir('dmn-src');
  for (let i = 0; i < files; i++) randomFile(src, `data/f-${i}.bin`, size);
  const work = tempDir('dmn-work');
  const prefix = `p${Math.random().toString(36).slice(2, 8)}`;
  const cfg = join(work, 'hybridsync.yaml');
  writeFileSync(
    cfg,
    `links:
  - name: dx
    kind: direct-connect
    capacity: ${capacity}
jobs:
  - name: push
    kind: copy
    source: ${src}
    destination: s3://${bucket}/${prefix}
    link: dx
    lane: artifacts
    transfer: { transfers: 2 }
  - name: nightly
    source: ${tempDir('dmn-empty')}
    destination: ${tempDir('dmn-dst')}
    schedule: "0 22 * * *"
    window: "22:00-06:00"
    volume: 40TB
server:
  listen: 127.0.0.1:0
`,
  );
  return { src, cfg, state: join(work, 'state.db'), prefix };
}

describe('hybridsync daemon', () => {
  it('serves jobs, runs a triggered job to Ceph, and reports history, links, plan and metrics', async () => {
    const s = setup('10Gbps', 4, 300_000);
    const d = await startDaemon(['--config', s.cfg, '--state', s.state, '--monitor-interval', '1']);
    const get = (p: string) => fetch(d.url + p);

    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    const jobs = (await (await get('/api/jobs')).json()) as { jobs: Array<{ name: string; nextRun: number | null; running: boolean }> };
    expect(jobs.jobs.map((j) => j.name)).toEqual(['push', 'nightly']);
    expect(jobs.jobs[1]!.nextRun).toBeGreaterThan(Date.now());

    // without the token (a page of another site cannot read it), the job does not start
    expect((await fetch(`${d.url}/api/jobs/push/run`, { method: 'POST' })).status).toBe(403);
    const trigger = await post(d.url, '/api/jobs/push/run');
    expect(trigger.status).toBe(202);
    expect((await post(d.url, '/api/jobs/nope/run')).status).toBe(404);

    const last = await until('the run to finish', async () => {
      const r = (await (await get('/api/jobs/push')).json()) as { running: boolean; lastRun: { status: string } | null };
      return !r.running && r.lastRun && r.lastRun.status !== 'running' ? r.lastRun : undefined;
    });
    expect(last).toMatchObject({ status: 'ok', files: 4, bytes: 1_200_000, trigger: 'manual' });
    for (const [rel, hash] of treeHashes(s.src)) expect(await getObjectMd5(client, bucket, `${s.prefix}/${rel}`)).toBe(hash);

    const history = (await (await get('/api/jobs/push/history')).json()) as { runs: Array<{ status: string }> };
    expect(history.runs.map((r) => r.status)).toEqual(['ok']);
    const links = (await (await get('/api/links')).json()) as { links: Array<{ name: string; capacityBitsPerSecond: number; threshold: number }> };
    expect(links.links).toMatchObject([{ name: 'dx', capacityBitsPerSecond: 10e9, threshold: 0.7 }]);
    const plan = (await (await get('/api/plan')).json()) as { plan: { workloads: Array<{ name: string }>; recommendedBitsPerSecond: number } };
    expect(plan.plan.workloads.map((w) => w.name)).toEqual(['nightly']);
    expect(plan.plan.recommendedBitsPerSecond / 1e9).toBeCloseTo(14.44, 2);

    const metrics = await (await get('/metrics')).text();
    expect(metrics).toMatch(/hybridsync_job_bytes_total\{job="push",link="dx"\} 1200000/);
    expect(metrics).toMatch(/hybridsync_job_runs_total\{job="push",status="ok"\} 1/);
    expect(metrics).toMatch(/hybridsync_link_capacity_bits_per_second\{link="dx"\} 10000000000/);
    expect(metrics).toMatch(/hybridsync_link_utilization_ratio\{link="dx"\}/);
    expect((await get('/api/nothing')).status).toBe(404);

    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
  });

  it('stops cleanly on SIGTERM in the middle of a run; the next run completes the copy', async () => {
    // 8 Mbps = 1 MB/s: the 2.4 MB job takes about 2.4 s, long enough to be stopped midway
    const s = setup('8Mbps', 6, 400_000);
    const d = await startDaemon(['--config', s.cfg, '--state', s.state]);
    expect((await post(d.url, '/api/jobs/push/run')).status).toBe(202);
    expect((await post(d.url, '/api/jobs/push/run')).status).toBe(409);
    const live = await until('live progress', async () => {
      const r = (await (await fetch(`${d.url}/api/runs`)).json()) as { live: Array<{ job: string; lane: string; progress: { bytesDone: number; bytesPlanned: number } }> };
      return r.live[0] && r.live[0].progress.bytesDone > 0 ? r.live[0] : undefined;
    });
    expect(live).toMatchObject({ job: 'push', lane: 'artifacts' });
    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(d.stderr()).toMatch(/stopping: no new runs/);

    const env = { ...fromSource };
    const hist = await runCli(['job', 'history', 'push', '--config', s.cfg, '--state', s.state, '--json'], { env });
    expect(events(hist.stdout).map((r) => r.status)).toEqual(['stopped']);
    const before = await listAll(client, bucket, `${s.prefix}/`);
    expect(before.length).toBeLessThan(6);

    const rerun = await runCli(['job', 'run', 'push', '--config', s.cfg, '--state', s.state, '--no-progress'], { env });
    expect(rerun.code).toBe(0);
    for (const [rel, hash] of treeHashes(s.src)) expect(await getObjectMd5(client, bucket, `${s.prefix}/${rel}`)).toBe(hash);
  });

  it('requires a bearer token on a non-loopback address', async () => {
    const s = setup('1Gbps', 1, 10);
    const refused = await runCli(['daemon', '--config', s.cfg, '--state', s.state, '--listen', '0.0.0.0:0'], { env: { ...fromSource, HYBRIDSYNC_API_TOKEN: '' } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without a bearer token/);

    const d = await startDaemon(['--config', s.cfg, '--state', s.state, '--listen', '0.0.0.0:0'], { HYBRIDSYNC_API_TOKEN: 's3cret-token' });
    const port = new URL(d.url).port;
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/api/jobs`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/api/jobs`, { headers: { Authorization: 'Bearer wrong-token!' } })).status).toBe(401);
    expect((await fetch(`${base}/api/jobs`, { headers: { Authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect((await fetch(`${base}/api/session`)).status).toBe(401);
    expect((await post(base, '/api/jobs/nope/run', { Authorization: 'Bearer s3cret-token' })).status).toBe(404);
    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
  });
});
