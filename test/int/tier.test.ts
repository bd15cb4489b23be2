/**
 * Tiering against Ceph RGW, checked with aws-cli as a user would. What the test RGW really
 * does (Ceph 16.2, found by trying it; scripts/services/start-rgw.sh adds the classes
 * STANDARD_IA and GLACIER as placement targets): an in-place CopyObject with a new
 * StorageClass and MetadataDirective COPY moves the object and keeps its metadata and its
 * ETag (a multipart ETag too); its GLACIER is a name only — GETs work, HEAD reports no
 * x-amz-restore — and RestoreObject answers 501 NotImplemented for every object. So the
 * transitions, audit records and the next sync are tested here for real; the restore
 * *request* is tested for what Ceph answers, and the decision never to request one for a
 * readable object by reading GLACIER objects; restores that complete are tested against
 * Azurite (tier-azure.test.ts), the pending state over a wrapper (test/unit/tier/).
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { formatBytes } from '../../src/lib/units.js';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CopyObjectCommand, GetObjectCommand, GetObjectTaggingCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocation } from '../../src/backends/registry.js';
import { S3Backend } from '../../src/backends/s3/index.js';
import { hasTierer, type Backend } from '../../src/core/backend.js';
import { startGateway } from '../../src/api/gateway.js';
import { runSync } from '../../src/sync/execute.js';
import type { SyncEvent } from '../../src/sync/events.js';
import { StateDb } from '../../src/sync/state.js';
import { runTier } from '../../src/tier/apply.js';
import { createFilter } from '../../src/sync/filter.js';
import { LocalBackend } from '../../src/backends/local/index.js';
import { createTestBucket, deleteBucket, testClient } from '../helpers/s3.js';
import { events, runCli } from '../helpers/cli.js';
import { md5, randomFile, readJsonl, tempDir, writeFile } from '../helpers/fs.js';
import { GW_KEY, GW_SECRET, gatewayClient } from '../helpers/gateway.js';

const aws = promisify(execFile);
const MiB = 1024 * 1024;
const OLD = new Date('2024-03-01T08:00:00Z');

let ceph: S3Client;
let bucket: string;
let src: string;
let stateDir: string;
let config: string;

const env = (): NodeJS.ProcessEnv => ({ HYBRIDSYNC_STATE_DIR: stateDir });
const auditRecords = (): Array<Record<string, unknown>> => readJsonl(join(stateDir, 'audit', 'audit.jsonl'));

/** aws-cli v2 (2.9: it takes the endpoint as a flag, not from AWS_ENDPOINT_URL). */
const awsCli = (args: string[]) => aws('/usr/bin/aws', ['--endpoint-url', process.env.AWS_ENDPOINT_URL!, ...args], { env: { ...process.env, AWS_PAGER: '' } });
async function awsJson(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await awsCli(['s3api', ...args, '--output', 'json']);
  return JSON.parse(stdout) as Record<string, unknown>;
}
const head = (key: string) => awsJson(['head-object', '--bucket', bucket, '--key', key]);

beforeAll(async () => {
  ceph = testClient();
  bucket = await createTestBucket(ceph, 'tier');
  stateDir = tempDir('tier-state');
  src = tempDir('tier-src');
  writeFile(src, 'ckpt/old.pt', 'an old checkpoint\n'.repeat(500), OLD);
  writeFile(src, 'ckpt/new.pt', 'a new checkpoint\n'.repeat(500));
  writeFile(src, 'data/old.csv', 'a,b\n1,2\n'.repeat(300), OLD);
  randomFile(src, 'ckpt/big.pt', 11 * MiB + 17); // a multipart upload: ETag "…-3"
  writeFile(src, 'ckpt/big.pt', readFileSync(join(src, 'ckpt/big.pt')), OLD);
  config = join(stateDir, 'hybridsync.yaml');
  writeFileSync(
    config,
    [
      'tier:',
      '  rules:',
      '    - name: glacier-checkpoints',
      `      location: s3://${bucket}/ml/ckpt/`,
      '      olderThan: 90d',
      '      storageClass: GLACIER',
      '    - name: ia-after-a-month',
      `      location: s3://${bucket}/ml/`,
      '      olderThan: 30d',
      '      storageClass: STANDARD_IA',
      '',
    ].join('\n'),
  );
  const up = await runCli(['sync', src, `s3://${bucket}/ml`, '--no-progress', '--multipart-threshold', '5M', '--part-size', '5M'], { env: env() });
  expect(up.code, up.stderr).toBe(0);
});

afterAll(async () => {
  await deleteBucket(ceph, bucket);
  ceph.destroy();
});

describe('tier apply on Ceph RGW', () => {
  it('--dry-run plans the moves (the upload was just now: the content mtime decides, not Last-Modified) and changes nothing', async () => {
    const r = await runCli(['tier', 'apply', '--config', config, '--dry-run'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const size = (rel: string): string => formatBytes(statSync(join(src, rel)).size);
    expect(r.stdout.trim().split('\n').sort()).toEqual([
      `would move s3://${bucket}/ml/ckpt/big.pt (${size('ckpt/big.pt')}) STANDARD -> GLACIER  [rule glacier-checkpoints]`,
      `would move s3://${bucket}/ml/ckpt/old.pt (${size('ckpt/old.pt')}) STANDARD -> GLACIER  [rule glacier-checkpoints]`,
      `would move s3://${bucket}/ml/data/old.csv (${size('data/old.csv')}) STANDARD -> STANDARD_IA  [rule ia-after-a-month]`,
    ]);
    expect(r.stderr).toMatch(/would move: +3 objects/);
    expect((await head('ml/ckpt/old.pt')).StorageClass).toBeUndefined(); // STANDARD: HEAD names no class
  });

  it('moves objects in place: aws-cli sees the new class, the same metadata, ETag and bytes; each move is audited', { timeout: 300_000 }, async () => {
    const before = await head('ml/ckpt/big.pt');
    const r = await runCli(['tier', 'apply', '--config', config, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const moved = events(r.stdout).filter((e) => e.type === 'tier');
    expect(moved.map((e) => [e.key, e.from, e.to, e.rule]).sort()).toEqual([
      ['ckpt/big.pt', 'STANDARD', 'GLACIER', 'glacier-checkpoints'],
      ['ckpt/old.pt', 'STANDARD', 'GLACIER', 'glacier-checkpoints'],
      ['data/old.csv', 'STANDARD', 'STANDARD_IA', 'ia-after-a-month'],
    ]);
    const after = await head('ml/ckpt/big.pt');
    expect(after.StorageClass).toBe('GLACIER');
    expect(after.Metadata).toEqual(before.Metadata); // mtime and md5chksum
    expect(after.ETag).toBe(before.ETag); // Ceph keeps a multipart ETag on an in-place copy
    expect((await head('ml/data/old.csv')).StorageClass).toBe('STANDARD_IA');
    expect((await head('ml/ckpt/new.pt')).StorageClass).toBeUndefined();
    const listed = (await awsJson(['list-objects-v2', '--bucket', bucket, '--prefix', 'ml/'])).Contents as Array<{ Key: string; StorageClass: string }>;
    expect(Object.fromEntries(listed.map((o) => [o.Key, o.StorageClass]))).toEqual({
      'ml/ckpt/big.pt': 'GLACIER',
      'ml/ckpt/new.pt': 'STANDARD',
      'ml/ckpt/old.pt': 'GLACIER',
      'ml/data/old.csv': 'STANDARD_IA',
    });
    const out = tempDir('tier-get');
    await awsCli(['s3', 'cp', `s3://${bucket}/ml/ckpt/big.pt`, join(out, 'big.pt'), '--force-glacier-transfer', '--no-progress']);
    expect(md5(readFileSync(join(out, 'big.pt')))).toBe(md5(readFileSync(join(src, 'ckpt/big.pt'))));

    const records = auditRecords().filter((a) => a.type === 'tier-transition');
    expect(records.map((a) => [a.key, a.fromClass, a.toClass, a.rule]).sort()).toEqual([
      ['ckpt/big.pt', 'STANDARD', 'GLACIER', 'glacier-checkpoints'],
      ['ckpt/old.pt', 'STANDARD', 'GLACIER', 'glacier-checkpoints'],
      ['data/old.csv', 'STANDARD', 'STANDARD_IA', 'ia-after-a-month'],
    ]);
    expect(auditRecords().find((a) => a.type === 'tier-end')).toMatchObject({ status: 'ok', transitioned: 3 });
    expect((await runCli(['audit', 'verify'], { env: env() })).code).toBe(0);
  });

  it('after the moves, a sync of the unchanged source sends nothing, with its state database and with an empty one', async () => {
    expect((await head('ml/ckpt/old.pt')).StorageClass).toBe('GLACIER');
    for (const state of [[], ['--state', join(tempDir('tier-fresh'), 'state.db')]]) {
      const again = await runCli(['sync', src, `s3://${bucket}/ml`, '--json', ...state], { env: env() });
      expect(again.code, again.stderr).toBe(0);
      expect(events(again.stdout).find((e) => e.type === 'summary')).toMatchObject({ summary: { transferred: 0, skipped: 4 } });
    }
  });

  it('a copy from GLACIER objects on Ceph reads them as they are: no restore is requested (only a refused read asks for one)', async () => {
    const out = tempDir('tier-copy-out');
    const r = await runCli(['copy', `s3://${bucket}/ml`, out, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    expect(ev.filter((e) => e.type === 'restore' || e.type === 'restore-pending')).toEqual([]);
    expect(ev.find((e) => e.type === 'summary')).toMatchObject({ summary: { transferred: 4, status: 'ok' } });
    expect(md5(readFileSync(join(out, 'ckpt/old.pt')))).toBe(md5(readFileSync(join(src, 'ckpt/old.pt'))));
  });

  it('RestoreObject on Ceph: aws-cli and hybridsync both get 501 NotImplemented; hybridsync says so as an unsupported (not retried) error', async () => {
    const cli = await awsCli(['s3api', 'restore-object', '--bucket', bucket, '--key', 'ml/ckpt/old.pt', '--restore-request', '{"Days":1,"GlacierJobParameters":{"Tier":"Standard"}}', '--debug']).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    expect(cli).toMatch(/"POST \/[^ ]*\?restore HTTP\/1\.1" 501/);
    const b = openLocation(`s3://${bucket}/ml`);
    if (!hasTierer(b)) throw new Error('S3 backend without tiering');
    // by its class alone the object is archived: HEAD has no x-amz-restore on Ceph
    expect(await b.archiveState('ckpt/old.pt')).toEqual({ state: 'archived', storageClass: 'GLACIER' });
    expect(await b.archiveState('ckpt/new.pt')).toEqual({ state: 'online', storageClass: 'STANDARD' });
    await expect(b.requestRestore('ckpt/old.pt', { days: 1, priority: 'standard' })).rejects.toMatchObject({ kind: 'unsupported', retryable: false, message: expect.stringMatching(/does not implement/) });
    await b.close?.();
  });

  it('Ceph RGW ignores x-amz-copy-source-if-match on CopyObject, so a move looks at the object first: a changed object is refused, not moved', async () => {
    const b = openLocation(`s3://${bucket}/guard`);
    if (!hasTierer(b)) throw new Error('S3 backend without tiering');
    await b.write('f.txt', Readable.from([Buffer.from('version-1')]), { size: 9, mtimeMs: OLD.getTime() });
    const listed = await b.stat('f.txt');
    // the server's side of it: a copy conditioned on an ETag the object does not have succeeds
    await ceph.send(new CopyObjectCommand({ Bucket: bucket, Key: 'guard/f.txt', CopySource: `${bucket}/guard/f.txt`, CopySourceIfMatch: '"00000000000000000000000000000000"', MetadataDirective: 'COPY', StorageClass: 'STANDARD_IA' }));
    expect((await head('guard/f.txt')).StorageClass).toBe('STANDARD_IA');
    await b.write('f.txt', Readable.from([Buffer.from('version-two')]), { size: 11, mtimeMs: Date.now() });
    await expect(b.setStorageClass('f.txt', 'GLACIER', { ifMatch: listed! })).rejects.toMatchObject({ kind: 'source-changed' });
    expect((await head('guard/f.txt')).StorageClass).toBeUndefined();
    await b.close?.();
  });

  it('an object over the single-copy limit moves by a multipart copy of itself: bytes, metadata and tags kept, the new ETag followed in the state database so the next sync needs no HEAD', async () => {
    const local = tempDir('tier-mp-src');
    randomFile(local, 'huge.bin', 13 * MiB + 5);
    writeFile(local, 'huge.bin', readFileSync(join(local, 'huge.bin')), OLD);
    const state = new StateDb(join(tempDir('tier-mp-state'), 'state.db'));
    // 6 MiB parts on upload, 5 MiB parts on the copy: the ETag must change
    const dst = (limit?: number) => {
      const s = openLocation(`s3://${bucket}/mp`) as S3Backend;
      return new S3Backend(s.location, { endpoint: process.env.AWS_ENDPOINT_URL!, region: 'us-east-1', forcePathStyle: true }, { retries: 3, ...(limit ? { singleCopyLimit: limit } : {}) });
    };
    const up = await runSync({ mode: 'copy', src: new LocalBackend(local, local), dst: dst(), state, chunking: { threshold: 5 * MiB, chunkSize: 6 * MiB, concurrency: 2 } });
    expect(up).toMatchObject({ transferred: 1, status: 'ok' });
    // (Ceph 16 ignores x-amz-tagging on CreateMultipartUpload: the tag is set afterwards)
    await ceph.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'mp/huge.bin', Tagging: { TagSet: [{ Key: 'classification', Value: 'internal' }] } }));
    const before = await head('mp/huge.bin');

    const tiered: Backend = dst(5 * MiB);
    const summary = await runTier({
      groups: [{ backend: tiered, rules: [{ name: 'big', prefix: '', filter: createFilter({}), olderThanMs: 86_400_000, storageClass: 'GLACIER' }] }],
      state,
      dryRun: false,
      concurrency: 2,
      retries: 3,
    });
    expect(summary).toMatchObject({ transitioned: 1, failed: 0, status: 'ok' });
    const after = await head('mp/huge.bin');
    expect(after.StorageClass).toBe('GLACIER');
    expect(after.Metadata).toEqual(before.Metadata);
    expect(after.ETag).not.toBe(before.ETag);
    expect(after.ETag).toMatch(/-3"$/);
    const tags = await ceph.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'mp/huge.bin' }));
    expect(tags.TagSet).toEqual([{ Key: 'classification', Value: 'internal' }]);
    const got = await ceph.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp/huge.bin' }));
    expect(md5(Buffer.from(await got.Body!.transformToByteArray()))).toBe(md5(readFileSync(join(local, 'huge.bin'))));

    // the state database followed the ETag: the next sync compares without asking the object
    const counted = dst();
    let heads = 0;
    const stat = counted.stat.bind(counted);
    counted.stat = (...a: Parameters<typeof stat>) => (heads++, stat(...a));
    const events: SyncEvent[] = [];
    const again = await runSync({ mode: 'copy', src: new LocalBackend(local, local), dst: counted, state, onEvent: (e) => void events.push(e) });
    expect(again).toMatchObject({ transferred: 0, skipped: 1 });
    expect(heads).toBe(0);
    state.close();
  });
});

describe('the gateway over a GLACIER object on Ceph', () => {
  it('serves it: the read works, so no restore is requested and the client gets the bytes', async () => {
    const gw = await startGateway({
      upstream: `s3://${bucket}/ml`,
      cacheDir: tempDir('tier-gw'),
      maxSize: 64 * MiB,
      port: 0,
      host: '127.0.0.1',
      bucket,
      env: { ...process.env, HYBRIDSYNC_GATEWAY_ACCESS_KEY_ID: GW_KEY, HYBRIDSYNC_GATEWAY_SECRET_ACCESS_KEY: GW_SECRET },
      log: () => undefined,
    });
    try {
      const r = await gatewayClient(gw.url).send(new GetObjectCommand({ Bucket: bucket, Key: 'ckpt/old.pt' }));
      expect(r.StorageClass).toBe('GLACIER');
      expect(await r.Body!.transformToString()).toBe('an old checkpoint\n'.repeat(500));
    } finally {
      await gw.close();
    }
  });
});
