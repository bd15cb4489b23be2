/**
 * S3 errors as the gateway answers them: a code from S3's error list, the HTTP status that
 * goes with it and a message, rendered as S3's XML error document. Errors of the library
 * (HybridsyncError) map to S3 codes in exactly one place: s3ErrorOf().
 */
import { isHybridsyncError } from '../core/errors.js';

const STATUS: Readonly<Record<string, number>> = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyOwnedByYou: 409,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidObjectState: 403,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
};

export class S3Error extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message: string,
    /** Extra elements of the error document (e.g. Region, Key). */
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'S3Error';
    this.status = STATUS[code] ?? 400;
  }
}

/** The S3 error a thrown value answers as. Retryable library errors become 503 SlowDown. */
export function s3ErrorOf(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (isHybridsyncError(err)) {
    switch (err.kind) {
      case 'not-found':
        return new S3Error('NoSuchKey', err.message);
      case 'permission':
      case 'auth':
      case 'policy-denied':
        return new S3Error('AccessDenied', err.message);
      case 'invalid-name':
      case 'usage':
        return new S3Error('InvalidArgument', err.message);
      case 'integrity':
        return new S3Error('BadDigest', err.message);
      default:
        if (err.retryable) return new S3Error('ServiceUnavailable', `upstream: ${err.message}`);
    }
    return new S3Error('InternalError', err.message);
  }
  return new S3Error('InternalError', err instanceof Error ? err.message : String(err));
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function errorXml(e: S3Error, resource: string, requestId: string): string {
  const extra = Object.entries(e.extra)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message>${extra}<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
}
