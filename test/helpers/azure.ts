/** Test helpers for the Azurite started by scripts/services/start-azurite.sh (via ensure-services.sh). */
import { BlobServiceClient } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import { objectLocation, type Location } from '../../src/core/location.js';
import { describeAzureConnection, type AzureConnectionOptions } from '../../src/backends/azure/index.js';

export function azureEnv(): AzureConnectionOptions & { connectionString: string } {
  const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (!connectionString) {
    throw new Error('Azure test server not configured: run the tests with `npm test` (it starts Azurite), or eval "$(bash scripts/services/start-azurite.sh | grep ^export)"');
  }
  return { connectionString };
}

/**
 * The tests' own client, for checking what a run left in Azurite. It retries transport errors
 * like the backend does: Azurite closes a keep-alive socket after 5 s idle, and a request that
 * goes out on it at that moment ends in "socket hang up" (ECONNRESET) — a race in the transport,
 * not a finding about the data. A 4xx answer is still reported at once.
 */
export function azureTestClient(): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(azureEnv().connectionString, { retryOptions: { maxTries: 4, retryDelayInMs: 50, maxRetryDelayInMs: 500 } });
}

export async function createTestContainer(client: BlobServiceClient, prefix = 'hs'): Promise<string> {
  const name = `${prefix}-${randomBytes(5).toString('hex')}`;
  await client.getContainerClient(name).create();
  return name;
}

export async function deleteContainer(client: BlobServiceClient, name: string): Promise<void> {
  await client.getContainerClient(name).deleteIfExists();
}

/** The Location the remote config would build for az://container/path on this connection. */
export function azureLocation(container: string, path = '', conn: AzureConnectionOptions = azureEnv()): Location {
  const d = describeAzureConnection(conn);
  const prefix = path && !path.endsWith('/') ? `${path}/` : path;
  return objectLocation({ type: 'azureblob', scheme: 'az', remote: '', container, prefix, endpoint: d.endpoint, account: d.account, display: `az://${container}/${prefix}` });
}
