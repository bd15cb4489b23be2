/**
 * Stopping the daemon while a job is stuck on an S3 endpoint that accepts connections and
 * never answers: SIGTERM arrives while the run is still being prepared (its TLS check is
 * waiting on that endpoint), and the daemon still exits, with the run recorded as stopped.
 * The endpoint stays silent throughout: nothing but the stop ends the run. No services
 * needed (a local source, dummy credentials for an endpoint that never answers).
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomFile, tempDir } from '../helpers/fs.js';
import { events, runCli, spawnCli } from '../helpers/cli.js';
import { sendTo as send } from '../helpers/http.js';

let daemon: ChildProcess | undefined;
let silent: Server | undefined;
const silentSockets = new Set<Socket>();

afterAll(() => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  for (const s of silentSockets) s.destroy();
  silent?.close();
});

const connections = (s: Server): Promise<number> => new Promise((r) => s.getConnections((_e, n) => r(n)));

describe('daemon stop', () => {
  it('exits on SIGTERM while a job waits on a silent S3 endpoint, and records the run as stopped', async () => {
    silent = createServer((s) => {
      silentSockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as { port: number }).port;
    const src = tempDir('stop-src');
    randomFile(src, 'shards/shard-0.bin', 1000);
    const work = tempDir('stop-work');
    const cfg = join(work, 'hybridsync.yaml');
    const state = join(work, 'state.db');
    // governance as in the dashboard's config; many retries, so only the stop can end the run soon
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
    locations: ["s3://datasets"]
    remotes: [unreachable]
classification:
  rules:
    - path: "hr/**"
      level: restricted
policy:
  environments:
    onprem: { maxLevel: restricted }
    cloud: { maxLevel: confidential }
jobs:
  - name: stalled-endpoint
    source: ${src}
    destination: unreachable:datasets/shards
    transfer: { retries: 20 }
server:
  listen: 127.0.0.1:0
`,
    );
    // credentials from the environment, as a remote without keys gets them (no profile, no metadata service)
    const env = { AWS_ACCESS_KEY_ID: 'AKIDSILENTENDPOINT01', AWS_SECRET_ACCESS_KEY: 'silent-endpoint-secret', AWS_PROFILE: '', AWS_CA_BUNDLE: '' };
    daemon = spawnCli(['daemon', '--config', cfg, '--state', state], env);
    let stderr = '';
    const port = await new Promise<number>((resolve, reject) => {
      daemon!.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /dashboard on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      daemon!.on('close', (code) => reject(new Error(`daemon exited with ${code}: ${stderr}`)));
    });

    const { csrfToken } = JSON.parse((await send(port, '/api/session')).body) as { csrfToken: string };
    const run = await send(port, '/api/jobs/stalled-endpoint/run', {
      method: 'POST',
      headers: { Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin', 'X-Hybridsync-CSRF': csrfToken },
    });
    expect(run.status, run.body).toBe(202);
    // the run is preparing and its TLS check is connected to the silent endpoint
    let job: { running: boolean; run: { phase: string } | null } = { running: false, run: null };
    for (let i = 0; i < 200 && !(job.run?.phase === 'preparing' && (await connections(silent)) > 0); i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = JSON.parse((await send(port, '/api/jobs/stalled-endpoint')).body) as typeof job;
    }
    expect(job).toMatchObject({ running: true, run: { phase: 'preparing' } });
    expect(await connections(silent)).toBeGreaterThan(0);

    daemon.kill('SIGTERM');
    const exited = new Promise<number | null>((r) => (daemon!.exitCode !== null ? r(daemon!.exitCode) : daemon!.on('close', (code) => r(code))));
    const bound = new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000).unref());
    expect(await Promise.race([exited, bound]), stderr).toBe(0);
    expect(stderr).toMatch(/stalled-endpoint: stopped/);

    const history = await runCli(['job', 'history', 'stalled-endpoint', '--json', '--config', cfg, '--state', state]);
    expect(history.code, history.stderr).toBe(0);
    const rows = events(history.stdout);
    expect(rows).toHaveLength(1);
    // stopped cleanly, not failed on the endpoint (it never answered)
    expect(rows[0]).toMatchObject({ type: 'job-run', job: 'stalled-endpoint', status: 'stopped', message: null });
    expect(rows[0]!.endedAt).toEqual(expect.any(Number));
  }, 90_000);
});
