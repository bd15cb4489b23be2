import {
  AuthError,
  ConfigError,
  HybridsyncError,
  IntegrityError,
  MissingRootError,
  NotFoundError,
  ObjectArchivedError,
  PermissionError,
  RestorePendingError,
  UnsupportedError,
  SourceChangedError,
  ThrottledError,
  TransientError,
  UnreachableError,
  AbortedError,
} from '../../core/errors.js';

/** Error code of a connection whose TLS handshake did not finish in time (client.ts). */
export const TLS_HANDSHAKE_TIMEOUT = 'ETLSHANDSHAKETIMEOUT';

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The HTTP status of an AWS SDK error (undefined for a network error). */
export function httpStatusOf(err: unknown): number | undefined {
  return (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/**
 * Maps an AWS SDK / network error to a typed error. Ceph RGW's error bodies carry no
 * message (the SDK says "UnknownError"), so this relies on err.name and the HTTP status.
 * `where` names the bucket/key for the message; `endpoint` the server.
 */
/** How the user fixes what this location's connection comes from: a named remote's settings, or the s3:// flags and AWS_* variables. */
export interface S3Fixes {
  readonly credentials: string;
  readonly endpoint: string;
  readonly tls: string;
  /** The bucket as the user wrote it, for "bucket does not exist". */
  readonly bucket: string;
}

export const DEFAULT_S3_FIXES: S3Fixes = {
  credentials: 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile, and that the endpoint and region are right',
  endpoint: 'check --s3-endpoint / AWS_ENDPOINT_URL and that the server is running',
  tls: 'check the endpoint offers TLS 1.3 and that its certificate chains to a trusted CA (--ca-bundle, AWS_CA_BUNDLE or tls.caBundle)',
  bucket: '',
};

/** The fixes for a named remote's location: its own settings, never the s3:// ones. */
export function remoteS3Fixes(remote: string, bucket: string): S3Fixes {
  const env = `HYBRIDSYNC_REMOTE_${remote.toUpperCase()}`;
  return {
    credentials: `check the credentials of remote "${remote}" (the variables its accessKeyIdEnv/secretAccessKeyEnv name, ${env}_ACCESS_KEY_ID/_SECRET_ACCESS_KEY, or its profile) and its endpoint and region`,
    endpoint: `check the endpoint of remote "${remote}" (remotes.${remote}.endpoint or ${env}_ENDPOINT) and that the server is running`,
    tls: `check that remote "${remote}" offers TLS 1.3 and that its certificate chains to a trusted CA (remotes.${remote}.caBundle or ${env}_CA_BUNDLE)`,
    bucket: `${remote}:${bucket}`,
  };
}

export function mapS3Error(err: unknown, where: string, endpoint: string, fixes: S3Fixes = DEFAULT_S3_FIXES): HybridsyncError {
  if (err instanceof HybridsyncError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? '';
  const code = e.code ?? '';
  const status = httpStatusOf(e);
  const opts = { cause: err };

  if (name === 'AbortError') return new AbortedError(`aborted: ${where}`, opts);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? '')) {
    return new AuthError(`no S3 credentials found for ${where}`, {
      ...opts,
      hint: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or configure ~/.aws/credentials',
    });
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', TLS_HANDSHAKE_TIMEOUT].includes(code)) {
    return new UnreachableError(`cannot reach S3 endpoint ${endpoint} (${code === TLS_HANDSHAKE_TIMEOUT ? e.message : code})`, {
      ...opts,
      hint: fixes.endpoint,
    });
  }
  if (/^(ERR_SSL|ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|ERR_CERT)/.test(code) || /certificate|SSL routines|TLS/i.test(e.message ?? '')) {
    return new ConfigError(`TLS handshake with ${endpoint} failed (${code || e.message})`, {
      ...opts,
      hint: fixes.tls,
    });
  }
  if (['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED'].includes(code) || name === 'TimeoutError' || /socket hang up/i.test(e.message ?? '')) {
    return new TransientError(`connection problem talking to ${endpoint} for ${where}: ${code || name}`, opts);
  }
  if (name === 'NoSuchBucket') {
    return new MissingRootError(`bucket does not exist: ${fixes.bucket || where} (at ${endpoint})`, {
      ...opts,
      hint: 'check the bucket name, create it (aws s3 mb), or pass --create-bucket',
    });
  }
  if (name === 'InvalidBucketName') return new ConfigError(`invalid bucket name in ${where}`, { ...opts, hint: 'bucket names are 3-63 lowercase letters, digits, dots and hyphens' });
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'AuthorizationHeaderMalformed'].includes(name)) {
    return new AuthError(`S3 rejected the credentials (${name}) for ${where}`, {
      ...opts,
      hint: fixes.credentials,
    });
  }
  if (name === 'BadDigest' || name === 'InvalidDigest') return new IntegrityError(`S3 rejected the content checksum for ${where} (${name})`, opts);
  if (name === 'PreconditionFailed' || status === 412) return new SourceChangedError(`${where} changed while it was being copied`, opts);
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new NotFoundError(`not found: ${where}`, opts);
  if (name === 'NoSuchUpload') return new NotFoundError(`multipart upload no longer exists: ${where}`, opts);
  if (name === 'InvalidObjectState') {
    // GET / CopyObject of an object in an archive class without a completed restore
    const cls = (err as { StorageClass?: string }).StorageClass;
    return new ObjectArchivedError(`${where} is in the ${cls ?? 'archive'} storage class and must be restored before it can be read`, cls, {
      ...opts,
      hint: 'hybridsync requests the restore (--restore request|wait); or restore it yourself (aws s3api restore-object)',
    });
  }
  if (name === 'RestoreAlreadyInProgress') {
    return new RestorePendingError(`a restore of ${where} is already in progress`, undefined, false, opts);
  }
  if (name === 'NotImplemented' || status === 501) {
    return new UnsupportedError(`${endpoint} does not implement this request (${name || status}) for ${where}`, opts);
  }
  if (name === 'AccessDenied' || status === 403) {
    return new PermissionError(`access denied: ${where}`, { ...opts, hint: 'check the bucket policy / IAM permissions for this key' });
  }
  if (name === 'SlowDown' || name === 'Throttling' || name === 'ThrottlingException' || name === 'RequestLimitExceeded' || status === 503 || status === 429) {
    return new ThrottledError(`S3 is throttling requests (${name || status}) for ${where}`, opts);
  }
  if (name === 'RequestTimeout' || (status !== undefined && status >= 500)) {
    return new TransientError(`S3 server error ${status ?? ''} ${name} for ${where}`, opts);
  }
  if (status === 400 && name === 'EntityTooLarge') return new ConfigError(`object too large for a single PUT: ${where}`, { ...opts, hint: 'lower --multipart-threshold' });
  if (status === 400 || status === 411) return new ConfigError(`S3 rejected the request (${name || status}) for ${where}`, opts);
  return new TransientError(`S3 error ${name || code || 'unknown'}${status ? ` (HTTP ${status})` : ''} for ${where}`, opts);
}
