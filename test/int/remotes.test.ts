/**
 * Two S3 endpoints with their own credentials in one run, as named remotes: "onprem" is
 * Ceph's plain-http loopback endpoint as the first user, "cloud" the same Ceph's TLS 1.3
 * endpoint (https://localhost:7443, a test CA) as a second user who cannot read the
 * first user's buckets — so nothing but streaming through the client can move the bytes.
 * Checked as a user would: bytes and MD5s at the far side, rclone check, the audit trail,
 * and a SIGKILL in the middle of a large streamed upload.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { cloudRemoteEnv, createTestBucket, deleteBucket, getObjectMd5, listAll, openUploads, s3Env, s3Env2, testClient, testClient2 } from '../helpers/s3.js';
import { randomFile, tempDir, treeHashes } from '../helpers/fs.js';
import { events, runCli, spawnCli } from '../helpers/cli.js';
import { journaledChunks } from '../helpers/state.js';

let onprem: S3Client;
let cloud: S3Client;
let onBucket: string;
let cloudBucket: string;
let dir: string;
let config: string;
let src: string;

/** The variables the remotes' credential references name (the config holds only the names). */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const a = s3Env();
  return {
    HYBRIDSYNC_STATE_DIR: join(dir, 'state'),
    ONPREM_KEY_ID: a.accessKeyId,
    ONPREM_SECRET: a.secretAccessKey,
    // the cloud remote is defined in the environment alone, rclone-style
    ...cloudRemoteEnv(),
    // the default chain would give the first user's keys to anything that fell back to it
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    ...extra,
  };
}

async function cloudHashes(prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const o of await listAll(cloud, cloudBucket, prefix)) out.set(o.key.slice(prefix.length), await getObjectMd5(cloud, cloudBucket, o.key));
  return out;
}

function rcloneEnv(): NodeJS.ProcessEnv {
  const a = s3Env();
  const b = s3Env2();
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    RCLONE_CONFIG_ONP_TYPE: 's3',
    RCLONE_CONFIG_ONP_PROVIDER: 'Ceph',
    RCLONE_CONFIG_ONP_ENDPOINT: a.endpoint,
    RCLONE_CONFIG_ONP_ACCESS_KEY_ID: a.accessKeyId,
    RCLONE_CONFIG_ONP_SECRET_ACCESS_KEY: a.secretAccessKey,
    RCLONE_CONFIG_ONP_FORCE_PATH_STYLE: 'true',
    RCLONE_CONFIG_CLD_TYPE: 's3',
    RCLONE_CONFIG_CLD_PROVIDER: 'Ceph',
    RCLONE_CONFIG_CLD_ENDPOINT: b.endpoint,
    RCLONE_CONFIG_CLD_ACCESS_KEY_ID: b.accessKeyId,
    RCLONE_CONFIG_CLD_SECRET_ACCESS_KEY: b.secretAccessKey,
    RCLONE_CONFIG_CLD_FORCE_PATH_STYLE: 'true',
  };
  delete e.AWS_CA_BUNDLE;
  return e;
}

beforeAll(async () => {
  onprem = testClient();
  cloud = testClient2();
  onBucket = await createTestBucket(onprem, 'onp');
  cloudBucket = await createTestBucket(cloud, 'cld');
  dir = tempDir('remotes');
  config = join(dir, 'hybridsync.yaml');
  writeFileSync(
    config,
    `remotes:
  onprem:
    type: s3
    endpoint: ${s3Env().endpoint}
    accessKeyIdEnv: ONPREM_KEY_ID
    secretAccessKeyEnv: ONPREM_SECRET
environments:
  dc1: { kind: onprem, remotes: [onprem] }
  aws: { kind: cloud, remotes: [cloud] }
`,
  );
  // the source tree lives on the on-prem endpoint
  src = tempDir('remotes-src');
  randomFile(src, 'models/ckpt.pt', 21 * 1024 * 1024 + 5); // multipart on both sides
  for (let i = 0; i < 12; i++) randomFile(src, `shards/part-${i}.bin`, 1000 + i * 77);
  const seed = await runCli(['copy', src, `onprem:${onBucket}/data`, '--config', config], { env: env() });
  expect(seed.code, seed.stderr).toBe(0);
});

afterAll(async () => {
  await deleteBucket(onprem, onBucket);
  await deleteBucket(cloud, cloudBucket);
  onprem.destroy();
  cloud.destroy();
});

describe('sync between two S3 endpoints with different credentials', () => {
  it('streams every object from onprem: to cloud: (never a server-side copy) and the bytes at the far side match', async () => {
    const r = await runCli(['sync', `onprem:${onBucket}/data`, `cloud:${cloudBucket}/data`, '--config', config, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    const transfers = ev.filter((e) => e.type === 'transfer');
    expect(transfers).toHaveLength(13);
    expect(transfers.every((e) => e.method === 'stream')).toBe(true);
    expect(transfers.some((e) => e.method === 'server-copy')).toBe(false);
    expect(await cloudHashes('data/')).toEqual(treeHashes(src));
    // the second user really cannot read the first user's bucket: only the stream could do it
    await expect(cloud.send(new (await import('@aws-sdk/client-s3')).HeadBucketCommand({ Bucket: onBucket }))).rejects.toThrow();
  });

  it('rclone check agrees between the two endpoints', () => {
    const out = execFileSync('rclone', ['check', '--ca-cert', s3Env2().caBundle, `onp:${onBucket}/data`, `cld:${cloudBucket}/data`], {
      env: rcloneEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    void out; // rclone exits non-zero (execFileSync throws) on any difference
  });

  it('audits full canonical URIs with each endpoint, each side in its environment, TLS 1.3 on the https side', async () => {
    const log = readFileSync(join(dir, 'state', 'audit', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const t = log.find((x) => x.type === 'transfer' && x.key === 'models/ckpt.pt' && String(x.dst).startsWith('https://'))!;
    expect(t).toMatchObject({
      src: `${s3Env().endpoint}/${onBucket}/data/models/ckpt.pt`,
      dst: `${s3Env2().endpoint}/${cloudBucket}/data/models/ckpt.pt`,
      srcEnv: 'dc1',
      dstEnv: 'aws',
    });
    expect(log.find((x) => x.type === 'tls' && x.endpoint === new URL(s3Env2().endpoint).origin)).toMatchObject({ protocol: 'TLSv1.3' });
    expect(log.find((x) => x.type === 'tls' && x.endpoint === new URL(s3Env().endpoint).origin)).toMatchObject({ protocol: 'none', loopback: true });
    // no secret of either remote anywhere in the trail
    const text = JSON.stringify(log);
    expect(text).not.toContain(s3Env().secretAccessKey);
    expect(text).not.toContain(s3Env2().secretAccessKey);
  });

  it('syncs back from cloud: to onprem:, and a re-sync moves nothing', async () => {
    const back = await runCli(['sync', `cloud:${cloudBucket}/data`, `onprem:${onBucket}/back`, '--config', config, '--json'], { env: env() });
    expect(back.code, back.stderr).toBe(0);
    expect(events(back.stdout).filter((e) => e.type === 'transfer' && e.method === 'stream')).toHaveLength(13);
    for (const [k, h] of treeHashes(src)) expect(await getObjectMd5(onprem, onBucket, `back/${k}`)).toBe(h);
    const again = await runCli(['sync', `cloud:${cloudBucket}/data`, `onprem:${onBucket}/back`, '--config', config, '--json'], { env: env() });
    expect(events(again.stdout).find((e) => e.type === 'summary')!.summary).toMatchObject({ transferred: 0, skipped: 13 });
  });

  it('copies server-side only when both sides are the same endpoint and the same credentials', async () => {
    const r = await runCli(['copy', `onprem:${onBucket}/data`, `onprem:${onBucket}/copy`, '--config', config, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const transfers = events(r.stdout).filter((e) => e.type === 'transfer');
    expect(transfers).toHaveLength(13);
    expect(transfers.every((e) => e.method === 'server-copy')).toBe(true);
    // s3:// to the same endpoint with the same keys is the same account as onprem:
    const viaUrl = await runCli(['copy', `s3://${onBucket}/data`, `onprem:${onBucket}/copy2`, '--config', config, '--json'], {
      env: env({ AWS_ACCESS_KEY_ID: s3Env().accessKeyId, AWS_SECRET_ACCESS_KEY: s3Env().secretAccessKey, AWS_ENDPOINT_URL: s3Env().endpoint }),
    });
    expect(viaUrl.code, viaUrl.stderr).toBe(0);
    expect(events(viaUrl.stdout).filter((e) => e.type === 'transfer').every((e) => e.method === 'server-copy')).toBe(true);
  });

  it('remote test reports each step for both endpoints and names a wrong secret without printing it', async () => {
    const ok = await runCli(['remote', 'test', `cloud:${cloudBucket}`, '--config', config], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok\s+reachable/);
    expect(ok.stdout).toMatch(/ok\s+tls\s+TLSv1\.3/);
    expect(ok.stdout).toMatch(/ok\s+credentials/);
    expect(ok.stdout).toMatch(/ok\s+bucket/);
    const bad = await runCli(['remote', 'test', `onprem:${onBucket}`, '--config', config], { env: env({ ONPREM_SECRET: 'wrong-secret-0000000000000000000000000000' }) });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL credentials.*rejected the credentials/);
    expect(bad.stdout + bad.stderr).not.toContain('wrong-secret-0000000000000000000000000000');
    const gone = await runCli(['remote', 'test', 'onprem'], { env: env({ HYBRIDSYNC_REMOTE_ONPREM_TYPE: 's3', HYBRIDSYNC_REMOTE_ONPREM_ENDPOINT: 'http://127.0.0.1:1' }) });
    expect(gone.code).toBe(1);
    expect(gone.stdout).toMatch(/FAIL reachable\s+cannot reach 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    const list = await runCli(['remote', 'list', '--config', config], { env: env() });
    expect(list.stdout).toMatch(/cloud\s+s3\s+https:\/\/localhost:7443/);
    expect(list.stdout + list.stderr).not.toContain(s3Env2().secretAccessKey);
  });
});

describe('SIGKILL in the middle of a streamed cross-endpoint upload', () => {
  it('resumes from the journaled parts and ends byte-identical, with no upload left open on either side', async () => {
    const big = tempDir('remotes-big');
    for (let i = 0; i < 2; i++) randomFile(big, `ckpt-${i}.pt`, 30 * 1024 * 1024 + i);
    const seeded = await runCli(['copy', big, `onprem:${onBucket}/big`, '--config', config], { env: env() });
    expect(seeded.code, seeded.stderr).toBe(0);
    const stateFile = join(dir, 'state', 'state.db');
    const chunks = (): number => journaledChunks(stateFile);

    const args = ['sync', `onprem:${onBucket}/big`, `cloud:${cloudBucket}/big`, '--config', config, '--bwlimit', '8M', '--part-size', '5M', '--no-progress'];
    const child = spawnCli(args, env());
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const t0 = Date.now();
    while (chunks() < 2 && Date.now() - t0 < 60_000) await sleep(50);
    child.kill('SIGKILL');
    await exited;
    expect(chunks()).toBeGreaterThanOrEqual(2);

    const rerun = await runCli([...args.filter((a) => a !== '--bwlimit' && a !== '8M'), '--json'], { env: env() });
    expect(rerun.code, rerun.stderr).toBe(0);
    const summary = events(rerun.stdout).find((e) => e.type === 'summary')!.summary as Record<string, number>;
    expect(summary.bytesResumed).toBeGreaterThan(0);
    expect(await cloudHashes('big/')).toEqual(treeHashes(big));
    expect(await openUploads(cloud, cloudBucket)).toEqual([]);
    expect(await openUploads(onprem, onBucket)).toEqual([]);
    expect(chunks()).toBe(0);
  });
});
