import { rmSync } from 'node:fs';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { LocalBackend } from '../../src/backends/local/index.js';
import { MemoryBackend } from '../../src/backends/memory/index.js';
import { openLocation } from '../../src/backends/registry.js';
import { azureTestClient, createTestContainer, deleteContainer } from '../helpers/azure.js';
import { DeleteBucketPolicyCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, testClient } from '../helpers/s3.js';
import { tempDir } from '../helpers/fs.js';

describeBackendConformance('local', async () => {
  const dir = tempDir('conf-local');
  return {
    backend: new LocalBackend(dir, dir),
    reopen: () => new LocalBackend(dir, dir),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describeBackendConformance('memory', async () => {
  const b = new MemoryBackend();
  return { backend: b, reopen: () => b, cleanup: async () => undefined };
});

describeBackendConformance('s3 (Ceph RGW)', async () => {
  const client = testClient();
  const bucket = await createTestBucket(client, 'conf');
  const make = () => openLocation(`s3://${bucket}/root`);
  const backend = make();
  return {
    backend,
    reopen: make,
    // a class the test RGW is set up with (scripts/services/start-rgw.sh: STANDARD_IA, GLACIER)
    tiering: { coldClass: 'GLACIER' },
    cleanup: async () => {
      await backend.close?.();
      await deleteBucket(client, bucket);
      client.destroy();
    },
    // a bucket policy: an explicit Deny binds the bucket's owner too
    refuseRemoval: async (prefix) => {
      const Statement = [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${bucket}/root/${prefix}*` }];
      await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement }) }));
      return async () => void (await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket })));
    },
  };
});

describeBackendConformance('azure (Azurite)', async () => {
  const client = azureTestClient();
  const container = await createTestContainer(client, 'conf');
  // az:// with AZURE_STORAGE_CONNECTION_STRING, as a user would
  const make = () => openLocation(`az://${container}/root`);
  const backend = make();
  return {
    backend,
    reopen: make,
    tiering: { coldClass: 'Cool' },
    cleanup: async () => {
      await backend.close?.();
      await deleteContainer(client, container);
    },
  };
});
