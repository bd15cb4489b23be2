/**
 * The README's main command, as a user runs it: the demo on the embedded default (local
 * "onprem" and "cloud" directories), and with --dst against a real bucket on Ceph RGW.
 * What a user would check: the exit code, which files arrived and with which bytes, the
 * audit trail (verified with the CLI) and the report.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { events, runCli } from '../helpers/cli.js';
import { tempDir, treeHashes } from '../helpers/fs.js';
import { createTestBucket, deleteBucket, listAll, testClient } from '../helpers/s3.js';

const RESTRICTED = 'restricted/patients.csv';
const EXTRACT = 'features/inference/requests-2026-11-22.csv';
const EDITED = 'experiments/exp-001/metrics.json';

interface Audit {
  type: string;
  key?: string;
  run?: string;
  mode?: string;
  classification?: string;
  transforms?: Array<{ name: string; report: { counts: Record<string, number> } }>;
}

const auditRecords = (dir: string): Audit[] =>
  readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Audit);

/** The on-prem extract's cells by column; the PII columns are where the planted values are. */
function csv(text: string): { header: string[]; rows: string[][] } {
  const [head, ...rest] = text.trimEnd().split('\n');
  return { header: head!.split(','), rows: rest.map((l) => l.split(',')) };
}

/** Planted values absent from `cloud`, and every other column byte-identical, row by row. */
function expectScrubbed(onprem: string, cloud: string): void {
  const a = csv(onprem);
  const b = csv(cloud);
  const pii = ['email', 'phone'].map((c) => a.header.indexOf(c));
  expect(pii.every((i) => i >= 0)).toBe(true);
  const planted = a.rows.flatMap((r) => pii.map((i) => r[i]!));
  expect(planted.length).toBe(80);
  for (const v of planted) expect(cloud, `planted value ${v} reached the cloud`).not.toContain(v);
  expect(b.header).toEqual(a.header);
  expect(b.rows.length).toBe(a.rows.length);
  a.rows.forEach((r, n) => {
    r.forEach((cell, i) => {
      if (!pii.includes(i)) expect(b.rows[n]![i]).toBe(cell);
    });
  });
}

/** The sync runs of the trail, in order: the keys each one transferred. */
function transfersPerSyncRun(records: Audit[]): string[][] {
  const runs = records.filter((r) => r.type === 'run-start' && r.mode === 'sync').map((r) => r.run!);
  return runs.map((id) => records.filter((r) => r.run === id && r.type === 'transfer').map((r) => r.key!));
}

describe('hybridsync demo', () => {
  it('on the embedded default: denies the restricted file, scrubs the extract, verifies the trail, writes the report, then moves only the edited file', async () => {
    const dir = tempDir('demo');
    const r = await runCli(['demo', '--dir', dir, '--no-progress']);
    expect(r.code, r.stderr).toBe(0);

    // the governance config it wrote goes through the real loader: the CLI uses it as is
    const policy = await runCli(['policy', 'check', join(dir, 'onprem'), join(dir, 'cloud'), '--config', join(dir, 'hybridsync.yaml'), '--denied']);
    expect(policy.code, policy.stderr).toBe(3);
    expect(policy.stdout).toMatch(/DENY\s+restricted\s+restricted\/patients\.csv/);

    // the restricted file stayed on-prem, and the trail says why
    const onprem = treeHashes(join(dir, 'onprem'));
    const cloud = treeHashes(join(dir, 'cloud'));
    expect(onprem.has(RESTRICTED)).toBe(true);
    expect(cloud.has(RESTRICTED)).toBe(false);
    const records = auditRecords(dir);
    const denied = records.filter((x) => x.type === 'denied');
    expect(denied.length).toBe(2); // once per sync
    for (const d of denied) expect([d.key, d.classification]).toEqual([RESTRICTED, 'restricted']);
    expect(r.stderr).toMatch(/DENIED as designed: restricted\/patients\.csv/);

    // the extract reached the cloud scrubbed: no planted value, every other column unchanged
    expectScrubbed(readFileSync(join(dir, 'onprem', EXTRACT), 'utf8'), readFileSync(join(dir, 'cloud', EXTRACT), 'utf8'));
    const scrub = records.find((x) => x.type === 'transfer' && x.key === EXTRACT)?.transforms?.find((t) => t.name === 'pii-scrub');
    expect(scrub?.report.counts.email).toBe(40);
    expect(scrub?.report.counts.phone).toBe(40);
    expect(r.stderr).toMatch(/PII-scrubbed \(40 email, 40 phone value\(s\) replaced/);
    expect(r.stderr).toMatch(/cloud: {3}req-000001,2026-11-22T10:00:00Z,<EMAIL>,<PHONE>,/);

    // every other file arrived byte for byte
    for (const [k, h] of onprem) if (k !== RESTRICTED && k !== EXTRACT) expect(cloud.get(k), k).toBe(h);
    expect(cloud.size).toBe(onprem.size - 1);

    // the trail verifies with the CLI too, and the report lists the denial
    const verify = await runCli(['audit', 'verify', '--state', join(dir, 'state.db')]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^OK .*audit\.jsonl: \d+ records, \d+ signed checkpoints/);
    const report = join(dir, 'audit-report.html');
    expect(existsSync(report)).toBe(true);
    expect(readFileSync(report, 'utf8')).toContain(RESTRICTED);
    expect(r.stderr).toContain(`compliance report written to ${report}`);

    // the incremental sync moved exactly the edited file; the final check found nothing different
    expect(transfersPerSyncRun(records)).toEqual([expect.arrayContaining([EXTRACT, EDITED]), [EDITED]]);
    expect(transfersPerSyncRun(records)[0]!.length).toBe(onprem.size - 1);
    // the check verified the scrubbed extract against its source and found the denied file absent, as it should be
    expect(r.stderr).toMatch(/checked:\s+40 files, 0 differences/);
    expect(r.stderr).toMatch(/identical:\s+39 \(1 of them transforms of their source/);
    expect(r.stderr).toMatch(/kept from this destination by policy: 1 file/);
  });

  it('runs again in the same directory: still exit 0, only the edited file moves in the second sync', async () => {
    const dir = tempDir('demo-rerun');
    expect((await runCli(['demo', '--dir', dir, '--no-progress'])).code).toBe(0);
    const again = await runCli(['demo', '--dir', dir, '--no-progress']);
    expect(again.code, again.stderr).toBe(0);
    const runs = transfersPerSyncRun(auditRecords(dir));
    expect(runs.length).toBe(4);
    expect(runs[3]).toEqual([EDITED]);
    expect((await runCli(['audit', 'verify', '--state', join(dir, 'state.db')])).code).toBe(0);
  });
});

describe.skipIf(!process.env.HYBRIDSYNC_TEST_S3)('hybridsync demo --dst (a real bucket)', () => {
  const client = process.env.HYBRIDSYNC_TEST_S3 ? testClient() : undefined;
  let bucket: string | undefined;
  afterAll(async () => {
    if (bucket) await deleteBucket(client!, bucket);
    client?.destroy();
  });

  it('--json --dst s3://…: NDJSON steps, the restricted file absent from the bucket, the extract scrubbed there', async () => {
    bucket = await createTestBucket(client!, 'demo');
    const dir = tempDir('demo-s3');
    const r = await runCli(['demo', '--dir', dir, '--dst', `s3://${bucket}/demo`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = events(r.stdout);
    const steps = out.filter((e) => e.type === 'demo').map((e) => e.step);
    expect(steps).toEqual(['generated', 'config', 'sync', 'synced', 'kept-on-prem', 'scrubbed', 'verified', 'report', 'edited', 'sync', 'synced', 'check', 'checked']);
    // denied in both syncs, and reported as denied (not missing) by the check
    expect(out.filter((e) => e.type === 'denied').map((e) => e.key)).toEqual([RESTRICTED, RESTRICTED, RESTRICTED]);
    expect(out.filter((e) => e.type === 'summary').map((e) => (e.summary as { status: string }).status)).toEqual(['denied', 'known-denials', 'known-denials']);
    const keys = (await listAll(client!, bucket, 'demo/')).map((o) => o.key);
    expect(keys).toContain(`demo/${EXTRACT}`);
    expect(keys).not.toContain(`demo/${RESTRICTED}`);
    const obj = await client!.send(new GetObjectCommand({ Bucket: bucket, Key: `demo/${EXTRACT}` }));
    expectScrubbed(readFileSync(join(dir, 'onprem', EXTRACT), 'utf8'), await obj.Body!.transformToString());
  });
});
