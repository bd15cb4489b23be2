import {
  AbortedError,
  AuthError,
  ConfigError,
  HybridsyncError,
  IntegrityError,
  MissingRootError,
  NotFoundError,
  ObjectArchivedError,
  PermissionError,
  RestorePendingError,
  SourceChangedError,
  ThrottledError,
  TransientError,
  UnreachableError,
} from '../../core/errors.js';

interface RestErrorShape {
  name?: string;
  code?: string;
  statusCode?: number;
  message?: string;
  response?: { headers?: { get?(name: string): string | undefined } };
}

/**
 * Maps an Azure SDK (RestError) / network error to a typed error. The service's error code
 * comes from the x-ms-error-code header (a HEAD response has no body, so the SDK leaves
 * `code` unset there). Messages are our own: the server's text is never copied, so no
 * signature or SAS from a request can end up in a message. `where` names the
 * container/blob, `endpoint` the server.
 */
export function mapAzureError(err: unknown, where: string, endpoint: string): HybridsyncError {
  if (err instanceof HybridsyncError) return err;
  const e = (err ?? {}) as RestErrorShape;
  const name = e.name ?? '';
  const status = e.statusCode;
  const code = e.code ?? e.response?.headers?.get?.('x-ms-error-code') ?? '';
  const message = e.message ?? '';
  const opts = { cause: err };

  if (name === 'AbortError') return new AbortedError(`aborted: ${where}`, opts);
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
    return new UnreachableError(`cannot reach Azure endpoint ${endpoint} (${code})`, {
      ...opts,
      hint: 'check the endpoint / connection string and that the server is running',
    });
  }
  if (/^(ERR_SSL|ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|ERR_CERT)/.test(code) || (status === undefined && /certificate|SSL routines|TLS/i.test(message))) {
    return new ConfigError(`TLS handshake with ${endpoint} failed (${code || 'TLS error'})`, {
      ...opts,
      hint: 'check the endpoint offers TLS 1.3 and that its certificate chains to a trusted CA (caBundle)',
    });
  }
  if (['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'REQUEST_SEND_ERROR'].includes(code) || /socket hang up/i.test(message)) {
    return new TransientError(`connection problem talking to ${endpoint} for ${where}: ${code || name}`, opts);
  }
  switch (code) {
    case 'ContainerNotFound':
      return new MissingRootError(`container does not exist: ${where}`, {
        ...opts,
        hint: 'check the container name, create it (az storage container create), or pass --create-bucket',
      });
    case 'ContainerBeingDeleted':
      return new TransientError(`container is being deleted: ${where}`, opts);
    case 'InvalidResourceName':
      return new ConfigError(`invalid container or blob name in ${where}`, { ...opts, hint: 'container names are 3-63 lowercase letters, digits and hyphens' });
    case 'AuthenticationFailed':
    case 'InvalidAuthenticationInfo':
    case 'NoAuthenticationInformation':
      return authError(where, code, opts);
    case 'AuthorizationFailure':
      // Azurite says AuthorizationFailure for a bad signature; Azure for a denied SAS/network rule
      return /authenticate/i.test(message) ? authError(where, code, opts) : permissionError(where, code, opts);
    case 'AuthorizationPermissionMismatch':
    case 'AuthorizationResourceTypeMismatch':
    case 'AuthorizationServiceMismatch':
    case 'AuthorizationSourceIPMismatch':
    case 'AuthorizationProtocolMismatch':
    case 'InsufficientAccountPermissions':
      return permissionError(where, code, opts);
    case 'Md5Mismatch':
    case 'Crc64Mismatch':
    case 'InvalidMd5':
      return new IntegrityError(`Azure rejected the content checksum for ${where} (${code})`, opts);
    case 'InvalidBlockList':
      return new NotFoundError(`the staged blocks of this upload no longer exist: ${where}`, opts);
    case 'InvalidBlobOrBlock':
      return new IntegrityError(`Azure rejected a block of ${where} (InvalidBlobOrBlock)`, {
        ...opts,
        hint: 'another tool may have left uncommitted blocks with a different block-id length; they expire after 7 days',
      });
    case 'BlobArchived':
      return new ObjectArchivedError(`${where} is in the Archive tier and must be rehydrated before it can be read`, 'Archive', {
        ...opts,
        hint: 'hybridsync rehydrates it (--restore request|wait); or rehydrate it yourself (az storage blob set-tier --tier Hot)',
      });
    case 'BlobBeingRehydrated':
      return new RestorePendingError(`${where} is being rehydrated from the Archive tier`, 'Archive', false, opts);
    case 'ConditionNotMet':
    case 'TargetConditionNotMet':
    case 'SourceConditionNotMet':
      return new SourceChangedError(`${where} changed while it was being copied`, opts);
    case 'BlobNotFound':
    case 'ResourceNotFound':
      return new NotFoundError(`not found: ${where}`, opts);
    case 'ServerBusy':
    case 'TooManyRequests':
      return new ThrottledError(`Azure is throttling requests (${code}) for ${where}`, opts);
    case 'OperationTimedOut':
    case 'InternalError':
      return new TransientError(`Azure server error ${code} for ${where}`, opts);
  }
  // Azurite reports a Content-MD5 mismatch as InvalidOperation "Provided contentMD5 doesn't match."
  if (code === 'InvalidOperation' && /md5/i.test(message)) return new IntegrityError(`Azure rejected the content checksum for ${where} (Content-MD5 mismatch)`, opts);
  if (status === 412) return new SourceChangedError(`${where} changed while it was being copied`, opts);
  if (status === 404) return new NotFoundError(`not found: ${where}`, opts);
  if (status === 401) return authError(where, code || 'HTTP 401', opts);
  if (status === 403) return permissionError(where, code || 'HTTP 403', opts);
  if (status === 429 || status === 503) return new ThrottledError(`Azure is throttling requests (${code || status}) for ${where}`, opts);
  if (status !== undefined && status >= 500) return new TransientError(`Azure server error ${status} ${code} for ${where}`, opts);
  if (status === 413) return new ConfigError(`request too large for ${where} (${code || 413})`, { ...opts, hint: 'use a smaller chunk size' });
  if (status === 400 || status === 409 || status === 411) return new ConfigError(`Azure rejected the request (${code || status}) for ${where}`, opts);
  return new TransientError(`Azure error ${code || name || 'unknown'}${status ? ` (HTTP ${status})` : ''} for ${where}`, opts);
}

function authError(where: string, code: string, opts: { cause: unknown }): AuthError {
  return new AuthError(`Azure rejected the credentials (${code}) for ${where}`, {
    ...opts,
    hint: 'check the account key / SAS token (or connection string), and that the endpoint and account are right',
  });
}
function permissionError(where: string, code: string, opts: { cause: unknown }): PermissionError {
  return new PermissionError(`access denied (${code}): ${where}`, {
    ...opts,
    hint: 'check the SAS permissions / role assignment and the storage account firewall for this container',
  });
}
