/** Test helpers for the real Ceph RGW started by scripts/test.sh (or by hand: scripts/services/). */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  AbortMultipartUploadCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';

export function s3Env(): { endpoint: string; accessKeyId: string; secretAccessKey: string } {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!endpoint || !accessKeyId || !secretAccessKey) {
    throw new Error('S3 test server not configured: run the tests with `npm test` (it starts Ceph RGW), or source $TMPDIR/ceph-rgw-data/s3.env');
  }
  return { endpoint, accessKeyId, secretAccessKey };
}

export function testClient(): S3Client {
  const e = s3Env();
  return new S3Client({
    endpoint: e.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * The second endpoint of the same Ceph RGW: S3 over TLS 1.3 only (https://localhost:7443,
 * certificate from a test CA) as a second user with its own keys and buckets — for tests
 * between two endpoints with different credentials (e.g. onprem http <-> cloud https).
 * The CA is passed explicitly (scripts/test.sh unsets AWS_CA_BUNDLE).
 */
export function s3Env2(): { endpoint: string; accessKeyId: string; secretAccessKey: string; caBundle: string } {
  const endpoint = process.env.HYBRIDSYNC_TEST_S3_TLS_ENDPOINT;
  const accessKeyId = process.env.HYBRIDSYNC_TEST_S3_USER2_ACCESS_KEY_ID;
  const secretAccessKey = process.env.HYBRIDSYNC_TEST_S3_USER2_SECRET_ACCESS_KEY;
  const caBundle = process.env.HYBRIDSYNC_TEST_CA_BUNDLE;
  if (!endpoint || !accessKeyId || !secretAccessKey || !caBundle) {
    throw new Error('second S3 test endpoint not configured: run the tests with `npm test` (it starts Ceph RGW with TLS), or source $TMPDIR/ceph-rgw-data/s3.env');
  }
  return { endpoint, accessKeyId, secretAccessKey, caBundle };
}

/** The named remote `cloud` on the second endpoint, defined by environment variables alone (rclone-style). */
export function cloudRemoteEnv(): NodeJS.ProcessEnv {
  const b = s3Env2();
  return {
    HYBRIDSYNC_REMOTE_CLOUD_TYPE: 's3',
    HYBRIDSYNC_REMOTE_CLOUD_ENDPOINT: b.endpoint,
    HYBRIDSYNC_REMOTE_CLOUD_CA_BUNDLE: b.caBundle,
    HYBRIDSYNC_REMOTE_CLOUD_ACCESS_KEY_ID: b.accessKeyId,
    HYBRIDSYNC_REMOTE_CLOUD_SECRET_ACCESS_KEY: b.secretAccessKey,
  };
}

/** A client for s3Env2(): TLS 1.3 minimum, trusting only the test CA. */
export function testClient2(): S3Client {
  const e = s3Env2();
  return new S3Client({
    endpoint: e.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: readFileSync(e.caBundle), minVersion: 'TLSv1.3', keepAlive: true }) }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function createTestBucket(client: S3Client, prefix = 'hs'): Promise<string> {
  const name = `${prefix}-${randomBytes(5).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

export async function listAll(client: S3Client, bucket: string, prefix?: string): Promise<Array<{ key: string; size: number; etag: string }>> {
  const out: Array<{ key: string; size: number; etag: string }> = [];
  let token: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0, etag: (o.ETag ?? '').replace(/"/g, '') });
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** The objects under `prefix`, in key order, concatenated as text (what a stream lane stored). */
export async function concatObjects(client: S3Client, bucket: string, prefix: string): Promise<string> {
  let out = '';
  for (const o of await listAll(client, bucket, prefix)) {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }));
    out += await (r.Body as { transformToString(): Promise<string> }).transformToString();
  }
  return out;
}

export async function openUploads(client: S3Client, bucket: string): Promise<Array<{ key: string; uploadId: string }>> {
  const r = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (r.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
}

export async function getObjectMd5(client: S3Client, bucket: string, key: string): Promise<string> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const h = createHash('md5');
  for await (const c of r.Body as AsyncIterable<Buffer>) h.update(c);
  return h.digest('hex');
}

export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (const u of await openUploads(client, bucket).catch(() => [])) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId })).catch(() => undefined);
  }
  while (true) {
    const objs = await listAll(client, bucket).catch(() => []);
    if (objs.length === 0) break;
    for (let i = 0; i < objs.length; i += 1000) {
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objs.slice(i, i + 1000).map((o) => ({ Key: o.key })) } }));
    }
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
}

/** Environment for Debian's rclone with a remote named "ceph" for the test server (AWS_CA_BUNDLE dropped: the http endpoint). */
export function rcloneEnv(): NodeJS.ProcessEnv {
  const e = s3Env();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RCLONE_CONFIG_CEPH_TYPE: 's3',
    RCLONE_CONFIG_CEPH_PROVIDER: 'Ceph',
    RCLONE_CONFIG_CEPH_ENDPOINT: e.endpoint,
    RCLONE_CONFIG_CEPH_ACCESS_KEY_ID: e.accessKeyId,
    RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY: e.secretAccessKey,
    RCLONE_CONFIG_CEPH_FORCE_PATH_STYLE: 'true',
  };
  delete env.AWS_CA_BUNDLE;
  return env;
}
