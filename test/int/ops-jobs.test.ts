/**
 * Jobs against a real Ceph RGW: `job run` as a user runs it (bytes in the bucket, history,
 * exit codes), and a run stopped at its window's end that the next run resumes.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, listAll, openUploads, testClient } from '../helpers/s3.js';
import { randomFile, tempDir, treeHashes } from '../helpers/fs.js';
import { ROOT, events, runCli } from '../helpers/cli.js';
import { resolveOperations } from '../../src/ops/jobs.js';
import { parseConfig } from '../../src/config/load.js';
import { JobHistory } from '../../src/ops/history.js';
import { LinkGovernor } from '../../src/ops/governor.js';
import { ManualClock } from '../../src/ops/clock.js';
import { runJob } from '../../src/ops/runner.js';
import { jobPreparer } from '../../src/cli/job.js';
import { resolveLocation } from '../../src/backends/registry.js';

let client: S3Client;
let bucket: string;
// the built CLI when it has the job command, else the sources
const fromSource = existsSync(join(ROOT, 'dist', 'cli', 'job.js')) ? {} : { HYBRIDSYNC_FROM_SOURCE: '1' };

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'opsjobs');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});

function configFile(dir: string, body: string): string {
  const file = join(dir, 'hybridsync.yaml');
  writeFileSync(file, body);
  return file;
}

describe('hybridsync job', () => {
  it("applies a job's own governance config: restricted data is denied, exit 3, nothing arrives", async () => {
    const src = tempDir('job-gov-src');
    randomFile(src, 'public/ok.bin', 1000);
    randomFile(src, 'hr/payroll.csv', 1000);
    const work = tempDir('job-gov-work');
    writeFileSync(
      join(work, 'strict.yaml'),
      `environments:
  onprem: { kind: onprem, locations: ["${src}"] }
  cloud: { kind: cloud, locations: ["s3://${bucket}"] }
classification:
  rules:
    - { path: "hr/**", level: restricted }
policy:
  environments:
    onprem: { maxLevel: restricted }
    cloud: { maxLevel: confidential }
`,
    );
    const cfg = configFile(
      work,
      `jobs:
  - name: hr-export
    source: ${src}
    destination: s3://${bucket}/gov
    governance: { config: strict.yaml }
  - name: hr-export-shared
    source: ${src}
    destination: s3://${bucket}/gov-shared
`,
    );
    const state = join(work, 'state.db');
    const strict = await runCli(['job', 'run', 'hr-export', '--config', cfg, '--state', state, '--no-progress'], { env: fromSource });
    expect(strict.code, strict.stderr).toBe(3);
    expect((await listAll(client, bucket, 'gov/')).map((o) => o.key)).toEqual(['gov/public/ok.bin']);
    // the other job has no policy of its own and the shared file declares none: both files go
    const shared = await runCli(['job', 'run', 'hr-export-shared', '--config', cfg, '--state', state, '--no-progress'], { env: fromSource });
    expect(shared.code, shared.stderr).toBe(0);
    expect((await listAll(client, bucket, 'gov-shared/')).length).toBe(2);
  });

  it('runs a job to Ceph, records it in the history and lists it', async () => {
    const src = tempDir('job-src');
    randomFile(src, 'train/shard-0.bin', 300_000);
    randomFile(src, 'train/shard-1.bin', 200_000);
    randomFile(src, 'meta/run.json', 1000);
    const work = tempDir('job-work');
    const state = join(work, 'state.db');
    const cfg = configFile(
      work,
      `links:
  - name: dx
    kind: direct-connect
    capacity: 10Gbps
jobs:
  - name: nightly
    kind: sync
    source: ${src}
    destination: s3://${bucket}/nightly
    schedule: "0 22 * * *"
    window: "22:00-06:00"
    link: dx
    lane: bulk
`,
    );
    const env = { ...fromSource };
    const run = await runCli(['job', 'run', 'nightly', '--config', cfg, '--state', state, '--no-progress'], { env });
    expect(run.stderr).toMatch(/sync: .* -> s3:\/\/.*: ok/);
    expect(run.code).toBe(0);
    const objects = await listAll(client, bucket, 'nightly/');
    expect(objects.map((o) => o.key).sort()).toEqual(['nightly/meta/run.json', 'nightly/train/shard-0.bin', 'nightly/train/shard-1.bin']);
    const want = treeHashes(src);
    for (const [rel, hash] of want) expect(await getObjectMd5(client, bucket, `nightly/${rel}`)).toBe(hash);

    const hist = await runCli(['job', 'history', 'nightly', '--config', cfg, '--state', state, '--json'], { env });
    expect(hist.code).toBe(0);
    const rows = events(hist.stdout);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ job: 'nightly', trigger: 'manual', status: 'ok', files: 3, bytes: 501_000 });

    const list = await runCli(['job', 'list', '--config', cfg, '--state', state, '--json'], { env });
    expect(list.code).toBe(0);
    expect(events(list.stdout)[0]).toMatchObject({ name: 'nightly', link: 'dx', lane: 'bulk', lastStatus: 'ok' });

    const unknown = await runCli(['job', 'run', 'nope', '--config', cfg, '--state', state], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no job named "nope"/);
  });

  it('rejects a config whose job names an undeclared link, with exit code 2', async () => {
    const work = tempDir('job-bad');
    const cfg = configFile(work, `jobs:\n  - name: a\n    source: /tmp\n    destination: s3://${bucket}/x\n    link: missing\n`);
    const r = await runCli(['job', 'list', '--config', cfg, '--state', join(work, 's.db')], { env: { ...fromSource } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/jobs\.a\.link: no link named "missing"/);
  });

  it('stops a run cleanly at the window end and the next run resumes to a complete copy', async () => {
    const src = tempDir('win-src');
    for (let i = 0; i < 6; i++) randomFile(src, `bulk/part-${i}.bin`, 512 * 1024);
    randomFile(src, 'bulk/big.bin', 12 * 1024 * 1024); // multipart: 5 MiB parts from 8 MiB
    const work = tempDir('win-work');
    const ops = resolveOperations(
      parseConfig(`links:
  - name: vpn
    kind: vpn
    capacity: 32Mbps
jobs:
  - name: push
    kind: copy
    source: ${src}
    destination: s3://${bucket}/push
    window: "22:00-06:00"
    link: vpn
    transfer:
      transfers: 2
      multipartThreshold: 8MiB
      partSize: 5MiB
`),
      'inline.yaml',
      join(work, 'state.db'),
    );
    const job = ops.jobs[0]!;
    const history = new JobHistory(ops.statePath);
    const prepare = jobPreparer(ops, { progress: false });
    // the deadline runs on a manual clock: the window "closes" when the first file has landed
    const clock = new ManualClock(1_000_000);
    const governor = new LinkGovernor({ name: 'vpn', bytesPerSecond: () => 4_000_000 });
    const first = await runJob(job, { trigger: 'schedule', attempt: 1, deadline: 1_000_000 + 3_600_000 }, {
      history,
      prepare,
      clock,
      governor,
      onEvent: (_job, e) => {
        if (e.type === 'transfer') clock.advance(3_600_000);
      },
    });
    expect(first.status).toBe('window-end');
    const partial = await listAll(client, bucket, 'push/');
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(7);

    const second = await runJob(job, { trigger: 'schedule', attempt: 1 }, { history, prepare });
    expect(second.status).toBe('ok');
    const objects = await listAll(client, bucket, 'push/');
    expect(objects).toHaveLength(7);
    for (const [rel, hash] of treeHashes(src)) expect(await getObjectMd5(client, bucket, `push/${rel}`)).toBe(hash);
    // every upload the stopped run started was resumed or cleaned up: nothing is open at the
    // server (one whose create was in flight at the abort was journaled as an intent, and swept)
    expect(await openUploads(client, bucket)).toEqual([]);
    const { StateDb } = await import('../../src/sync/state.js');
    const st = new StateDb(ops.statePath);
    expect(st.journalFor(resolveLocation(`s3://${bucket}/push/`).location.id).pending()).toEqual([]);
    st.close();
    // the second run sent only what the first did not
    expect(second.summary!.skipped).toBe(partial.length);

    const rows = history.list('push');
    expect(rows.map((r) => r.status)).toEqual(['ok', 'window-end']);
    expect(rows[1]!.message).toMatch(/end of the run window/);
    history.close();
  });
});
