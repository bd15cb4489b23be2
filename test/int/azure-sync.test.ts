/**
 * Sync with Azure Blob (Azurite) through the CLI, as a user runs it: local ⇄ Azure and
 * S3 ⇄ Azure both ways, an Azure remote defined in hybridsync.yaml, re-syncs that move
 * nothing, and a SIGKILL in the middle of a staged-block upload that the rerun resumes.
 * Checked at the far side: every blob's bytes and MD5, and `hybridsync check`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureTestClient, createTestContainer, deleteContainer } from '../helpers/azure.js';
import { createTestBucket, deleteBucket, getObjectMd5, testClient } from '../helpers/s3.js';
import { md5, randomFile, tempDir, treeHashes, writeFile } from '../helpers/fs.js';
import { events, runCli, spawnCli } from '../helpers/cli.js';
import { journaledChunks } from '../helpers/state.js';

let az: BlobServiceClient;
let s3: S3Client;
let container: string;
let bucket: string;
let src: string;
let stateDir: string;

const env = (): NodeJS.ProcessEnv => ({ HYBRIDSYNC_STATE_DIR: stateDir });

async function blobHashes(prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const c = az.getContainerClient(container);
  for await (const b of c.listBlobsFlat({ prefix })) out.set(b.name.slice(prefix.length), md5(await c.getBlobClient(b.name).downloadToBuffer()));
  return out;
}

function summaryOf(stdout: string): Record<string, number | string> {
  return events(stdout).find((e) => e.type === 'summary')!.summary as Record<string, number | string>;
}

beforeAll(async () => {
  az = azureTestClient();
  s3 = testClient();
  container = await createTestContainer(az, 'sync');
  bucket = await createTestBucket(s3, 'azs');
  stateDir = tempDir('az-sync-state');
  src = tempDir('az-sync-src');
  randomFile(src, 'models/ckpt.pt', 20 * 1024 * 1024 + 3); // staged blocks
  for (let i = 0; i < 10; i++) randomFile(src, `shards/s-${i}.bin`, 500 + i * 91);
});

afterAll(async () => {
  await deleteContainer(az, container);
  await deleteBucket(s3, bucket);
  s3.destroy();
});

describe('local ⇄ Azure', () => {
  it('local -> az:// stores every file byte-identical, verified; a re-sync moves nothing; check agrees', async () => {
    const r = await runCli(['sync', src, `az://${container}/t`, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ transferred: 11, failed: 0 });
    expect(await blobHashes('t/')).toEqual(treeHashes(src));
    const again = await runCli(['sync', src, `az://${container}/t`, '--json'], { env: env() });
    expect(summaryOf(again.stdout)).toMatchObject({ transferred: 0, skipped: 11 });
    const check = await runCli(['check', src, `az://${container}/t`], { env: env() });
    expect(check.code, check.stderr).toBe(0);
  });

  it('az:// -> local brings the same bytes back with their mtimes', async () => {
    const back = tempDir('az-sync-back');
    const r = await runCli(['sync', `az://${container}/t`, back, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(treeHashes(back)).toEqual(treeHashes(src));
    const again = await runCli(['sync', `az://${container}/t`, back, '--json'], { env: env() });
    expect(summaryOf(again.stdout)).toMatchObject({ transferred: 0 });
  });

  it('an azureblob remote from hybridsync.yaml (connection string by reference) works like az://', async () => {
    const dir = tempDir('az-sync-cfg');
    const config = join(dir, 'hybridsync.yaml');
    writeFileSync(config, 'remotes:\n  archive:\n    type: azureblob\n    connectionStringEnv: ARCHIVE_CONN\n');
    const e = { ...env(), ARCHIVE_CONN: process.env.AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_CONNECTION_STRING: '' };
    const r = await runCli(['copy', src, `archive:${container}/named`, '--config', config, '--json', '--storage-class', 'Cool'], { env: e });
    expect(r.code, r.stderr).toBe(0);
    expect(await blobHashes('named/')).toEqual(treeHashes(src));
    const props = await az.getContainerClient(container).getBlobClient('named/shards/s-1.bin').getProperties();
    expect(props.accessTier).toBe('Cool');
    const test = await runCli(['remote', 'test', `archive:${container}`, '--config', config], { env: e });
    expect(test.code, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/ok\s+credentials/);
    expect(test.stdout + test.stderr).not.toContain(process.env.AZURE_STORAGE_CONNECTION_STRING!.match(/AccountKey=([^;]+)/)![1]);
  });
});

describe('a PII-scrubbed file in Azure', () => {
  it('records its source version in blob metadata, so a check from an empty state database verifies it (issue 9.4)', async () => {
    const dir = tempDir('az-scrub');
    const config = join(dir, 'hybridsync.yaml');
    writeFileSync(
      config,
      `environments:\n  onprem: { kind: onprem, locations: ["${dir}"] }\n  cloud: { kind: cloud, locations: ["az://${container}"] }\nclassification:\n  rules:\n    - { path: "crm/**", level: confidential }\npolicy:\n  environments:\n    cloud: { maxLevel: confidential, require: { confidential: [pii-scrub] } }\n`,
    );
    const tree = join(dir, 'tree');
    const text = 'name,email\nAda,ada@example.com\n';
    randomFile(tree, 'shards/a.bin', 300);
    writeFile(tree, 'crm/people.csv', text);
    const dst = `az://${container}/scrubbed`;
    const r = await runCli(['copy', tree, dst, '--config', config, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const blob = az.getContainerClient(container).getBlobClient('scrubbed/crm/people.csv');
    expect((await blob.downloadToBuffer()).toString()).not.toContain('ada@example.com');
    expect((await blob.getProperties()).metadata).toMatchObject({ hybridsync_source_md5: md5(Buffer.from(text)), hybridsync_source_size: String(text.length) });
    const check = await runCli(['check', tree, dst, '--json'], { env: { HYBRIDSYNC_STATE_DIR: tempDir('az-auditor') } });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(summaryOf(check.stdout)).toMatchObject({ differences: 0, derived: 1 });
  });
});

describe('S3 ⇄ Azure', () => {
  it('s3:// -> az:// and az:// -> s3:// stream through (no server copy) and verify at the far side', async () => {
    const up = await runCli(['copy', src, `s3://${bucket}/from-local`], { env: env() });
    expect(up.code, up.stderr).toBe(0);
    const toAz = await runCli(['sync', `s3://${bucket}/from-local`, `az://${container}/from-s3`, '--json'], { env: env() });
    expect(toAz.code, toAz.stderr).toBe(0);
    const t = events(toAz.stdout).filter((e) => e.type === 'transfer');
    expect(t).toHaveLength(11);
    expect(t.every((e) => e.method === 'stream')).toBe(true);
    expect(await blobHashes('from-s3/')).toEqual(treeHashes(src));

    const toS3 = await runCli(['sync', `az://${container}/from-s3`, `s3://${bucket}/from-az`, '--json'], { env: env() });
    expect(toS3.code, toS3.stderr).toBe(0);
    for (const [k, h] of treeHashes(src)) expect(await getObjectMd5(s3, bucket, `from-az/${k}`)).toBe(h);
    // the MD5s travelled: a checksum re-sync finds nothing to do without reading a byte
    const again = await runCli(['sync', `az://${container}/from-s3`, `s3://${bucket}/from-az`, '--checksum', '--json'], { env: env() });
    expect(summaryOf(again.stdout)).toMatchObject({ transferred: 0, skipped: 11 });
  });
});

describe('SIGKILL during a staged-block upload to Azure', () => {
  it('the rerun resumes from the journaled blocks and ends byte-identical', async () => {
    const big = tempDir('az-sync-big');
    for (let i = 0; i < 2; i++) randomFile(big, `ckpt-${i}.pt`, 24 * 1024 * 1024 + i);
    const stateFile = join(stateDir, 'state.db');
    const chunks = (): number => journaledChunks(stateFile);

    const args = ['sync', big, `az://${container}/big`, '--part-size', '4M', '--multipart-threshold', '8M', '--no-progress'];
    const child = spawnCli([...args, '--bwlimit', '6M'], env());
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const t0 = Date.now();
    while (chunks() < 2 && Date.now() - t0 < 60_000) await sleep(50);
    child.kill('SIGKILL');
    await exited;
    expect(chunks()).toBeGreaterThanOrEqual(2);
    const rerun = await runCli([...args, '--json'], { env: env() });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(Number(summaryOf(rerun.stdout).bytesResumed)).toBeGreaterThan(0);
    expect(await blobHashes('big/')).toEqual(treeHashes(big));
    expect(chunks()).toBe(0);
  });
});
