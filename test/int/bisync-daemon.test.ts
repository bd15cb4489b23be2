/**
 * bisync as a job: `job run` of a kind: bisync job, and a watch: true job that the daemon
 * keeps running from its start — a local write reaches the bucket and an object written
 * to the bucket reaches the local tree while it runs; SIGTERM stops it cleanly.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, testClient } from '../helpers/s3.js';
import { md5, randomFile, tempDir, writeFile } from '../helpers/fs.js';
import { startDaemon, until as untilValue } from '../helpers/daemon.js';
import { runCli, spawnCli } from '../helpers/cli.js';

let client: S3Client;
let bucket: string;
beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'bisyncjob');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});

const body = async (key: string): Promise<string | undefined> =>
  client.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then((r) => r.Body!.transformToString(), () => undefined);

async function until(label: string, ok: () => Promise<boolean> | boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within 30 s: ${label}\n${log()}`);
    await sleep(100);
  }
}

function setup(watch: boolean) {
  const local = tempDir('bjob-local');
  const work = tempDir('bjob-work');
  const prefix = `j${Math.random().toString(36).slice(2, 8)}/`;
  const cfg = join(work, 'hybridsync.yaml');
  writeFileSync(
    cfg,
    `jobs:
  - name: meta
    kind: bisync
    source: ${local}
    destination: s3://${bucket}/${prefix}
    ${watch ? 'watch: true' : ''}
    bisync: { pollInterval: 1s, merge: [{ glob: "*.jsonl", driver: jsonl-union }] }
`,
  );
  return { local, prefix, cfg, state: join(work, 'state.db') };
}

describe('a bisync job', () => {
  it('shows its live progress in the daemon, both directions counted together', async () => {
    const local = tempDir('bjob-prog-local');
    const work = tempDir('bjob-prog-work');
    const prefix = `p${Math.random().toString(36).slice(2, 8)}/`;
    for (let i = 0; i < 3; i++) randomFile(local, `up/f-${i}.bin`, 400_000);
    for (let i = 0; i < 3; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}down/g-${i}.bin`, Body: Buffer.alloc(400_000, i) }));
    const cfg = join(work, 'hybridsync.yaml');
    // 8 Mbps = 1 MB/s shared by both directions: 2.4 MB take a few seconds, long enough to watch
    writeFileSync(
      cfg,
      `links:
  - name: wan
    capacity: 8Mbps
jobs:
  - name: meta
    kind: bisync
    source: ${local}
    destination: s3://${bucket}/${prefix}
    link: wan
server:
  listen: 127.0.0.1:0
`,
    );
    const d = await startDaemon(['--config', cfg, '--state', join(work, 'state.db')]);
    try {
      const session = (await (await fetch(`${d.url}/api/session`)).json()) as { csrfHeader: string; csrfToken: string };
      expect((await fetch(`${d.url}/api/jobs/meta/run`, { method: 'POST', headers: { [session.csrfHeader]: session.csrfToken } })).status).toBe(202);
      let most = 0;
      const seen = await untilValue('live progress of both directions', async () => {
        const r = (await (await fetch(`${d.url}/api/runs`)).json()) as { live: Array<{ job: string; progress: { filesPlanned: number; bytesDone: number } }> };
        const p = r.live[0]?.progress;
        if (p) most = Math.max(most, p.filesPlanned);
        return p && p.bytesDone > 0 && most > 3 ? r.live[0] : undefined;
      });
      expect(seen).toMatchObject({ job: 'meta' });
      await untilValue('the run to finish', async () => {
        const h = (await (await fetch(`${d.url}/api/jobs/meta/history`)).json()) as { runs: Array<{ status: string }> };
        return h.runs[0]?.status === 'ok' ? true : undefined;
      });
      expect(readFileSync(join(local, 'down/g-2.bin')).equals(Buffer.alloc(400_000, 2))).toBe(true);
      expect(await getObjectMd5(client, bucket, `${prefix}up/f-0.bin`)).toBe(md5(readFileSync(join(local, 'up/f-0.bin'))));
    } finally {
      d.child.kill('SIGTERM');
      await d.exit;
    }
  });

  it('job run syncs both ways and records the run in the job history', async () => {
    const s = setup(false);
    writeFile(s.local, 'params.json', '{"lr":0.1}');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${s.prefix}notes.txt`, Body: 'from the cloud' }));
    const r = await runCli(['job', 'run', 'meta', '--config', s.cfg, '--state', s.state, '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    expect(await body(`${s.prefix}params.json`)).toBe('{"lr":0.1}');
    expect(readFileSync(join(s.local, 'notes.txt'), 'utf8')).toBe('from the cloud');
    const hist = await runCli(['job', 'history', 'meta', '--config', s.cfg, '--state', s.state, '--json']);
    expect(hist.stdout).toMatch(/"status":"ok"/);
  });

  it('with watch: true the daemon keeps both sides in step until SIGTERM', async () => {
    const s = setup(true);
    const child = spawnCli(['daemon', '--config', s.cfg, '--state', s.state, '--listen', '127.0.0.1:0']);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      writeFile(s.local, 'run-1/status.json', '{"state":"training"}');
      await until('a local write reaching the bucket', async () => (await body(`${s.prefix}run-1/status.json`)) === '{"state":"training"}', () => err);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${s.prefix}run-1/eval.json`, Body: '{"acc":0.9}' }));
      const f = join(s.local, 'run-1/eval.json');
      await until('an object reaching the local tree', () => existsSync(f) && readFileSync(f, 'utf8') === '{"acc":0.9}', () => err);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exit).toBe(0);
  });
});
