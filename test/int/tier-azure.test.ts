/**
 * Tiering and restore before read against Azure Blob (Azurite), through the CLI and the
 * gateway as users run them. What Azurite really does (found by trying it): Set Blob Tier to
 * Archive works and a read of an archived blob is refused with 409 BlobArchived; a
 * rehydration (Set Blob Tier Hot with a priority) completes at once — Azurite never reports
 * an `archiveStatus: rehydrate-pending-*`. So a restore *request* and the rerun that copies
 * the blob are tested here for real, and the "restore pending" state between them only in
 * test/unit/tier/restore.test.ts, over a backend wrapper.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocation } from '../../src/backends/registry.js';
import { hasTierer } from '../../src/core/backend.js';
import { startGateway, type RunningGateway } from '../../src/api/gateway.js';
import { azureTestClient, createTestContainer, deleteContainer } from '../helpers/azure.js';
import { events, runCli } from '../helpers/cli.js';
import { md5, readJsonl, tempDir, writeFile } from '../helpers/fs.js';
import { GW_KEY, GW_SECRET, gatewayClient } from '../helpers/gateway.js';

const OLD = new Date('2024-01-15T10:00:00Z');
let az: BlobServiceClient;
let container: string;
let src: string;
let stateDir: string;
let config: string;

const env = (): NodeJS.ProcessEnv => ({ HYBRIDSYNC_STATE_DIR: stateDir });
const auditRecords = (): Array<Record<string, unknown>> => readJsonl(join(stateDir, 'audit', 'audit.jsonl'));
const props = (key: string) => az.getContainerClient(container).getBlobClient(key).getProperties();
const content = (key: string): string => `${key} ${'x'.repeat(200)}`;

beforeAll(async () => {
  az = azureTestClient();
  container = await createTestContainer(az, 'tier');
  stateDir = tempDir('tier-az-state');
  src = tempDir('tier-az-src');
  for (const k of ['ckpt/old.pt', 'data/old.csv']) writeFile(src, k, content(k), OLD);
  writeFile(src, 'ckpt/new.pt', content('ckpt/new.pt'));
  config = join(stateDir, 'hybridsync.yaml');
  writeFileSync(
    config,
    [
      'tier:',
      '  rules:',
      '    - name: archive-checkpoints',
      `      location: az://${container}/ckpt/`,
      '      include: "*.pt"',
      '      olderThan: 90d',
      '      storageClass: Archive',
      '    - name: cool-everything',
      `      location: az://${container}/`,
      '      olderThan: 30d',
      '      storageClass: cool',
      '',
    ].join('\n'),
  );
  const up = await runCli(['sync', src, `az://${container}`, '--no-progress'], { env: env() });
  expect(up.code, up.stderr).toBe(0);
});

afterAll(async () => {
  await deleteContainer(az, container);
});

describe('tier apply on Azure (Azurite)', () => {
  it('--dry-run prints the plan (NDJSON with --json), audits it as planned and changes no tier', async () => {
    const r = await runCli(['tier', 'apply', '--config', config, '--dry-run', '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const plan = events(r.stdout).filter((e) => e.type === 'tier-plan');
    expect(plan.map((e) => [e.key, e.from, e.to, e.rule])).toEqual([
      ['ckpt/old.pt', 'Hot', 'Archive', 'archive-checkpoints'],
      ['data/old.csv', 'Hot', 'Cool', 'cool-everything'],
    ]);
    expect(events(r.stdout).find((e) => e.type === 'tier-summary')).toMatchObject({ summary: { dryRun: true, transitioned: 2, objects: 3, status: 'ok' } });
    for (const k of ['ckpt/old.pt', 'data/old.csv', 'ckpt/new.pt']) expect((await props(k)).accessTier).toBe('Hot');
    expect(auditRecords().filter((a) => a.type === 'tier-planned').map((a) => [a.key, a.toClass])).toEqual([
      ['ckpt/old.pt', 'Archive'],
      ['data/old.csv', 'Cool'],
    ]);
  });

  it('moves old blobs to their tiers in place: same bytes, MD5, mtime metadata and ETag; every move audited; the next sync sends nothing', { timeout: 300_000 }, async () => {
    const before = await props('ckpt/old.pt');
    const r = await runCli(['tier', 'apply', '--config', config], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/moved: +2 objects.*1 to Archive.*1 to Cool/s);
    const after = await props('ckpt/old.pt');
    expect(after.accessTier).toBe('Archive');
    expect((await props('data/old.csv')).accessTier).toBe('Cool');
    expect((await props('ckpt/new.pt')).accessTier).toBe('Hot');
    expect(after.etag).toBe(before.etag);
    expect(after.metadata).toEqual(before.metadata);
    expect(Buffer.from(after.contentMD5!).toString('hex')).toBe(md5(content('ckpt/old.pt')));
    const moves = auditRecords().filter((a) => a.type === 'tier-transition');
    expect(moves.map((a) => [a.key, a.fromClass, a.toClass, a.rule])).toEqual(
      expect.arrayContaining([
        ['ckpt/old.pt', 'Hot', 'Archive', 'archive-checkpoints'],
        ['data/old.csv', 'Hot', 'Cool', 'cool-everything'],
      ]),
    );
    expect(moves[0]!.object).toMatch(new RegExp(`/${container}/(ckpt/old\\.pt|data/old\\.csv)$`));
    const verify = await runCli(['audit', 'verify'], { env: env() });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    const again = await runCli(['sync', src, `az://${container}`, '--json'], { env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(events(again.stdout).find((e) => e.type === 'summary')).toMatchObject({ summary: { transferred: 0, skipped: 3 } });
    // and nothing moves twice
    const twice = await runCli(['tier', 'apply', '--config', config, '--json', '-v'], { env: env() });
    expect(events(twice.stdout).filter((e) => e.type === 'tier')).toEqual([]);
    expect(events(twice.stdout).filter((e) => e.type === 'tier-keep').map((e) => [e.key, e.reason])).toEqual(
      expect.arrayContaining([
        ['ckpt/old.pt', 'already-colder'],
        ['ckpt/new.pt', 'too-young'],
      ]),
    );
  });

  it('copy from an archived blob: the read is refused, the rehydration requested and audited, the run ends with exit code 5 and the rest copied; the rerun copies it', { timeout: 300_000 }, async () => {
    expect((await props('ckpt/old.pt')).accessTier).toBe('Archive');
    const out = tempDir('tier-az-out');
    const first = await runCli(['copy', `az://${container}`, out, '--json'], { env: env() });
    expect(first.code, first.stderr).toBe(5);
    const ev = events(first.stdout);
    expect(ev.filter((e) => e.type === 'restore')).toEqual([expect.objectContaining({ key: 'ckpt/old.pt', status: 'requested', storageClass: 'Archive', rehydrateTo: 'Hot' })]);
    expect(ev.filter((e) => e.type === 'restore-pending')).toEqual([expect.objectContaining({ key: 'ckpt/old.pt', requested: true })]);
    expect(ev.find((e) => e.type === 'summary')).toMatchObject({ summary: { transferred: 2, failed: 0, restorePending: 1, status: 'restore-pending' } });
    expect(readFileSync(join(out, 'data/old.csv'), 'utf8')).toBe(content('data/old.csv'));
    expect(auditRecords().filter((a) => a.type === 'restore-request')).toEqual([expect.objectContaining({ key: 'ckpt/old.pt', storageClass: 'Archive', rehydrateTo: 'Hot', priority: 'standard', by: 'sync' })]);
    // Azurite rehydrates at once (real Azure takes up to 15 hours): the rerun copies the file
    expect((await props('ckpt/old.pt')).accessTier).toBe('Hot');
    const rerun = await runCli(['copy', `az://${container}`, out, '--json'], { env: env() });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(events(rerun.stdout).find((e) => e.type === 'summary')).toMatchObject({ summary: { transferred: 1, skipped: 2, status: 'ok' } });
    expect(md5(readFileSync(join(out, 'ckpt/old.pt')))).toBe(md5(content('ckpt/old.pt')));
  });

  it('--restore wait: one run requests the rehydration, waits for it and copies the blob', async () => {
    const b = openLocation(`az://${container}`);
    if (!hasTierer(b)) throw new Error('azure backend without tiering');
    await b.setStorageClass('ckpt/old.pt', 'Archive');
    const out = tempDir('tier-az-wait');
    const r = await runCli(['copy', `az://${container}`, out, '--restore', 'wait', '--restore-priority', 'high', '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout).filter((e) => e.type === 'restore').map((e) => [e.status, e.priority ?? null])).toEqual([
      ['requested', 'high'],
      ['ready', null],
    ]);
    expect(md5(readFileSync(join(out, 'ckpt/old.pt')))).toBe(md5(content('ckpt/old.pt')));
  });

  it('what Azurite reports: an archived blob is archived, a rehydration leaves it Hot at once (no pending state)', async () => {
    const b = openLocation(`az://${container}`);
    if (!hasTierer(b)) throw new Error('azure backend without tiering');
    await b.setStorageClass('data/old.csv', 'Archive');
    expect(await b.archiveState('data/old.csv')).toEqual({ state: 'archived', storageClass: 'Archive' });
    await expect(b.read('data/old.csv')).rejects.toMatchObject({ kind: 'archived' });
    expect(await b.requestRestore('data/old.csv', { days: 1, priority: 'standard', rehydrateTo: 'Cool' })).toBe('requested');
    expect(await b.archiveState('data/old.csv')).toEqual({ state: 'online', storageClass: 'Cool' });
    expect(await b.requestRestore('data/old.csv', { days: 1, priority: 'standard' })).toBe('not-archived');
  });
});

describe('a job of kind tier', () => {
  it('job run applies the named rules and records the run in the job history like any job', { timeout: 300_000 }, async () => {
    writeFile(src, 'ckpt/job.pt', content('ckpt/job.pt'), OLD);
    const up = await runCli(['copy', src, `az://${container}`, '--no-progress'], { env: env() });
    expect(up.code, up.stderr).toBe(0);
    const jobs = join(stateDir, 'jobs.yaml');
    writeFileSync(jobs, `${readFileSync(config, 'utf8')}jobs:\n  - name: weekly-tier\n    kind: tier\n    schedule: "0 3 * * 0"\n    tier: { rules: [archive-checkpoints] }\n`);
    const r = await runCli(['job', 'run', 'weekly-tier', '--config', jobs, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    // the rule's location is az://…/ckpt/: keys are relative to it
    expect(events(r.stdout).filter((e) => e.type === 'tier').map((e) => [e.location, e.key, e.to])).toContainEqual([`az://${container}/ckpt/`, 'job.pt', 'Archive']);
    expect((await props('ckpt/job.pt')).accessTier).toBe('Archive');
    const h = await runCli(['job', 'history', 'weekly-tier', '--config', jobs, '--json'], { env: env() });
    expect(events(h.stdout)[0]).toMatchObject({ type: 'job-run', status: 'ok', trigger: 'manual' });
    expect(Number(events(h.stdout)[0]!.files)).toBeGreaterThanOrEqual(1);
  });
});

describe('the gateway over an archived Azure blob (Azurite)', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    const cache = tempDir('tier-az-gw');
    gw = await startGateway({
      upstream: `az://${container}`,
      cacheDir: cache,
      maxSize: 64 * 1024 * 1024,
      port: 0,
      host: '127.0.0.1',
      bucket: container,
      // look at the upstream again on the next request: Azurite's rehydration is immediate
      restoreRecheckMs: 0,
      env: { ...process.env, HYBRIDSYNC_GATEWAY_ACCESS_KEY_ID: GW_KEY, HYBRIDSYNC_GATEWAY_SECRET_ACCESS_KEY: GW_SECRET },
      log: () => undefined,
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('a GET triggers the rehydration and answers 503 ServiceUnavailable with Retry-After; the SDK retries on its own and gets the bytes', async () => {
    const b = openLocation(`az://${container}`);
    if (!hasTierer(b)) throw new Error('azure backend without tiering');
    await b.setStorageClass('ckpt/old.pt', 'Archive');
    await b.setStorageClass('data/old.csv', 'Archive');

    // one attempt only: what a client sees
    const once = gatewayClient(gw.url, { maxAttempts: 1 });
    const err = await once.send(new GetObjectCommand({ Bucket: container, Key: 'ckpt/old.pt' })).then(
      () => undefined,
      (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode: number }; $response?: { headers: Record<string, string> } },
    );
    expect(err?.name).toBe('ServiceUnavailable');
    expect(err?.$metadata.httpStatusCode).toBe(503);
    expect(err?.$response?.headers['retry-after']).toBe('1');
    expect(err?.message).toMatch(/archived at the upstream \(Archive\); the gateway requested its restore/);
    expect((await props('ckpt/old.pt')).accessTier).toBe('Hot'); // the rehydration was really requested
    const got = await once.send(new GetObjectCommand({ Bucket: container, Key: 'ckpt/old.pt' }));
    expect(await got.Body!.transformToString()).toBe(content('ckpt/old.pt'));

    // the SDK's default retries: the first attempt is refused, the second (after Azurite's instant rehydration) succeeds
    const sdk = gatewayClient(gw.url, { maxAttempts: 3 });
    const retried = await sdk.send(new GetObjectCommand({ Bucket: container, Key: 'data/old.csv' }));
    expect(retried.$metadata.attempts).toBe(2);
    expect(await retried.Body!.transformToString()).toBe(content('data/old.csv'));

    const records = readJsonl(join(gw.core.dirs.meta, 'audit', 'audit.jsonl')).filter((a) => a.type === 'restore-request');
    expect(records.map((a) => [a.key, a.storageClass, a.by])).toEqual([
      ['ckpt/old.pt', 'Archive', 'gateway'],
      ['data/old.csv', 'Archive', 'gateway'],
    ]);
  });
});
