/**
 * AWS Signature Version 4 as an S3 server checks it: the Authorization header form and the
 * presigned-URL (query) form, against the gateway's own keys. The payload the signature
 * vouches for is returned for the body reader to check: a hex SHA-256, UNSIGNED-PAYLOAD,
 * or one of the aws-chunked forms (signed chunks, and/or a trailing checksum), whose chunk
 * signatures chain from the request's signature (chunkStringToSign).
 *
 * Error codes follow S3: an unknown key is InvalidAccessKeyId, a scope for another region
 * AuthorizationHeaderMalformed, a wrong signature SignatureDoesNotMatch, an expired
 * presigned URL AccessDenied, a clock too far off RequestTimeTooSkewed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ALGORITHM, sha256Hex, signHex, signingKey, stringToSign, UNSIGNED_PAYLOAD } from '../../lib/sigv4.js';
import { S3Error } from '../errors.js';

export { ALGORITHM, sha256Hex, signHex, signingKey, stringToSign, UNSIGNED_PAYLOAD };
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
export const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** What the signature check needs of a request. */
export interface SignedRequest {
  readonly method: string;
  /** The path as sent, percent-encoded. */
  readonly rawPath: string;
  /** Query parameters, decoded, in the order sent. */
  readonly query: ReadonlyArray<readonly [string, string]>;
  /** Header values by lower-case name (repeated headers joined with ','). */
  readonly headers: Readonly<Record<string, string>>;
}

export type Payload =
  | { readonly kind: 'sha256'; readonly sha256: string }
  | { readonly kind: 'unsigned' }
  /** aws-chunked; `signed`: every chunk carries a signature; `trailer`: checksum trailers follow. */
  | { readonly kind: 'chunked'; readonly signed: boolean; readonly trailer: boolean };

export interface Verified {
  readonly accessKeyId: string;
  readonly payload: Payload;
  /** For chunk and trailer signatures: the request signature they chain from. */
  readonly seedSignature: string;
  readonly signingKey: Buffer;
  readonly amzDate: string;
  readonly scope: string;
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ (and '/' in paths). */
export function uriEncode(s: string, keepSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI', `couldn't parse the specified URI: ${raw}`);
  }
}

export function canonicalRequest(r: SignedRequest, signedHeaders: readonly string[], payloadHash: string, excludeQuery?: string): string {
  const uri = uriEncode(decodePath(r.rawPath), true);
  const query = r.query
    .filter(([k]) => k !== excludeQuery)
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers = signedHeaders.map((h) => `${h}:${(r.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  return [r.method, uri, query, headers, signedHeaders.join(';'), payloadHash].join('\n');
}

/** What each aws-chunked chunk's signature signs: it chains from the previous signature. */
export function chunkStringToSign(amzDate: string, scope: string, previousSignature: string, chunkSha256: string): string {
  return ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previousSignature, EMPTY_SHA256, chunkSha256].join('\n');
}

/** What the trailer signature of a signed aws-chunked body signs. */
export function trailerStringToSign(amzDate: string, scope: string, previousSignature: string, trailerSha256: string): string {
  return ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, previousSignature, trailerSha256].join('\n');
}

export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** 20130524T000000Z → ms since the epoch. */
function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

interface Parsed {
  readonly credential: string;
  readonly signedHeaders: string[];
  readonly signature: string;
  readonly amzDate: string;
  readonly payloadHash: string;
  readonly presigned: boolean;
  readonly expiresSeconds?: number;
}

function parseHeaderAuth(r: SignedRequest, auth: string): Parsed {
  if (!auth.startsWith(`${ALGORITHM} `)) {
    if (auth.startsWith('AWS ')) throw new S3Error('InvalidRequest', 'signature version 2 is not supported; use AWS Signature Version 4');
    throw new S3Error('AuthorizationHeaderMalformed', `the authorization header is malformed; algorithm must be ${ALGORITHM}`);
  }
  const fields = new Map<string, string>();
  for (const part of auth.slice(ALGORITHM.length + 1).split(',')) {
    const i = part.indexOf('=');
    if (i > 0) fields.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signed || !signature) throw new S3Error('AuthorizationHeaderMalformed', 'the authorization header is malformed; Credential, SignedHeaders and Signature are required');
  const amzDate = r.headers['x-amz-date'] ?? '';
  const payloadHash = r.headers['x-amz-content-sha256'];
  if (!payloadHash) throw new S3Error('InvalidRequest', 'missing required header for this request: x-amz-content-sha256');
  return { credential, signedHeaders: signed.split(';'), signature, amzDate, payloadHash, presigned: false };
}

function parseQueryAuth(r: SignedRequest): Parsed {
  const q = new Map(r.query);
  const need = (k: string): string => {
    const v = q.get(k);
    if (v === undefined) throw new S3Error('AuthorizationQueryParametersError', `query-string authentication requires the ${k} parameter`);
    return v;
  };
  if (need('X-Amz-Algorithm') !== ALGORITHM) throw new S3Error('AuthorizationQueryParametersError', `X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const expires = Number(need('X-Amz-Expires'));
  if (!Number.isInteger(expires) || expires < 0 || expires > MAX_PRESIGN_SECONDS) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be an integer between 0 and 604800 seconds');
  }
  return {
    credential: need('X-Amz-Credential'),
    signedHeaders: need('X-Amz-SignedHeaders').split(';'),
    signature: need('X-Amz-Signature'),
    amzDate: need('X-Amz-Date'),
    payloadHash: q.get('X-Amz-Content-Sha256') ?? r.headers['x-amz-content-sha256'] ?? UNSIGNED_PAYLOAD,
    presigned: true,
    expiresSeconds: expires,
  };
}

function payloadOf(hash: string): Payload {
  switch (hash) {
    case UNSIGNED_PAYLOAD:
      return { kind: 'unsigned' };
    case STREAMING_SIGNED:
      return { kind: 'chunked', signed: true, trailer: false };
    case STREAMING_SIGNED_TRAILER:
      return { kind: 'chunked', signed: true, trailer: true };
    case STREAMING_UNSIGNED_TRAILER:
      return { kind: 'chunked', signed: false, trailer: true };
    default:
      if (!/^[0-9a-f]{64}$/.test(hash)) throw new S3Error('InvalidArgument', `x-amz-content-sha256 must be a hex SHA-256 or one of the documented payload forms, got "${hash}"`);
      return { kind: 'sha256', sha256: hash };
  }
}

/** Whether the request carries any SigV4 authentication (anonymous requests are refused by the caller). */
export function hasAuth(r: SignedRequest): boolean {
  return r.headers.authorization !== undefined || r.query.some(([k]) => k === 'X-Amz-Signature');
}

/**
 * Checks the request's signature against `keys` (access key id → secret) for `region`.
 * Throws S3Error with S3's code for what is wrong.
 */
export function verifyRequest(r: SignedRequest, keys: ReadonlyMap<string, string>, region: string, now: number = Date.now()): Verified {
  const p = r.headers.authorization !== undefined ? parseHeaderAuth(r, r.headers.authorization) : parseQueryAuth(r);
  const parts = p.credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') {
    throw new S3Error(p.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed', `the credential is malformed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request"`);
  }
  const [accessKeyId, date, credRegion, service] = parts as [string, string, string, string];
  const secret = keys.get(accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', 'the AWS access key id you provided does not exist in our records', { AWSAccessKeyId: accessKeyId });
  if (credRegion !== region) {
    throw new S3Error(p.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed', `the authorization header is malformed; the region '${credRegion}' is wrong; expecting '${region}'`, { Region: region });
  }
  if (service !== 's3') throw new S3Error('AuthorizationHeaderMalformed', `the authorization header is malformed; incorrect service "${service}", expecting "s3"`);
  const t = parseAmzDate(p.amzDate);
  if (t === undefined || !p.amzDate.startsWith(date)) throw new S3Error('AccessDenied', 'X-Amz-Date is missing or malformed, or does not match the credential date');
  if (p.presigned) {
    if (now > t + p.expiresSeconds! * 1000) throw new S3Error('AccessDenied', 'Request has expired', { Expires: new Date(t + p.expiresSeconds! * 1000).toISOString(), ServerTime: new Date(now).toISOString() });
    if (t - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
  } else if (Math.abs(now - t) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', 'the difference between the request time and the current time is too large', { RequestTime: p.amzDate, ServerTime: new Date(now).toISOString() });
  }
  if (!p.signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'the host header must be signed');
  const scope = `${date}/${credRegion}/${service}/aws4_request`;
  const key = signingKey(secret, date, credRegion, service);
  const canonical = canonicalRequest(r, p.signedHeaders, p.payloadHash, p.presigned ? 'X-Amz-Signature' : undefined);
  const expected = signHex(key, stringToSign(p.amzDate, scope, canonical));
  if (!signaturesEqual(expected, p.signature.toLowerCase())) {
    throw new S3Error('SignatureDoesNotMatch', 'the request signature we calculated does not match the signature you provided; check your key and signing method', {
      AWSAccessKeyId: accessKeyId,
    });
  }
  return { accessKeyId, payload: payloadOf(p.payloadHash), seedSignature: expected, signingKey: key, amzDate: p.amzDate, scope };
}
