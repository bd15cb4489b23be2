/**
 * Offline seeding on real Ceph RGW: export a signed bundle, import it into the bucket with
 * a different tool (Debian's aws-cli: new LastModified dates, its own 8 MiB multipart
 * parts, no hybridsync metadata), adopt, and the next sync moves only what changed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, listAll, rcloneEnv, s3Env, testClient } from '../helpers/s3.js';
import { md5, randomFile, tempDir } from '../helpers/fs.js';
import { events, runCli } from '../helpers/cli.js';

const MiB = 1024 * 1024;
let client: S3Client;
let bucket: string;
let stateDir: string;
const env = (): NodeJS.ProcessEnv => ({ HYBRIDSYNC_STATE_DIR: stateDir });

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'seed');
  stateDir = tempDir('seed-state');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});

function summaryOf(stdout: string): Record<string, number> {
  return events(stdout).find((e) => e.type === 'summary')!.summary as Record<string, number>;
}

/**
 * The adoption round trip a user makes after an import of `files` objects: sync --dry-run
 * would send them all (new dates), adopt records them all, then sync --dry-run has nothing
 * to send. Resolves with the adopted events.
 */
async function adoptRoundTrip(src: string, dst: string, files: number): Promise<Array<Record<string, unknown>>> {
  const before = await runCli(['sync', src, dst, '--dry-run', '--json'], { env: env() });
  expect(events(before.stdout).filter((x) => x.type === 'plan' && x.action === 'transfer')).toHaveLength(files);
  const ad = await runCli(['adopt', src, dst, '--json'], { env: env() });
  expect(ad.code, ad.stderr).toBe(0);
  const adopted = events(ad.stdout).filter((x) => x.type === 'adopted');
  expect(adopted).toHaveLength(files);
  const dry = await runCli(['sync', src, dst, '--dry-run', '--json'], { env: env() });
  expect(dry.code, dry.stderr).toBe(0);
  expect(events(dry.stdout).filter((x) => x.type === 'plan')).toEqual([]);
  expect(summaryOf(dry.stdout)).toMatchObject({ bytes: 0, skipped: files });
  return adopted;
}

describe('seed export → import with aws-cli → adopt → incremental sync', () => {
  it('adopts what aws s3 cp imported (single-part MD5 and 8 MiB multipart ETags), so sync --dry-run has nothing to send and a sync after two edits sends exactly those two', async () => {
    const src = tempDir('seed-src');
    for (let i = 0; i < 40; i++) randomFile(src, `shards/s-${String(i).padStart(3, '0')}.bin`, 1000 + i * 97);
    randomFile(src, 'models/big.pt', 20 * MiB + 5); // aws-cli: 3 parts of 8 MiB
    randomFile(src, 'models/mid.pt', 6 * MiB); // under aws-cli's 8 MiB threshold: one part
    const bundle = tempDir('seed-bundle');

    const exp = await runCli(['seed', 'export', src, bundle, '--json'], { env: env() });
    expect(exp.code, exp.stderr).toBe(0);
    const manifest = readFileSync(join(bundle, 'manifest.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(manifest[0]!.format).toBe('hybridsync-seed/v1');
    const listed = manifest.filter((l) => typeof l.key === 'string');
    expect(listed).toHaveLength(42);
    expect(listed.find((l) => l.key === 'models/big.pt')!.md5).toBe(md5(readFileSync(join(src, 'models/big.pt'))));
    expect(manifest.at(-1)!.type).toBe('signature');
    const ver = await runCli(['seed', 'verify', bundle], { env: env() });
    expect(ver.code, ver.stderr).toBe(0);

    // a tampered bundle file is named by verify
    const victim = join(bundle, 'data', 'shards', 's-000.bin');
    const orig = readFileSync(victim);
    writeFileSync(victim, Buffer.alloc(orig.length, 1));
    const bad = await runCli(['seed', 'verify', bundle], { env: env() });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('shards/s-000.bin: MD5 differs');
    writeFileSync(victim, orig);

    // the import, by another tool
    const e = s3Env();
    // aws-cli's defaults written out, so a ~/.aws/config on the machine cannot change them
    const awsConfig = join(tempDir('seed-aws'), 'config');
    writeFileSync(awsConfig, '[default]\ns3 =\n    multipart_threshold = 8MB\n    multipart_chunksize = 8MB\n');
    execFileSync('/usr/bin/aws', ['--endpoint-url', e.endpoint, 's3', 'cp', '--recursive', '--only-show-errors', join(bundle, 'data'), `s3://${bucket}/seed/`], {
      env: { ...process.env, AWS_CONFIG_FILE: awsConfig, AWS_ACCESS_KEY_ID: e.accessKeyId, AWS_SECRET_ACCESS_KEY: e.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_CA_BUNDLE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const objects = await listAll(client, bucket, 'seed/');
    expect(objects).toHaveLength(42);
    expect(objects.find((o) => o.key === 'seed/models/big.pt')!.etag).toMatch(/-3$/); // multipart, 8 MiB parts

    const dst = `s3://${bucket}/seed`;
    // without adoption every imported object looks changed (upload dates, no mtime metadata)
    const adopted = await adoptRoundTrip(src, dst, 42);
    expect(adopted.find((x) => x.key === 'models/big.pt')).toMatchObject({ by: 'multipart-etag', partSize: 8 * MiB });
    expect(adopted.find((x) => x.key === 'models/mid.pt')).toMatchObject({ by: 'md5' });

    // two edits since the export: one same size (new content, new mtime), one grown
    randomFile(src, 'shards/s-007.bin', 1000 + 7 * 97);
    const later = new Date(Date.now() + 5000);
    utimesSync(join(src, 'shards/s-007.bin'), later, later);
    writeFileSync(join(src, 'models/mid.pt'), Buffer.concat([readFileSync(join(src, 'models/mid.pt')), Buffer.from('more')]));
    const run = await runCli(['sync', src, dst, '--json'], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    const sent = events(run.stdout).filter((x) => x.type === 'transfer').map((x) => x.key).sort();
    expect(sent).toEqual(['models/mid.pt', 'shards/s-007.bin']);
    expect(summaryOf(run.stdout)).toMatchObject({ transferred: 2, skipped: 40 });
    for (const k of sent as string[]) expect(await getObjectMd5(client, bucket, `seed/${k}`)).toBe(md5(readFileSync(join(src, k))));
    expect(existsSync(join(bundle, 'manifest.ndjson'))).toBe(true);
  });
});

describe('seed export → import with rclone (7 MiB parts, no MD5 metadata, mtimes lost on the device) → adopt → incremental sync', () => {
  it('adopts what rclone copy imported by recomputing its 7 MiB multipart ETag (a part size no common tool uses, and not the smallest that fits), so sync --dry-run has nothing to send', async () => {
    const src = tempDir('seed-rc-src');
    for (let i = 0; i < 12; i++) randomFile(src, `shards/r-${String(i).padStart(2, '0')}.bin`, 2000 + i * 131);
    randomFile(src, 'models/odd.pt', 22 * MiB); // 7 MiB parts: 4 parts; 6 MiB would also give 4, and is tried first
    const files = ['models/odd.pt', ...Array.from({ length: 12 }, (_, i) => `shards/r-${String(i).padStart(2, '0')}.bin`)];
    const year = new Date(Date.now() - 365 * 86400_000);
    for (const f of files) utimesSync(join(src, f), year, year);
    const bundle = tempDir('seed-rc-bundle');
    const exp = await runCli(['seed', 'export', src, bundle, '--json'], { env: env() });
    expect(exp.code, exp.stderr).toBe(0);
    // the device kept the bytes but not the dates: every file is dated now
    const now = new Date();
    for (const f of files) utimesSync(join(bundle, 'data', f), now, now);

    // rclone copy: its own part size, and no md5chksum metadata on multipart uploads
    execFileSync('rclone', ['copy', join(bundle, 'data'), `ceph:${bucket}/rc/`, '--s3-chunk-size', '7M', '--s3-upload-cutoff', '5M', '--s3-disable-checksum'], {
      env: rcloneEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const objects = await listAll(client, bucket, 'rc/');
    expect(objects).toHaveLength(13);
    expect(objects.find((o) => o.key === 'rc/models/odd.pt')!.etag).toMatch(/-4$/);

    const dst = `s3://${bucket}/rc`;
    const adopted = await adoptRoundTrip(src, dst, 13);
    expect(adopted.find((x) => x.key === 'models/odd.pt')).toMatchObject({ by: 'multipart-etag', partSize: 7 * MiB });
  });
});

