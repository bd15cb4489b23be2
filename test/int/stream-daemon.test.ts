/**
 * A `kind: stream` job in the daemon, against a real Ceph RGW: it starts with the daemon,
 * ships what a writer appends, reports its lane in /metrics (lag, throughput), and stops
 * cleanly on SIGTERM; a restarted daemon continues from the committed offset.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { concatObjects, createTestBucket, deleteBucket, testClient } from '../helpers/s3.js';
import { tempDir } from '../helpers/fs.js';
import { startDaemon as startDaemonIn, until } from '../helpers/daemon.js';

let client: S3Client;
let bucket: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'streamd');
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await deleteBucket(client, bucket);
  client.destroy();
});

const startDaemon = (cfg: string, state: string) => startDaemonIn(['--config', cfg, '--state', state, '--monitor-interval', '1'], {}, children);

const stored = (prefix: string): Promise<string> => concatObjects(client, bucket, prefix);

describe('daemon stream job', () => {
  it('runs continuously on its link lane, reports lag and throughput in /metrics, and resumes after a restart', async () => {
    const dir = tempDir('streamd-src');
    const file = join(dir, 'features.jsonl');
    writeFileSync(file, '{"n":1}\n');
    const work = tempDir('streamd-work');
    const cfg = join(work, 'hybridsync.yaml');
    writeFileSync(
      cfg,
      `links:
  - name: dx
    capacity: 1Gbps
jobs:
  - name: features
    kind: stream
    direction: push
    source: ${file}
    destination: s3://${bucket}/fs
    link: dx
    lane: metadata
    stream: { segmentAge: 200ms, poll: 50ms }
server:
  listen: 127.0.0.1:0
`,
    );
    const state = join(work, 'state.db');
    const d = await startDaemon(cfg, state);
    await until('the first record shipped', async () => ((await stored('fs/')) === '{"n":1}\n' ? true : undefined));
    const metrics = await until('the lane in /metrics', async () => {
      const text = await (await fetch(`${d.url}/metrics`)).text();
      return /hybridsync_stream_up\{lane="features",direction="push"\} 1/.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/hybridsync_stream_lag_bytes\{lane="features",direction="push"\} 0/);
    expect(metrics).toMatch(/hybridsync_stream_throughput_bytes_per_second\{lane="features",direction="push"\} [0-9.e+-]+/);
    const jobs = (await (await fetch(`${d.url}/api/jobs`)).json()) as { jobs: Array<{ name: string; kind: string; running: boolean }> };
    expect(jobs.jobs).toMatchObject([{ name: 'features', kind: 'stream', running: true }]);
    // its bytes went through the link's governor: the link monitor saw them on dx
    await until('the segment bytes on link dx', async () => {
      const { links } = (await (await fetch(`${d.url}/api/links`)).json()) as { links: Array<{ name: string; samples: Array<{ bitsPerSecond: number }> }> };
      return links.find((l) => l.name === 'dx')?.samples.some((x) => x.bitsPerSecond > 0) ? true : undefined;
    });
    const streams = (await (await fetch(`${d.url}/api/streams`)).json()) as { lanes: Array<Record<string, unknown>> };
    expect(streams.lanes).toMatchObject([{ lane: 'features', direction: 'push', state: 'following', lagBytes: 0, segments: 1, bytes: 8 }]);

    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
    appendFileSync(file, '{"n":2}\n{"n":3}\n');
    const d2 = await startDaemon(cfg, state);
    await until('the records appended while it was down', async () => ((await stored('fs/')) === '{"n":1}\n{"n":2}\n{"n":3}\n' ? true : undefined));
    d2.child.kill('SIGTERM');
    expect(await d2.exit).toBe(0);
  });
});
