/**
 * Dataset snapshots, model versions and lineage against Ceph RGW, through the CLI as a user
 * runs it: a snapshot of an S3 prefix (including a multipart object another tool wrote,
 * whose ETag is no MD5), a model pushed naming it, lineage answered both ways — also from
 * the locations alone with a fresh state directory and the exported public key — a
 * promotion to a second endpoint (TLS 1.3, other credentials) hash-checked there and
 * audited, an immutable version, tampering caught precisely, and bad input refused.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, type JsonValue } from '../../src/lib/canonical-json.js';
import { events, runCli } from '../helpers/cli.js';
import { md5, randomFile, readJsonl, tempDir, treeHashes, writeFile } from '../helpers/fs.js';
import { createTestBucket, deleteBucket, getObjectMd5, listAll, s3Env2, testClient, testClient2 } from '../helpers/s3.js';

let client: S3Client;
let cloud: S3Client;
let bucket: string;
let cloudBucket: string;
let stateDir: string;
let publicKey: string;
let local: string;
let repo: string;
let head: string;
let snapId: string;
const rawBig = Buffer.alloc(6 * 1024 * 1024 + 3, 0x5a);

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const b = s3Env2();
  return {
    HYBRIDSYNC_STATE_DIR: stateDir,
    HYBRIDSYNC_REMOTE_CLOUD_TYPE: 's3',
    HYBRIDSYNC_REMOTE_CLOUD_ENDPOINT: b.endpoint,
    HYBRIDSYNC_REMOTE_CLOUD_CA_BUNDLE: b.caBundle,
    HYBRIDSYNC_REMOTE_CLOUD_ACCESS_KEY_ID: b.accessKeyId,
    HYBRIDSYNC_REMOTE_CLOUD_SECRET_ACCESS_KEY: b.secretAccessKey,
    ...extra,
  };
}

const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: env(extra), cwd: tempDir('lineage-cwd') });

async function getText(c: S3Client, b: string, key: string): Promise<string> {
  const r = await c.send(new GetObjectCommand({ Bucket: b, Key: key }));
  return (await r.Body!.transformToString()) as string;
}

/** Real MD5 of every object under `prefix` (relative keys), read back; `.hybridsync/` left out. */
async function objectHashes(c: S3Client, b: string, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const o of await listAll(c, b, prefix)) if (!o.key.includes('.hybridsync/')) out.set(o.key.slice(prefix.length), await getObjectMd5(c, b, o.key));
  return out;
}

beforeAll(async () => {
  client = testClient();
  cloud = testClient2();
  bucket = await createTestBucket(client, 'lin');
  cloudBucket = await createTestBucket(cloud, 'lin-prod');
  stateDir = tempDir('lineage-state');
  local = tempDir('lineage-data');
  for (let i = 0; i < 4; i++) randomFile(local, `train/shard-${i}.bin`, 3000 + i * 101);
  writeFile(local, 'labels.csv', 'id,label\n1,cat\n2,dog\n');
  const seeded = await cli(['copy', local, `s3://${bucket}/data`]);
  expect(seeded.code, seeded.stderr).toBe(0);
  // written by another tool: a multipart object without md5chksum metadata (ETag "…-2")
  const up = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'data/raw/big.bin' }));
  const parts = [];
  for (const [i, body] of [rawBig.subarray(0, 5 * 1024 * 1024), rawBig.subarray(5 * 1024 * 1024)].entries()) {
    const p = await client.send(new UploadPartCommand({ Bucket: bucket, Key: 'data/raw/big.bin', UploadId: up.UploadId, PartNumber: i + 1, Body: body }));
    parts.push({ ETag: p.ETag, PartNumber: i + 1 });
  }
  await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'data/raw/big.bin', UploadId: up.UploadId, MultipartUpload: { Parts: parts } }));

  // the training code's checkout; the model is written inside it
  repo = tempDir('lineage-repo');
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } }).trim();
  writeFile(repo, 'train.py', 'print("train")\n');
  git('init', '-q');
  git('add', 'train.py');
  git('commit', '-qm', 'train');
  head = git('rev-parse', 'HEAD');
  randomFile(repo, 'out/resnet/weights.bin', 17 * 1024 * 1024 + 11); // multipart on the way up
  writeFile(repo, 'out/resnet/config.json', '{"layers":50}\n');

  publicKey = join(stateDir, 'trusted.pub.pem');
  expect((await cli(['audit', 'public-key', '--out', publicKey])).code).toBe(0);
});

afterAll(async () => {
  await deleteBucket(client, bucket);
  await deleteBucket(cloud, cloudBucket);
  client.destroy();
  cloud.destroy();
});

describe('lineage on Ceph RGW', () => {
  it('snapshot create: a manifest object at data/.hybridsync/manifests/, signed with the audit key, every MD5 the real one (multipart included)', async () => {
    const r = await cli(['snapshot', 'create', `s3://${bucket}/data`, '--name', 'imagenet', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = events(r.stdout)[0]!;
    snapId = s.id as string;
    expect(snapId).toMatch(/^ds-imagenet-[0-9a-f]{16}$/);
    expect(s).toMatchObject({ type: 'snapshot', name: 'imagenet', files: 6 });
    const manifests = await listAll(client, bucket, 'data/.hybridsync/manifests/');
    expect(manifests.map((o) => o.key)).toEqual([`data/.hybridsync/manifests/${snapId}.json`]);

    // checked the way an auditor would, with the exported key and nothing of hybridsync's but the canonical form
    const doc = JSON.parse(await getText(client, bucket, manifests[0]!.key)) as Record<string, unknown> & {
      signature: { keyId: string; sig: string };
      files: Array<{ path: string; size: number; md5: string; etag?: string }>;
    };
    const { signature, ...body } = doc;
    const bytes = Buffer.from(canonicalJson(body as JsonValue));
    expect(verify(null, bytes, createPublicKey(readFileSync(publicKey)), Buffer.from(signature.sig, 'base64'))).toBe(true);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(s.sha256);
    expect(new Map(doc.files.map((f) => [f.path, f.md5]))).toEqual(await objectHashes(client, bucket, 'data/'));
    const big = doc.files.find((f) => f.path === 'raw/big.bin')!;
    expect(big).toMatchObject({ size: rawBig.length, md5: md5(rawBig) });
    expect(big.etag).toMatch(/-2$/);
  });

  it('sync and check leave .hybridsync/ alone: not deleted at the destination, not a difference', async () => {
    const r = await cli(['sync', local, `s3://${bucket}/data`, '--json', '--max-delete', '100%']);
    expect(r.code, r.stderr).toBe(0);
    const deleted = events(r.stdout).filter((e) => e.type === 'delete').map((e) => e.key);
    expect(deleted).toEqual(['raw/big.bin']); // the other tool's object is not in the local tree
    expect((await listAll(client, bucket, 'data/.hybridsync/')).map((o) => o.key)).toEqual([`data/.hybridsync/manifests/${snapId}.json`]);
    const c = await cli(['check', local, `s3://${bucket}/data`]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    // put the snapshotted object back for the checks below
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/raw/big.bin', Body: rawBig }));
  });

  it('model push names the snapshot, the run and the checkout commit; its bytes land verified', async () => {
    const r = await cli(['model', 'push', join(repo, 'out/resnet'), `s3://${bucket}/models`, '--run', 'run-7', '--dataset', 'imagenet', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout)[0]).toMatchObject({ type: 'model', versionId: 'resnet@1', run: 'run-7', commit: head, dataset: { id: snapId }, files: 2, alreadyPushed: false });
    expect(await objectHashes(client, bucket, 'models/resnet/v1/')).toEqual(treeHashes(join(repo, 'out/resnet')));
    expect((await listAll(client, bucket, 'models/.hybridsync/manifests/')).map((o) => o.key)).toEqual(['models/.hybridsync/manifests/model-resnet-v1.json']);
  });

  it('lineage answers which snapshot, which files, which run and commit; --dataset answers the reverse', async () => {
    const r = await cli(['lineage', 'resnet@1', '--files', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = events(r.stdout);
    expect(out[0]).toMatchObject({ type: 'lineage', version: 'resnet@1', run: 'run-7', commit: head, dataset: { id: snapId, name: 'imagenet', files: 6 } });
    const dsFiles = out.filter((e) => e.type === 'file' && e.of === 'dataset');
    expect(new Map(dsFiles.map((f) => [f.path, f.md5]))).toEqual(await objectHashes(client, bucket, 'data/'));
    expect(out.filter((e) => e.type === 'file' && e.of === 'model').map((f) => f.path)).toEqual(['config.json', 'weights.bin']);

    const rev = await cli(['lineage', '--dataset', 'imagenet', '--json']);
    expect(rev.code, rev.stderr).toBe(0);
    expect(events(rev.stdout).filter((e) => e.type === 'model').map((e) => e.versionId)).toEqual(['resnet@1']);
  });

  it('from the locations alone: a fresh state directory and the exported public key recover the lineage', async () => {
    const fresh = { HYBRIDSYNC_STATE_DIR: tempDir('lineage-fresh') };
    const list = await cli(['model', 'list', `s3://${bucket}/models`, '--public-key', publicKey, '--json'], fresh);
    expect(list.code, list.stderr).toBe(0);
    expect(events(list.stdout).map((e) => [e.versionId, e.valid])).toEqual([['resnet@1', true]]);
    const l = await cli(['lineage', 'resnet@1', '--public-key', publicKey, '--json'], fresh);
    expect(l.code, l.stderr).toBe(0);
    expect(events(l.stdout)[0]).toMatchObject({ run: 'run-7', commit: head, dataset: { id: snapId } });
    const rev = await cli(['lineage', '--dataset', 'imagenet', '--public-key', publicKey, '--json'], fresh);
    expect(rev.code, rev.stderr).toBe(0);
    expect(events(rev.stdout).filter((e) => e.type === 'model').map((e) => e.versionId)).toEqual(['resnet@1']);
  });

  it('promote to a second endpoint (TLS 1.3, other credentials): the bytes there hash-check and a promote record is audited', async () => {
    const r = await cli(['model', 'promote', 'resnet@1', `cloud:${cloudBucket}/prod/resnet`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout)[0]).toMatchObject({ type: 'promote', versionId: 'resnet@1', files: 2, transfer: { transferred: 2 } });
    expect(await objectHashes(cloud, cloudBucket, 'prod/resnet/')).toEqual(treeHashes(join(repo, 'out/resnet')));
    const audit = readJsonl(join(stateDir, 'audit', 'audit.jsonl'));
    expect(audit.find((x) => x.type === 'promote')).toMatchObject({
      version: 'resnet@1',
      from: expect.stringMatching(new RegExp(`/${bucket}/models/resnet/v1/$`)),
      to: `${s3Env2().endpoint}/${cloudBucket}/prod/resnet/`,
      dataset: snapId,
      runId: 'run-7',
      commit: head,
    });
    expect(audit.filter((x) => x.type === 'transfer' && String(x.dst).includes(`/${cloudBucket}/prod/resnet/`))).toHaveLength(2);
    const v = await cli(['audit', 'verify', '--public-key', publicKey]);
    expect(v.code, v.stdout).toBe(0);
  });

  it('a promotion the policy denies for one file copies nothing: exit 3 naming the file, the target as it was', async () => {
    const target = `cloud:${cloudBucket}/prod-governed/resnet`;
    await cloud.send(new PutObjectCommand({ Bucket: cloudBucket, Key: 'prod-governed/resnet/weights.bin', Body: 'the version in production' }));
    const before = await objectHashes(cloud, cloudBucket, 'prod-governed/');
    const config = join(stateDir, 'promote-policy.yaml');
    writeFileSync(
      config,
      `environments:
  onprem:
    kind: onprem
    locations: ["s3://${bucket}"]
  prod:
    kind: cloud
    remotes: [cloud]
classification:
  rules:
    - path: "**/config.json"
      level: restricted
policy:
  environments:
    onprem:
      maxLevel: restricted
    prod:
      maxLevel: confidential
`,
    );
    const r = await cli(['model', 'promote', 'resnet@1', target, '--config', config]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/1 file\(s\) would be denied by the classification policy .*config\.json.*nothing was copied/);
    expect(await objectHashes(cloud, cloudBucket, 'prod-governed/')).toEqual(before);
  });

  it('a version is immutable: re-pushing resnet@1 with other bytes is refused (exit 2) and nothing is overwritten', async () => {
    const before = await listAll(client, bucket, 'models/');
    const other = tempDir('resnet-other');
    randomFile(other, 'weights.bin', 17 * 1024 * 1024 + 11);
    writeFile(other, 'config.json', '{"layers":50}\n');
    const r = await cli(['model', 'push', other, `s3://${bucket}/models`, '--model', 'resnet@1', '--run', 'run-8', '--dataset', 'imagenet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/resnet@1 already exists .* immutable; nothing was sent/);
    expect(r.stderr).toMatch(/fix: push it as a new version/);
    expect(await listAll(client, bucket, 'models/')).toEqual(before);
  });

  it('snapshot verify: intact passes; one changed byte, an edited manifest, a deleted object are each named, exit 1', async () => {
    const verifyJson = async () => {
      const r = await cli(['snapshot', 'verify', `s3://${bucket}/data`, 'imagenet', '--json']);
      return { code: r.code, problems: events(r.stdout).filter((e) => e.type === 'problem'), result: events(r.stdout).find((e) => e.type === 'verify')!, stderr: r.stderr };
    };
    const ok = await verifyJson();
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.result).toMatchObject({ ok: true, checked: 6, problems: 0 });

    // one byte of one object
    const key = 'data/train/shard-2.bin';
    const original = readFileSync(join(local, 'train/shard-2.bin'));
    const changed = Buffer.from(original);
    changed[100] = changed[100]! ^ 0xff;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: changed }));
    let v = await verifyJson();
    expect(v.code).toBe(1);
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'modified', path: 'train/shard-2.bin' })]);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: original }));

    // the manifest's JSON: one recorded MD5 replaced
    const mkey = `data/.hybridsync/manifests/${snapId}.json`;
    const text = await getText(client, bucket, mkey);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: mkey, Body: text.replace(md5(original), md5(changed)) }));
    v = await verifyJson();
    expect(v.code).toBe(1);
    expect(v.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['manifest-signature', 'manifest-digest']));
    expect(v.problems.find((p) => p.kind === 'manifest-signature')!.message).toMatch(/signature does not verify/);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: mkey, Body: text }));

    // an object deleted
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'data/labels.csv' }));
    v = await verifyJson();
    expect(v.code).toBe(1);
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'missing', path: 'labels.csv' })]);
    const human = await cli(['snapshot', 'verify', `s3://${bucket}/data`, 'imagenet']);
    expect(human.stdout).toMatch(/^FAILED ds-imagenet-[0-9a-f]{16} .*\n\s+missing\s+labels\.csv: missing/);
  });

  it('bad input: an unknown snapshot, a location without manifests, an unknown --dataset: exit 2 with the fix, nothing written', async () => {
    const unknown = await cli(['snapshot', 'verify', `s3://${bucket}/data`, 'nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no snapshot nosuch at s3:\/\/.*\/data\n {2}fix: snapshots there: imagenet/);
    const none = await cli(['snapshot', 'verify', `s3://${bucket}/models/resnet`, 'imagenet']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no dataset snapshots at .* \(nothing under \.hybridsync\/manifests\/\)\n {2}fix: create one with hybridsync snapshot create/);
    const push = await cli(['model', 'push', join(repo, 'out/resnet'), `s3://${bucket}/models`, '--model', 'other', '--run', 'r', '--dataset', 'nosuch']);
    expect(push.code).toBe(2);
    expect(push.stderr).toMatch(/unknown dataset snapshot nosuch/);
    expect(await listAll(client, bucket, 'models/other/')).toEqual([]);
    const noName = await cli(['snapshot', 'create', `s3://${bucket}/data`]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/--name/);
  });
});
