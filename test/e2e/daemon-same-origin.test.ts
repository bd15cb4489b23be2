/**
 * The daemon's API against other web sites, with real HTTP requests carrying the headers a
 * browser sends: a foreign Host (DNS rebinding) is refused on every route, a cross-origin
 * POST is refused and the job does not run, and a same-origin POST with the token the
 * dashboard page embeds starts the job. A local → local job: no services needed.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomFile, tempDir } from '../helpers/fs.js';
import { spawnCli } from '../helpers/cli.js';
import { sendTo, type Reply } from '../helpers/http.js';

let daemon: ChildProcess;
let port: number;
let dst: string;

/** One request with exactly these headers. */
const send = (path: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> => sendTo(port, path, o);

const json = (r: Reply): Record<string, unknown> => JSON.parse(r.body) as Record<string, unknown>;

async function lastRun(): Promise<{ running: boolean; lastRun: { status: string } | null }> {
  return json(await send('/api/jobs/push')) as { running: boolean; lastRun: { status: string } | null };
}

beforeAll(async () => {
  const src = tempDir('origin-src');
  randomFile(src, 'model.bin', 1000);
  dst = tempDir('origin-dst');
  const work = tempDir('origin-work');
  const cfg = join(work, 'hybridsync.yaml');
  writeFileSync(cfg, `jobs:\n  - name: push\n    kind: copy\n    source: ${src}\n    destination: ${dst}\nserver:\n  listen: 127.0.0.1:0\n`);
  daemon = spawnCli(['daemon', '--config', cfg, '--state', join(work, 'state.db')]);
  let stderr = '';
  port = await new Promise<number>((resolve, reject) => {
    daemon.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /dashboard on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    daemon.on('close', (code) => reject(new Error(`daemon exited with ${code}: ${stderr}`)));
  });
});
afterAll(() => {
  if (daemon.exitCode === null) daemon.kill('SIGKILL');
});

describe('daemon API and other web sites', () => {
  it('refuses a Host header that is not the listen address, on every route', async () => {
    for (const path of ['/api/audit', '/api/jobs', '/', '/metrics', '/api/session']) {
      const r = await send(path, { headers: { Host: `evil.example:${port}` } });
      expect(r.status, path).toBe(421);
      expect(json(r).error).toMatch(/does not serve the host "evil\.example:\d+"/);
    }
    expect((await send('/api/audit', { headers: { Host: 'localhost:1' } })).status).toBe(421);
    // the loopback names of the listen address, with its port
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await send('/api/audit', { headers: { Host: host } })).status, host).toBe(200);
    }
  });

  it('refuses cross-origin POSTs (the job does not run) and runs it for the page of the same origin', async () => {
    const page = await send('/');
    expect(page.status).toBe(200);
    const token = /<meta name="hybridsync-csrf" data-header="X-Hybridsync-CSRF" content="([\w-]+)">/.exec(page.body)?.[1];
    expect(token).toBeDefined();
    expect(json(await send('/api/session')).csrfToken).toBe(token);
    const csrf = { 'X-Hybridsync-CSRF': token! };

    const attempts: Array<Record<string, string>> = [
      { Origin: 'http://evil.example' }, // a form or fetch from another site
      { Origin: 'http://evil.example', ...csrf }, // even with the token
      { Origin: `http://localhost:${port + 1}`, ...csrf }, // another origin on this machine
      { Origin: 'null', ...csrf }, // a sandboxed frame
      { 'Sec-Fetch-Site': 'cross-site', ...csrf },
      { 'Sec-Fetch-Site': 'same-site', ...csrf },
      {}, // no token: curl, or a page the browser sends no Origin for
      { 'X-Hybridsync-CSRF': 'guessed' },
    ];
    for (const headers of attempts) {
      const r = await send('/api/jobs/push/run', { method: 'POST', headers });
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(json(r).error).toBeTypeOf('string');
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await lastRun()).toMatchObject({ running: false, lastRun: null });
    expect(readdirSync(dst)).toEqual([]);

    const ok = await send('/api/jobs/push/run', { method: 'POST', headers: { Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin', ...csrf } });
    expect(ok.status).toBe(202);
    for (let i = 0; i < 300; i++) {
      const j = await lastRun();
      if (!j.running && j.lastRun && j.lastRun.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await lastRun()).lastRun).toMatchObject({ status: 'ok' });
    expect(readdirSync(dst)).toEqual(['model.bin']);
  });
});
