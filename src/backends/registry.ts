/**
 * From what the user wrote to a Location and a Backend. Forms:
 *   NAME:bucket/prefix   a named remote (config/remotes.ts); NAME: for a local remote's root
 *   s3://bucket/prefix   the default S3 remote: --s3-* flags, AWS_* variables, the SDK chain
 *   az://container/pfx   the default Azure remote: AZURE_STORAGE_CONNECTION_STRING
 *   /path, ./path, file:///path   a local directory
 *   mem://name           in-memory (unit tests)
 * resolveLocation() does no I/O and opens nothing: the run's setup decides TLS per endpoint
 * first, then open() builds the backend with the final connection settings.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import { ConfigError, UsageError, type HybridsyncError } from '../core/errors.js';
import { lowercaseScheme, objectLocation, type Location } from '../core/location.js';
import { RemoteSet, resolveAzureSecrets, resolveS3Secrets, type AzureRemoteConfig, type RemoteConfig, type S3RemoteConfig } from '../config/remotes.js';
import { LocalBackend } from './local/index.js';
import { MemoryBackend } from './memory/index.js';
import { S3Backend, parseS3Url, type S3TransferOptions } from './s3/index.js';
import { resolveConnection, type S3ConnectionOptions } from './s3/client.js';
import { AzureBlobBackend, describeAzureConnection, parseAzureUrl, type AzureConnectionOptions } from './azure/index.js';

const SUPPORTED = 'NAME:bucket/prefix (a remote), s3://bucket/prefix, az://container/prefix, a local path, or file:///path';

/** TLS and transport settings of one endpoint, as the remote (or flags) and the governance config decide them. */
export interface EndpointSettings {
  readonly tlsMinVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly caBundle?: string;
  readonly allowInsecureHttp?: boolean;
}

export interface ResolveContext {
  readonly remotes?: RemoteSet;
  /** The default S3 remote behind s3:// URLs: the --s3-* flags (the environment fills the rest). */
  readonly s3?: S3ConnectionOptions;
  readonly env?: NodeJS.ProcessEnv;
}

export interface OpenOptions {
  /** Settings for this location's endpoint decided by the run's TLS policy. */
  readonly endpoint?: EndpointSettings;
  /** Backend-neutral request settings: retries, storage class (S3) / access tier (Azure), retry reports. */
  /** Request settings every backend takes: retries, storage class (S3) or access tier (Azure), retry reports. */
  readonly transfer?: Partial<S3TransferOptions>;
  /** Sockets per client (transfers × chunk concurrency + checkers). */
  readonly maxSockets?: number;
  /** Idle time after which a request fails (S3; default 5 minutes). */
  readonly requestTimeoutMs?: number;
  readonly onListError?: (key: string, err: HybridsyncError) => void;
}

/** A location and how to reach it. Holds no secret: references are resolved in open(). */
export interface LocationHandle {
  readonly location: Location;
  /** The endpoint's settings from the remote definition or the flags. */
  readonly endpointSettings: EndpointSettings;
  open(o?: OpenOptions): Backend;
}

const REMOTE_SPEC = /^([A-Za-z][A-Za-z0-9_-]*):(?!\/\/)(.*)$/s;

/** Splits `NAME:rest`; undefined for URLs, paths and Windows-free plain names. */
export function splitRemote(spec: string): { name: string; rest: string } | undefined {
  if (spec.startsWith('/') || spec.startsWith('./') || spec.startsWith('../')) return undefined;
  const m = REMOTE_SPEC.exec(spec);
  return m ? { name: m[1]!.toLowerCase(), rest: m[2]! } : undefined;
}

function splitContainer(rest: string): { container: string; prefix: string } {
  const clean = rest.replace(/^\/+/, '');
  const i = clean.indexOf('/');
  const container = i < 0 ? clean : clean.slice(0, i);
  let prefix = i < 0 ? '' : clean.slice(i + 1).replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  return { container, prefix };
}

function localHandle(path: string, display: string, remote = ''): LocationHandle {
  const b = (o: OpenOptions = {}): Backend => new LocalBackend(display, path, { ...(o.onListError ? { onListError: o.onListError } : {}), remote });
  const location = new LocalBackend(display, path, { remote }).location;
  return { location, endpointSettings: {}, open: b };
}

function s3Connection(remote: string, r: S3RemoteConfig | undefined, flags: S3ConnectionOptions | undefined, env: NodeJS.ProcessEnv): S3ConnectionOptions {
  if (!r) return { ...flags };
  return {
    ignoreEnvEndpoint: true,
    ...(r.endpoint ? { endpoint: r.endpoint } : {}),
    ...(r.region ? { region: r.region } : {}),
    ...(r.profile ? { profile: r.profile } : {}),
    ...(r.pathStyle !== undefined ? { forcePathStyle: r.pathStyle } : {}),
    ...(r.caBundle ? { caBundle: r.caBundle } : {}),
    ...(r.allowHttp ? { allowInsecureHttp: true } : {}),
    ...(r.tls?.minVersion ? { tlsMinVersion: r.tls.minVersion } : {}),
    ...resolveS3Secrets(remote, r, env),
  };
}

function s3Handle(spec: string, remote: string, container: string, prefix: string, conn: S3ConnectionOptions, env: NodeJS.ProcessEnv): LocationHandle {
  parseS3Url(`s3://${container}/${prefix}`); // validates the bucket name
  // the location names its endpoint even where plain http will be refused (at open)
  const resolved = resolveConnection({ ...conn, allowInsecureHttp: true }, env);
  const location = objectLocation({ type: 's3', scheme: 's3', remote, container, prefix, endpoint: resolved.origin, account: resolved.account, display: spec });
  const endpointSettings: EndpointSettings = {
    ...(conn.tlsMinVersion ? { tlsMinVersion: conn.tlsMinVersion } : {}),
    ...(conn.caBundle ? { caBundle: conn.caBundle } : {}),
    ...(conn.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
  };
  return {
    location,
    endpointSettings,
    open: (o = {}) => {
      const c: S3ConnectionOptions = {
        ...conn,
        ...(o.endpoint?.tlsMinVersion ? { tlsMinVersion: o.endpoint.tlsMinVersion } : {}),
        ...(o.endpoint?.caBundle ? { caBundle: o.endpoint.caBundle } : {}),
        ...(o.endpoint?.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
        ...(o.maxSockets ? { maxSockets: o.maxSockets } : {}),
        ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
      };
      return new S3Backend(location, c, o.transfer);
    },
  };
}

function azureConnection(remote: string, r: AzureRemoteConfig | undefined, env: NodeJS.ProcessEnv): AzureConnectionOptions {
  const secrets = resolveAzureSecrets(remote || 'az://', r ?? { type: 'azureblob' }, env);
  const conn: AzureConnectionOptions = {
    ...secrets,
    ...(r?.account ? { account: r.account } : env.AZURE_STORAGE_ACCOUNT && !secrets.connectionString ? { account: env.AZURE_STORAGE_ACCOUNT } : {}),
    ...(r?.endpoint ? { endpoint: r.endpoint } : {}),
    ...(r?.allowHttp ? { allowInsecureHttp: true } : {}),
    ...(r?.caBundle ? { caBundle: r.caBundle } : {}),
    ...(r?.tls?.minVersion ? { tlsMinVersion: r.tls.minVersion } : {}),
  };
  if (!conn.connectionString && !conn.account) {
    throw new ConfigError(`no Azure credentials for ${remote ? `remote "${remote}"` : 'az://'}`, {
      hint: remote
        ? 'set connectionStringEnv, or account with accountKeyEnv / sasTokenEnv, in the remote'
        : 'export AZURE_STORAGE_CONNECTION_STRING, or define a remote of type azureblob',
    });
  }
  return conn;
}

function azureHandle(spec: string, remote: string, container: string, prefix: string, conn: AzureConnectionOptions): LocationHandle {
  parseAzureUrl(`az://${container}/${prefix}`); // validates the container name
  const { endpoint, account } = describeAzureConnection(conn);
  const location = objectLocation({ type: 'azureblob', scheme: 'az', remote, container, prefix, endpoint, account, display: spec });
  return {
    location,
    endpointSettings: {
      ...(conn.tlsMinVersion ? { tlsMinVersion: conn.tlsMinVersion } : {}),
      ...(conn.caBundle ? { caBundle: conn.caBundle } : {}),
      ...(conn.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
    },
    open: (o = {}) =>
      new AzureBlobBackend(
        location,
        {
          ...conn,
          ...(o.endpoint?.tlsMinVersion ? { tlsMinVersion: o.endpoint.tlsMinVersion } : {}),
          ...(o.endpoint?.caBundle ? { caBundle: o.endpoint.caBundle } : {}),
          ...(o.endpoint?.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
          ...(o.maxSockets ? { maxSockets: o.maxSockets } : {}),
        },
        {
          ...(o.transfer?.retries ? { retries: o.transfer.retries } : {}),
          ...(o.transfer?.storageClass ? { accessTier: o.transfer.storageClass } : {}),
          ...(o.transfer?.onRetry ? { onRetry: o.transfer.onRetry } : {}),
        },
      ),
  };
}

function remoteHandle(spec: string, name: string, rest: string, r: RemoteConfig, ctx: ResolveContext, env: NodeJS.ProcessEnv): LocationHandle {
  if (r.type === 'local') {
    const sub = rest.replace(/^\/+/, '');
    return localHandle(resolve(r.root, sub), spec, name);
  }
  const { container, prefix } = splitContainer(rest);
  if (!container) {
    throw new UsageError(`remote "${name}" is ${r.type === 's3' ? 'S3: name a bucket' : 'Azure Blob: name a container'} in ${spec}`, {
      hint: `write ${name}:${r.type === 's3' ? 'bucket' : 'container'}/prefix`,
    });
  }
  if (r.type === 's3') return s3Handle(spec, name, container, prefix, s3Connection(name, r, undefined, env), env);
  return azureHandle(spec, name, container, prefix, azureConnection(name, r, env));
}

/** Parses a location as the user wrote it. Throws UsageError/ConfigError naming the fix. */
export function resolveLocation(spec: string, ctx: ResolveContext = {}): LocationHandle {
  const env = ctx.env ?? process.env;
  if (spec.trim() === '') throw new UsageError('empty location', { hint: `give ${SUPPORTED}` });
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(spec)?.[1]?.toLowerCase();
  const url = lowercaseScheme(spec); // S3://, Az://, FILE:// mean what s3://, az://, file:// mean
  if (scheme === undefined) {
    const named = splitRemote(spec);
    if (named) return remoteHandle(spec, named.name, named.rest, (ctx.remotes ?? RemoteSet.empty()).require(named.name, spec), ctx, env);
    return localHandle(resolve(spec), spec);
  }
  switch (scheme) {
    case 'file': {
      let path: string;
      try {
        path = fileURLToPath(url);
      } catch (err) {
        throw new UsageError(`malformed file URL "${spec}"`, { cause: err, hint: 'use file:///absolute/path or a plain path' });
      }
      return localHandle(path, spec);
    }
    case 's3': {
      const { bucket, prefix } = parseS3Url(url);
      return s3Handle(spec, '', bucket, prefix, s3Connection('', undefined, ctx.s3, env), env);
    }
    case 'az': {
      const { container, prefix } = parseAzureUrl(url);
      return azureHandle(spec, '', container, prefix, azureConnection('', undefined, env));
    }
    case 'mem': {
      const b = new MemoryBackend(url);
      return { location: b.location, endpointSettings: {}, open: () => b };
    }
    default:
      throw new UsageError(`unknown scheme "${scheme}://" in ${spec}`, { hint: `use ${SUPPORTED}` });
  }
}

/** resolveLocation + open, for callers that need no TLS decision in between (ls, mirrors, tests). */
export function openLocation(spec: string, ctx: ResolveContext & OpenOptions = {}): Backend {
  return resolveLocation(spec, ctx).open(ctx);
}
