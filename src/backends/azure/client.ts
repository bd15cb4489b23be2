/**
 * Azure connection: resolving a connection string / account + key / SAS into an endpoint
 * and a credential, and building a BlobServiceClient whose sockets come from our own
 * agents (TLS 1.3 minimum, optional extra CAs) and whose SDK retries are off (the
 * backend retries with typed errors and backoff, like S3).
 */
import type { BlobServiceClient, StoragePipelineOptions } from '@azure/storage-blob';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { AuthError, ConfigError } from '../../core/errors.js';

/** Already-resolved secret values (the remote config resolves env/file references). */
export interface AzureConnectionOptions {
  /** `DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;BlobEndpoint=…` or `UseDevelopmentStorage=true`. */
  readonly connectionString?: string;
  readonly account?: string;
  readonly accountKey?: string;
  /** A SAS token (`sv=…&sig=…`, with or without the leading `?`). */
  readonly sasToken?: string;
  /** Blob service URL: `https://acct.blob.core.windows.net` or `http://127.0.0.1:10000/devstoreaccount1`. */
  readonly endpoint?: string;
  /** Allow plain http to a host that is not loopback. */
  readonly allowInsecureHttp?: boolean;
  /** Minimum TLS version for https endpoints (default TLS 1.3). */
  readonly tlsMinVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** PEM bundle of extra CAs for https endpoints. */
  readonly caBundle?: string;
  /** Sockets per client; should cover transfers x chunk concurrency + checkers. */
  readonly maxSockets?: number;
}

export interface AzureConnectionDescription {
  /** Blob service URL without credentials: origin, plus `/account` for path-style (Azurite, IP hosts). */
  readonly endpoint: string;
  readonly account: string;
}

/** Everything needed to talk to the service. Holds secrets: never log or serialize it. */
export interface ResolvedAzureConnection extends AzureConnectionDescription {
  readonly accountKey?: string;
  /** Without the leading '?'. */
  readonly sasToken?: string;
}

// The SDK is loaded when the first Azure client is made: a run that never talks to Azure
// does not pay its start-up (~0.3 s of CPU).
const require = createRequire(import.meta.url);
const azureSdk = (): typeof import('@azure/storage-blob') => require('@azure/storage-blob') as typeof import('@azure/storage-blob');

/** Azurite's published development account (Microsoft documents it; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/i;
const IP_HOST = /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]|localhost)$/i;

/** `k=v;k=v` (values may contain '='); keys case-insensitive. Values are secrets: never echoed. */
function parseConnectionString(cs: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of cs.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ConfigError('malformed Azure connection string (expected Key=Value pairs separated by ";")', { hint: 'copy it again from the portal: Storage account → Access keys' });
    out.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return out;
}

function parseEndpoint(endpoint: string, allowInsecureHttp: boolean | undefined): URL {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new ConfigError(`malformed Azure endpoint "${endpoint.split('?')[0]}"`, { hint: 'use a URL such as https://account.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`Azure endpoint "${u.origin}" must use http or https`, { hint: 'use a URL such as https://account.blob.core.windows.net' });
  }
  if (u.protocol === 'http:' && !LOOPBACK.test(u.hostname) && !allowInsecureHttp) {
    throw new ConfigError(`refusing plain http to non-loopback endpoint ${u.host}: data would travel unencrypted`, {
      hint: 'use https, or allow it explicitly with allowInsecureHttp in the remote config',
    });
  }
  return u;
}

/**
 * Resolves the connection: explicit fields win over the connection string's. The account
 * is AccountName, else the first label of `acct.blob.…`, else the first path segment of a
 * path-style endpoint (Azurite).
 */
export function resolveAzureConnection(o: AzureConnectionOptions): ResolvedAzureConnection {
  const cs = o.connectionString ? parseConnectionString(o.connectionString) : new Map<string, string>();
  const dev = cs.get('usedevelopmentstorage')?.toLowerCase() === 'true';
  let account = o.account ?? cs.get('accountname') ?? (dev ? AZURITE_ACCOUNT : undefined);
  const accountKey = o.accountKey ?? cs.get('accountkey') ?? (dev ? AZURITE_KEY : undefined);
  let sasToken = o.sasToken ?? cs.get('sharedaccesssignature');
  let endpoint = o.endpoint ?? cs.get('blobendpoint') ?? (dev ? `http://127.0.0.1:10000/${AZURITE_ACCOUNT}` : undefined);
  if (!endpoint && account) {
    const protocol = cs.get('defaultendpointsprotocol') ?? 'https';
    endpoint = `${protocol}://${account}.blob.${cs.get('endpointsuffix') ?? 'core.windows.net'}`;
  }
  if (!endpoint) {
    throw new ConfigError('no Azure endpoint or account configured', { hint: 'set a connection string, or account (and accountKey or sasToken), or endpoint' });
  }
  const u = parseEndpoint(endpoint, o.allowInsecureHttp);
  if (u.search.length > 1 && !sasToken) sasToken = u.search.slice(1); // a SAS URL given as endpoint
  let path = u.pathname.replace(/\/+$/, '');
  const pathStyle = IP_HOST.test(u.hostname) || !/\.blob\./i.test(u.hostname);
  if (pathStyle) {
    const first = path.split('/').filter(Boolean)[0];
    if (!first && account) path = `/${account}`;
    account ??= first;
  } else {
    account ??= u.hostname.split('.')[0];
  }
  if (!account) {
    throw new ConfigError(`cannot tell the Azure account for endpoint ${u.origin}`, { hint: 'set account, or use an endpoint such as http://127.0.0.1:10000/devstoreaccount1' });
  }
  sasToken = sasToken?.replace(/^\?/, '') || undefined;
  return { endpoint: `${u.origin}${path}`, account, ...(accountKey ? { accountKey } : {}), ...(sasToken ? { sasToken } : {}) };
}

/** The endpoint and account of a connection, for Location and messages; never a secret. */
export function describeAzureConnection(o: AzureConnectionOptions): AzureConnectionDescription {
  const r = resolveAzureConnection(o);
  return { endpoint: r.endpoint, account: r.account };
}

export function createBlobServiceClient(o: AzureConnectionOptions, conn: ResolvedAzureConnection): BlobServiceClient {
  if (!conn.accountKey && !conn.sasToken) {
    throw new AuthError(`no Azure credentials for account ${conn.account} at ${conn.endpoint}`, {
      hint: 'set a connection string (AZURE_STORAGE_CONNECTION_STRING), an accountKey, or a sasToken in the remote config',
    });
  }
  const maxSockets = o.maxSockets ?? 64;
  let agent: HttpAgent | HttpsAgent;
  if (conn.endpoint.startsWith('https:')) {
    let ca: string | undefined;
    if (o.caBundle) {
      try {
        ca = readFileSync(o.caBundle, 'utf8');
      } catch (err) {
        throw new ConfigError(`cannot read CA bundle ${o.caBundle}`, { cause: err, hint: 'fix the path of the CA bundle' });
      }
    }
    agent = new HttpsAgent({ keepAlive: true, maxSockets, minVersion: o.tlsMinVersion ?? 'TLSv1.3', ...(ca ? { ca } : {}) });
  } else {
    agent = new HttpAgent({ keepAlive: true, maxSockets });
  }
  const { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential, newPipeline } = azureSdk();
  const credential = conn.accountKey ? new StorageSharedKeyCredential(conn.account, conn.accountKey) : new AnonymousCredential();
  // `agent` is not in StoragePipelineOptions' type, but the SDK hands its options to
  // core-rest-pipeline's createPipelineFromOptions, which installs agentPolicy(agent): every
  // request then uses our agent (and its TLS floor) instead of the SDK's default one.
  const pipelineOptions: StoragePipelineOptions & { agent: HttpAgent | HttpsAgent } = {
    retryOptions: { maxTries: 1 },
    agent,
  };
  const url = conn.accountKey || !conn.sasToken ? conn.endpoint : `${conn.endpoint}?${conn.sasToken}`;
  return new BlobServiceClient(url, newPipeline(credential, pipelineOptions));
}
