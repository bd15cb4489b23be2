import { rmSync } from 'node:fs';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { LocalBackend } from '../../src/backends/local/index.js';
import { MemoryBackend } from '../../src/backends/memory/index.js';
import { S3Backend } from '../../src/backends/s3/index.js';
import { AzureBlobBackend } from '../../src/backends/azure/index.js';
import { azureEnv, azureLocation, azureTestClient, createTestContainer, deleteContainer } from '../helpers/azure.js';
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
  const make = () => new S3Backend(`s3://${bucket}/root`, {}, { multipartThreshold: 8 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
  const backend = make();
  return {
    backend,
    reopen: make,
    cleanup: async () => {
      await backend.close();
      await deleteBucket(client, bucket);
      client.destroy();
    },
  };
});

describeBackendConformance('azure (Azurite)', async () => {
  const client = azureTestClient();
  const container = await createTestContainer(client, 'conf');
  const make = () => new AzureBlobBackend(azureLocation(container, 'root/'), azureEnv());
  const backend = make();
  return {
    backend,
    reopen: make,
    cleanup: async () => {
      await backend.close();
      await deleteContainer(client, container);
    },
  };
});
