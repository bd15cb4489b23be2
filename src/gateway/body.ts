/**
 * Reading a request body as the signature and the checksums vouch for it: aws-chunked
 * decoding (chunk signatures checked against the chain from the request signature,
 * trailing x-amz-checksum-* checked against the bytes), the signed payload hash, a
 * Content-MD5 and x-amz-checksum-* headers. The bytes are yielded as they arrive; any
 * mismatch throws at the end, before the caller commits what it staged.
 */
import { createHash, type Hash } from 'node:crypto';
import { S3Error } from './errors.js';
import { checksumAlgorithmOfHeader, createChecksummer, type Checksummer } from './checksums.js';
import { chunkStringToSign, EMPTY_SHA256, sha256Hex, signaturesEqual, signHex, trailerStringToSign, type Verified } from './auth/sigv4.js';

const MAX_LINE = 4096;

interface ChunkedState {
  readonly signed: boolean;
  readonly trailer: boolean;
  readonly verified: Verified;
}

/** Decodes an aws-chunked body, checking chunk and trailer signatures; returns the trailers. */
async function* decodeChunked(source: AsyncIterable<Buffer>, s: ChunkedState, trailers: Map<string, string>): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await it.next();
    if (r.done) {
      ended = true;
      return false;
    }
    buf = buf.length === 0 ? r.value : Buffer.concat([buf, r.value]);
    return true;
  };
  const line = async (): Promise<string | undefined> => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        const l = buf.subarray(0, i).toString('latin1');
        buf = buf.subarray(i + 2);
        return l;
      }
      if (buf.length > MAX_LINE) throw new S3Error('InvalidRequest', 'aws-chunked body: chunk header too long');
      if (!(await more())) return buf.length > 0 ? (() => { const l = buf.toString('latin1'); buf = Buffer.alloc(0); return l; })() : undefined;
    }
  };
  let previous = s.verified.seedSignature;
  for (;;) {
    const header = await line();
    if (header === undefined) throw new S3Error('IncompleteBody', 'aws-chunked body ended before its final chunk');
    const [sizeHex, ...ext] = header.split(';');
    const size = Number.parseInt(sizeHex ?? '', 16);
    if (!Number.isFinite(size) || size < 0 || !/^[0-9a-fA-F]+$/.test(sizeHex ?? '')) throw new S3Error('InvalidRequest', `aws-chunked body: bad chunk header "${header.slice(0, 80)}"`);
    const sig = ext.map((e) => /^chunk-signature=([0-9a-f]{64})$/.exec(e.trim())?.[1]).find((x) => x);
    if (s.signed && !sig) throw new S3Error('SignatureDoesNotMatch', 'aws-chunked body: a chunk has no chunk-signature');
    const hash: Hash | undefined = s.signed ? createHash('sha256') : undefined;
    let left = size;
    while (left > 0) {
      if (buf.length === 0 && !(await more())) throw new S3Error('IncompleteBody', 'aws-chunked body ended inside a chunk');
      const take = buf.subarray(0, Math.min(left, buf.length));
      buf = buf.subarray(take.length);
      left -= take.length;
      hash?.update(take);
      yield take;
    }
    if (s.signed) {
      const expected = signHex(s.verified.signingKey, chunkStringToSign(s.verified.amzDate, s.verified.scope, previous, size === 0 ? EMPTY_SHA256 : hash!.digest('hex')));
      if (!signaturesEqual(expected, sig!)) throw new S3Error('SignatureDoesNotMatch', 'aws-chunked body: a chunk signature does not match its data');
      previous = expected;
    }
    if (size === 0) break;
    const end = await line();
    if (end !== '') throw new S3Error('InvalidRequest', 'aws-chunked body: chunk data not followed by CRLF');
  }
  if (!s.trailer) return;
  // trailers, then an empty line (some clients end without it)
  const lines: string[] = [];
  for (;;) {
    const l = await line();
    if (l === undefined || l === '') break;
    lines.push(l);
  }
  let trailerSig: string | undefined;
  const signedPart: string[] = [];
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i <= 0) throw new S3Error('InvalidRequest', `aws-chunked body: bad trailer "${l.slice(0, 80)}"`);
    const name = l.slice(0, i).trim().toLowerCase();
    const value = l.slice(i + 1).trim();
    if (name === 'x-amz-trailer-signature') trailerSig = value;
    else {
      trailers.set(name, value);
      signedPart.push(`${name}:${value}\n`);
    }
  }
  if (s.signed) {
    if (!trailerSig) throw new S3Error('SignatureDoesNotMatch', 'aws-chunked body: the trailer has no x-amz-trailer-signature');
    const expected = signHex(s.verified.signingKey, trailerStringToSign(s.verified.amzDate, s.verified.scope, previous, sha256Hex(signedPart.join(''))));
    if (!signaturesEqual(expected, trailerSig)) throw new S3Error('SignatureDoesNotMatch', 'aws-chunked body: the trailer signature does not match');
  }
}

export interface BodyCheck {
  readonly verified: Verified;
  /** Request headers by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The body's bytes, decoded and checked. Throws (at the end) XAmzContentSHA256Mismatch,
 * BadDigest (Content-MD5, or an x-amz-checksum-* header or trailer), SignatureDoesNotMatch
 * (a chunk), IncompleteBody.
 */
export async function* verifiedBody(source: AsyncIterable<Buffer>, o: BodyCheck): AsyncGenerator<Buffer> {
  const p = o.verified.payload;
  const trailers = new Map<string, string>();
  const sha = p.kind === 'sha256' ? createHash('sha256') : undefined;
  const md5Header = o.headers['content-md5'];
  const md5 = md5Header ? createHash('md5') : undefined;
  const sums = new Map<string, { alg: string; sum: Checksummer; fromTrailer: boolean }>();
  for (const [h, v] of Object.entries(o.headers)) {
    const alg = checksumAlgorithmOfHeader(h);
    if (alg && v) sums.set(h, { alg, sum: createChecksummer(alg), fromTrailer: false });
  }
  const declaredTrailer = (o.headers['x-amz-trailer'] ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);
  for (const h of declaredTrailer) {
    const alg = checksumAlgorithmOfHeader(h);
    if (!alg) throw new S3Error('InvalidRequest', `x-amz-trailer names an unsupported trailer "${h}"`);
    sums.set(h, { alg, sum: createChecksummer(alg), fromTrailer: true });
  }
  const bytes = p.kind === 'chunked' ? decodeChunked(source, { signed: p.signed, trailer: p.trailer, verified: o.verified }, trailers) : source;
  let size = 0;
  for await (const chunk of bytes) {
    size += chunk.length;
    sha?.update(chunk);
    md5?.update(chunk);
    for (const s of sums.values()) s.sum.update(chunk);
    yield chunk;
  }
  const decoded = o.headers['x-amz-decoded-content-length'];
  if (p.kind === 'chunked' && decoded !== undefined && Number(decoded) !== size) {
    throw new S3Error('IncompleteBody', `the body decoded to ${size} bytes, x-amz-decoded-content-length says ${decoded}`);
  }
  if (sha && sha.digest('hex') !== (p as { sha256: string }).sha256) {
    throw new S3Error('XAmzContentSHA256Mismatch', 'the provided x-amz-content-sha256 does not match what was computed');
  }
  if (md5 && md5.digest('base64') !== md5Header) throw new S3Error('BadDigest', 'the Content-MD5 you specified did not match what we received');
  for (const [h, s] of sums) {
    const expected = s.fromTrailer ? trailers.get(h) : o.headers[h];
    if (expected === undefined) throw new S3Error('InvalidRequest', `the trailer ${h} that x-amz-trailer announced was not sent`);
    if (s.sum.digest() !== expected) throw new S3Error('BadDigest', `the ${s.alg.toUpperCase()} you specified did not match the calculated checksum`);
  }
}
