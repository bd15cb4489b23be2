/**
 * The two S3 endpoints the test script starts, for cross-endpoint tests: plain http on
 * loopback as the first user (s3Env/testClient) and TLS 1.3 only, with a certificate from
 * a test CA, as a second user with its own keys (s3Env2/testClient2). Proves what those
 * tests rely on: the https side negotiates TLS 1.3 and verifies against the CA, the users
 * are separate accounts (no access to each other's buckets unless granted), and the second
 * user works on its own buckets over https.
 */
import {
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, deleteBucket, listAll, s3Env, s3Env2, testClient, testClient2 } from '../helpers/s3.js';

let client1: S3Client;
let client2: S3Client;
let bucket1: string;
const buckets2: string[] = [];

beforeAll(async () => {
  client1 = testClient();
  client2 = testClient2();
  bucket1 = await createTestBucket(client1, 'ep1');
  await client1.send(new PutObjectCommand({ Bucket: bucket1, Key: 'data/a.txt', Body: 'from user 1' }));
});
afterAll(async () => {
  await deleteBucket(client1, bucket1);
  for (const b of buckets2) await deleteBucket(client2, b);
  client1.destroy();
  client2.destroy();
});

function tlsHandshake(host: string, opts: { maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<TLSSocket> {
  const url = new URL(s3Env2().endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(url.port), servername: url.hostname, ca: readFileSync(s3Env2().caBundle), ...opts });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function errorName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return (err as { name?: string }).name ?? String(err);
  }
}

describe('the TLS endpoint', () => {
  it('is https on localhost, apart from the http endpoint', () => {
    const e2 = new URL(s3Env2().endpoint);
    expect(e2.protocol).toBe('https:');
    expect(e2.hostname).toBe('localhost');
    expect(new URL(s3Env().endpoint).protocol).toBe('http:');
  });

  it.each(['localhost', '127.0.0.1'])('negotiates TLSv1.3 with a certificate the test CA verifies (%s)', async (host) => {
    const s = await tlsHandshake(host);
    try {
      expect(s.getProtocol()).toBe('TLSv1.3');
      expect(s.authorized).toBe(true);
      expect(s.getPeerCertificate().subjectaltname).toMatch(/DNS:localhost/);
    } finally {
      s.destroy();
    }
  });

  it('refuses a client that offers at most TLS 1.2', async () => {
    await expect(tlsHandshake('localhost', { maxVersion: 'TLSv1.2' })).rejects.toThrow(/alert|protocol|handshake|version/i);
  });

  it('is not trusted without the test CA', async () => {
    const url = new URL(s3Env2().endpoint);
    const err = await new Promise<Error>((resolve) => {
      const s = connect({ host: url.hostname, port: Number(url.port) }, () => resolve(new Error('connected')));
      s.once('error', resolve);
    });
    expect(err.message).toMatch(/self[- ]signed|unable to (get|verify)/i);
  });
});

describe('two users', () => {
  it("user 2 cannot read or list user 1's bucket", async () => {
    expect(await errorName(client2.send(new GetObjectCommand({ Bucket: bucket1, Key: 'data/a.txt' })))).toBe('AccessDenied');
    expect(await errorName(client2.send(new ListObjectsV2Command({ Bucket: bucket1 })))).toBe('AccessDenied');
    expect(await errorName(client2.send(new PutObjectCommand({ Bucket: bucket1, Key: 'x', Body: 'x' })))).toBe('AccessDenied');
  });

  it('user 2 reads (only reads) it once user 1 grants that in a bucket policy', async () => {
    const owner2 = (await client2.send(new ListBucketsCommand({}))).Owner?.ID;
    expect(owner2).toBeTruthy();
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam:::user/${owner2}`] }, Action: ['s3:ListBucket'], Resource: [`arn:aws:s3:::${bucket1}`] },
        { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam:::user/${owner2}`] }, Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket1}/*`] },
      ],
    };
    await client1.send(new PutBucketPolicyCommand({ Bucket: bucket1, Policy: JSON.stringify(policy) }));
    try {
      const r = await client2.send(new GetObjectCommand({ Bucket: bucket1, Key: 'data/a.txt' }));
      expect(await r.Body!.transformToString()).toBe('from user 1');
      expect((await listAll(client2, bucket1)).map((o) => o.key)).toEqual(['data/a.txt']);
      expect(await errorName(client2.send(new PutObjectCommand({ Bucket: bucket1, Key: 'x', Body: 'x' })))).toBe('AccessDenied');
    } finally {
      await client1.send(new DeleteBucketPolicyCommand({ Bucket: bucket1 }));
    }
    expect(await errorName(client2.send(new GetObjectCommand({ Bucket: bucket1, Key: 'data/a.txt' })))).toBe('AccessDenied');
  });

  it('user 2 creates, writes and lists its own bucket over https; user 1 does not see it', async () => {
    const bucket2 = `ep2-${randomBytes(5).toString('hex')}`;
    await client2.send(new CreateBucketCommand({ Bucket: bucket2 }));
    buckets2.push(bucket2);
    await client2.send(new PutObjectCommand({ Bucket: bucket2, Key: 'k/one.bin', Body: randomBytes(1000) }));
    expect(await listAll(client2, bucket2)).toEqual([expect.objectContaining({ key: 'k/one.bin', size: 1000 })]);
    const own2 = (await client2.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name);
    expect(own2).toContain(bucket2);
    expect(own2).not.toContain(bucket1);
    expect((await client1.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).not.toContain(bucket2);
    expect(await errorName(client1.send(new ListObjectsV2Command({ Bucket: bucket2 })))).toBe('AccessDenied');
  });
});
