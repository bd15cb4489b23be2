/**
 * The gateway's S3 endpoint (hono on Node's HTTP server): request routing (path-style and
 * virtual-host style), SigV4 checks, the S3 operations over GatewayCore, S3 XML responses
 * and errors, and the admin API under the reserved path /_hybridsync/ (no S3 bucket can
 * be named so: '_' is not allowed in bucket names). The admin API needs the admin token
 * and keeps the daemon's rules against other web sites (same-origin.ts): a foreign Host is
 * refused, cross-origin state changes too. HTTP statuses of S3 errors come from errors.ts.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { crossOriginReason, hostAllowed, type ServedAddress } from '../server/same-origin.js';
import { verifiedBody } from './body.js';
import type { EntryRow } from './cache-index.js';
import { errorXml, S3Error, s3ErrorOf } from './errors.js';
import type { ConflictWinner } from './conflicts.js';
import type { GatewayCore, ObjectWrite, PreloadRequest } from './gateway.js';
import { hasAuth, uriEncode, verifyRequest, type SignedRequest, type Verified } from './auth/sigv4.js';
import { doc, el, elements, text } from './xml.js';

export const ADMIN_PREFIX = '/_hybridsync/';

export interface AdminHandlers {
  status(): unknown;
  metrics(): Promise<string>;
  /** With `wait`: resolves when everything written before the call is in the cloud; else starts the uploads now. */
  flush(signal: AbortSignal, wait: boolean): Promise<unknown>;
  refresh(prefix: string): Promise<unknown>;
  release(prefix: string): Promise<unknown>;
  /** Streams NDJSON progress lines, the last one the result. */
  preload(req: PreloadRequest, signal: AbortSignal): AsyncIterable<string>;
  /** Settles a write held as a conflict with the cloud: keep the gateway's write or the cloud's version. RangeError when there is none. */
  resolve(key: string, keep: ConflictWinner): Promise<unknown>;
}

export interface S3AppOptions {
  readonly core: GatewayCore;
  /** The one bucket name the gateway serves. */
  readonly bucket: string;
  readonly region: string;
  /** Access key id → secret. */
  readonly keys: ReadonlyMap<string, string>;
  readonly adminToken: string;
  readonly admin: AdminHandlers;
  readonly served: () => ServedAddress | undefined;
  readonly createdAt: Date;
}

interface Req {
  readonly method: string;
  readonly key: string;
  readonly bucket: string | undefined;
  readonly query: Map<string, string>;
  readonly headers: Record<string, string>;
  readonly signed: SignedRequest;
  readonly incoming: IncomingMessage;
  readonly signal: AbortSignal;
}

const xmlHeaders = { 'content-type': 'application/xml' };

function splitTarget(target: string): { rawPath: string; rawQuery: string } {
  const q = target.indexOf('?');
  return q < 0 ? { rawPath: target, rawQuery: '' } : { rawPath: target.slice(0, q), rawQuery: target.slice(q + 1) };
}

function decodeQueryPart(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new S3Error('InvalidArgument', `malformed query string component "${s.slice(0, 80)}"`);
  }
}

function parseQuery(raw: string): Array<[string, string]> {
  if (!raw) return [];
  return raw
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? [decodeQueryPart(p), ''] : [decodeQueryPart(p.slice(0, i)), decodeQueryPart(p.slice(i + 1))];
    });
}

function headersOf(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => (out[k.toLowerCase()] = v));
  return out;
}

const httpDate = (ms: number): string => new Date(ms).toUTCString();
const isoDate = (ms: number): string => new Date(Math.floor(ms)).toISOString().replace(/\.\d{3}Z$/, '.000Z');

function userMetadata(h: Record<string, string>): Record<string, string> {
  const m: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith('x-amz-meta-')) m[k.slice(11)] = v;
  return m;
}

/** The object's headers (HEAD and GET). */
function objectHeaders(e: EntryRow, writeBack: string | undefined): Record<string, string> {
  const h: Record<string, string> = {
    etag: `"${e.etag}"`,
    'last-modified': httpDate(e.mtimeMs),
    'accept-ranges': 'bytes',
    'content-type': e.contentType ?? 'application/octet-stream',
  };
  for (const [k, v] of Object.entries(e.metadata ?? {})) if (/^[a-z0-9-]+$/.test(k) && !/[\r\n]/.test(v)) h[`x-amz-meta-${k}`] = v;
  if (e.storageClass && e.storageClass !== 'STANDARD') h['x-amz-storage-class'] = e.storageClass;
  // not yet in the cloud: 'pending', or 'denied' by the classification policy
  if (writeBack) h['x-hybridsync-writeback'] = writeBack;
  return h;
}

/** `bytes=a-b` → [start, end) of `size`; undefined for no (or a multi-) range; InvalidRange when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): [number, number] | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) throw new S3Error('InvalidRange', 'the requested range is not satisfiable', { RangeRequested: header, ActualObjectSize: String(size) });
    start = Math.max(0, size - n);
    end = size;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size) throw new S3Error('InvalidRange', 'the requested range is not satisfiable', { RangeRequested: header, ActualObjectSize: String(size) });
  return [start, end];
}

/** `x-amz-copy-source-range: bytes=first-last` → [start, end) of `size`; the whole object without one. */
export function copyRange(header: string | undefined, size: number): [number, number] {
  if (header === undefined) return [0, size];
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!m) throw new S3Error('InvalidArgument', `x-amz-copy-source-range "${header}" must be bytes=first-last (zero-based, inclusive)`);
  const start = Number(m[1]);
  const last = Number(m[2]);
  if (last < start) throw new S3Error('InvalidArgument', `x-amz-copy-source-range "${header}": the last byte is before the first`);
  if (last >= size) throw new S3Error('InvalidRange', `x-amz-copy-source-range "${header}" is beyond the source object's ${size} bytes`, { RangeRequested: header, ActualObjectSize: String(size) });
  return [start, last + 1];
}

/** The x-amz-copy-source-if-* conditions of a copy: PreconditionFailed when one does not hold. */
export function copyPreconditions(h: Record<string, string>, e: Pick<EntryRow, 'etag' | 'mtimeMs'>): void {
  const etagIn = (list: string): boolean => list.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '').replace(/"/g, '') === e.etag);
  const date = (name: string): number | undefined => {
    const v = h[name];
    if (v === undefined) return undefined;
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : undefined;
  };
  const ifMatch = h['x-amz-copy-source-if-match'];
  const ifNoneMatch = h['x-amz-copy-source-if-none-match'];
  const since = date('x-amz-copy-source-if-modified-since');
  const unmodified = date('x-amz-copy-source-if-unmodified-since');
  const mtime = Math.floor(e.mtimeMs / 1000) * 1000;
  // as S3: a matching If-Match overrides a failing If-Unmodified-Since, a failing If-None-Match wins over If-Modified-Since
  const ok =
    (ifMatch !== undefined ? etagIn(ifMatch) : unmodified === undefined || mtime <= unmodified) &&
    (ifNoneMatch !== undefined ? !etagIn(ifNoneMatch) : since === undefined || mtime > since);
  if (!ok) throw new S3Error('PreconditionFailed', 'at least one of the pre-conditions you specified did not hold', { Condition: 'x-amz-copy-source-If-*' });
}

/** The body of POST /_hybridsync/preload, checked: `prefix`, `keys` or `items`; `listFirst`, `concurrency`. */
export function parsePreloadRequest(v: unknown): PreloadRequest {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('the body must be a JSON object');
  const r = v as Record<string, unknown>;
  const str = (k: string): string | undefined => {
    if (r[k] === undefined) return undefined;
    if (typeof r[k] !== 'string') throw new TypeError(`${k} must be a string`);
    return r[k];
  };
  const prefix = str('prefix');
  const listFirst = str('listFirst');
  const concurrency = r.concurrency;
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && (concurrency as number) >= 1 && (concurrency as number) <= 256)) throw new TypeError('concurrency must be an integer from 1 to 256');
  const list = (k: string): unknown[] | undefined => {
    if (r[k] === undefined) return undefined;
    if (!Array.isArray(r[k])) throw new TypeError(`${k} must be an array`);
    return r[k];
  };
  const keys = list('keys');
  const rawItems = list('items');
  if ([prefix, keys, rawItems].filter((x) => x !== undefined).length > 1) throw new TypeError('give one of prefix, keys and items');
  const items = (rawItems ?? keys?.map((key) => ({ key })))?.map((it, i) => {
    const x = it as Record<string, unknown>;
    if (typeof x?.key !== 'string' || x.key === '') throw new TypeError(`item ${i}: key must be a non-empty string`);
    if (x.md5 !== undefined && (typeof x.md5 !== 'string' || !/^[0-9a-f]{32}$/.test(x.md5))) throw new TypeError(`item ${i} (${x.key}): md5 must be 32 lower-case hex digits`);
    if (x.size !== undefined && !(Number.isSafeInteger(x.size) && (x.size as number) >= 0)) throw new TypeError(`item ${i} (${x.key}): size must be a byte count`);
    return { key: x.key, ...(x.md5 !== undefined ? { md5: x.md5 as string } : {}), ...(x.size !== undefined ? { size: x.size as number } : {}) };
  });
  return { ...(items ? { items } : { prefix: prefix ?? '' }), ...(listFirst !== undefined ? { listFirst } : {}), ...(concurrency !== undefined ? { concurrency: concurrency as number } : {}) };
}

async function collect(body: AsyncIterable<Buffer>, limit = 2 * 1024 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > limit) throw new S3Error('MalformedXML', 'the request document is too large');
    parts.push(c);
  }
  return Buffer.concat(parts).toString('utf8');
}

function declaredSize(h: Record<string, string>, v: Verified): number | undefined {
  const raw = v.payload.kind === 'chunked' ? h['x-amz-decoded-content-length'] : h['content-length'];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new S3Error('InvalidArgument', `bad content length "${raw}"`);
  return n;
}

export function createS3App(o: S3AppOptions): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  const core = o.core;

  const fail = (err: unknown, resource: string, method: string): Response => {
    const e = s3ErrorOf(err);
    const id = randomBytes(8).toString('hex').toUpperCase();
    const headers: Record<string, string> = { ...xmlHeaders, 'x-amz-request-id': id };
    if (e.code === 'InvalidRange' && e.extra.ActualObjectSize) headers['content-range'] = `bytes */${e.extra.ActualObjectSize}`;
    if (e.code === 'SlowDown' || e.code === 'ServiceUnavailable') headers['retry-after'] = String((e as { retryAfterSeconds?: number }).retryAfterSeconds ?? 1);
    return new Response(method === 'HEAD' ? null : errorXml(e, resource, id), { status: e.status, headers });
  };

  const body = (r: Req, v: Verified): AsyncIterable<Buffer> => verifiedBody(r.incoming as AsyncIterable<Buffer>, { verified: v, headers: r.headers });

  const writeOf = (r: Req, v: Verified): ObjectWrite => {
    const size = declaredSize(r.headers, v);
    return { ...(r.headers['content-type'] ? { contentType: r.headers['content-type'] } : {}), metadata: userMetadata(r.headers), ...(size !== undefined ? { size } : {}) };
  };

  const writeBackOf = (key: string): string | undefined => {
    const j = core.index.journalRow(key);
    return j?.op === 'put' ? j.status : undefined;
  };

  // ------------------------------------------------------------- bucket level

  const listObjects = async (r: Req, v2: boolean): Promise<Response> => {
    const q = r.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') || undefined;
    const maxKeys = Math.min(1000, Math.max(0, Number(q.get('max-keys') ?? 1000) || (q.get('max-keys') === '0' ? 0 : 1000)));
    const url = q.get('encoding-type') === 'url';
    const enc = (s: string): string => (url ? uriEncode(s, true) : s);
    let after: string | undefined;
    if (v2) {
      const token = q.get('continuation-token');
      if (token !== undefined) {
        after = Buffer.from(token, 'base64url').toString('utf8');
        if (!after) throw new S3Error('InvalidArgument', 'the continuation token provided is incorrect');
      } else after = q.get('start-after') || undefined;
    } else after = q.get('marker') || undefined;
    const page = maxKeys === 0 ? { contents: [], commonPrefixes: [], isTruncated: false } : await core.list({ prefix, ...(delimiter ? { delimiter } : {}), ...(after !== undefined ? { after } : {}), maxKeys, signal: r.signal });
    const items = page.contents
      .map(
        (e) =>
          `<Contents>${el('Key', enc(e.key))}${el('LastModified', isoDate(e.mtimeMs))}${el('ETag', `"${e.etag}"`)}${el('Size', e.size)}${el('StorageClass', e.storageClass ?? 'STANDARD')}</Contents>`,
      )
      .join('');
    const prefixes = page.commonPrefixes.map((p) => `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`).join('');
    let head = `${el('Name', o.bucket)}${el('Prefix', enc(prefix))}`;
    if (v2) {
      head += `${el('KeyCount', page.contents.length + page.commonPrefixes.length)}${el('MaxKeys', maxKeys)}`;
      if (q.has('continuation-token')) head += el('ContinuationToken', q.get('continuation-token')!);
      if (q.has('start-after')) head += el('StartAfter', enc(q.get('start-after')!));
    } else head += `${el('Marker', enc(q.get('marker') ?? ''))}${el('MaxKeys', maxKeys)}`;
    if (delimiter) head += el('Delimiter', enc(delimiter));
    if (url) head += el('EncodingType', 'url');
    head += el('IsTruncated', page.isTruncated);
    if (page.isTruncated && 'last' in page && page.last !== undefined) {
      head += v2 ? el('NextContinuationToken', Buffer.from(page.last, 'utf8').toString('base64url')) : el('NextMarker', enc(page.last));
    }
    return new Response(doc('ListBucketResult', head + items + prefixes), { headers: xmlHeaders });
  };

  const deleteObjects = async (r: Req, v: Verified): Promise<Response> => {
    const xml = await collect(body(r, v));
    const quiet = text(xml, 'Quiet') === 'true';
    const keys = elements(xml, 'Object').map((x) => text(x, 'Key'));
    if (keys.length > 1000) throw new S3Error('MalformedXML', 'at most 1000 keys per DeleteObjects request');
    let out = '';
    for (const k of keys) {
      if (k === undefined) throw new S3Error('MalformedXML', 'an Object element has no Key');
      try {
        await core.delete(k);
        if (!quiet) out += `<Deleted>${el('Key', k)}</Deleted>`;
      } catch (err) {
        const e = s3ErrorOf(err);
        out += `<Error>${el('Key', k)}${el('Code', e.code)}${el('Message', e.message)}</Error>`;
      }
    }
    return new Response(doc('DeleteResult', out), { headers: xmlHeaders });
  };

  const listUploads = (): Response => {
    const ups = core.index
      .uploads()
      .map((u) => `<Upload>${el('Key', u.key)}${el('UploadId', u.id)}${el('Initiated', isoDate(u.createdMs))}${el('StorageClass', 'STANDARD')}</Upload>`)
      .join('');
    return new Response(doc('ListMultipartUploadsResult', `${el('Bucket', o.bucket)}${el('IsTruncated', false)}${ups}`), { headers: xmlHeaders });
  };

  const bucketOp = async (r: Req, v: Verified): Promise<Response> => {
    const q = r.query;
    switch (r.method) {
      case 'HEAD':
        return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': o.region } });
      case 'GET':
        if (q.has('location')) return new Response(doc('LocationConstraint', '').replace('></LocationConstraint>', `>${o.region === 'us-east-1' ? '' : o.region}</LocationConstraint>`), { headers: xmlHeaders });
        if (q.has('uploads')) return listUploads();
        if (q.has('versioning')) return new Response(doc('VersioningConfiguration', ''), { headers: xmlHeaders });
        for (const sub of ['acl', 'policy', 'lifecycle', 'cors', 'tagging', 'website', 'replication', 'encryption', 'object-lock', 'versions']) {
          if (q.has(sub)) throw new S3Error('NotImplemented', `the gateway does not implement bucket ?${sub}`);
        }
        return listObjects(r, q.get('list-type') === '2');
      case 'PUT':
        throw new S3Error('BucketAlreadyOwnedByYou', `the gateway serves bucket ${o.bucket}; it already exists`);
      case 'POST':
        if (q.has('delete')) return deleteObjects(r, v);
        throw new S3Error('NotImplemented', 'unsupported bucket POST');
      case 'DELETE':
        throw new S3Error('MethodNotAllowed', 'the gateway does not delete its bucket');
      default:
        throw new S3Error('MethodNotAllowed', `${r.method} is not allowed on a bucket`);
    }
  };

  // ------------------------------------------------------------- object level

  const getObject = async (r: Req): Promise<Response> => {
    const e = await core.lookup(r.key, r.signal);
    if (!e) throw new S3Error('NoSuchKey', 'the specified key does not exist', { Key: r.key });
    const inm = r.headers['if-none-match'];
    if (inm && inm.replace(/"/g, '') === e.etag) return new Response(null, { status: 304, headers: { etag: `"${e.etag}"` } });
    const im = r.headers['if-match'];
    if (im && im !== '*' && im.replace(/"/g, '') !== e.etag) throw new S3Error('PreconditionFailed', 'at least one of the preconditions you specified did not hold');
    const headers = objectHeaders(e, writeBackOf(e.key));
    const range = e.size > 0 ? parseRange(r.headers.range, e.size) : undefined;
    const [start, end] = range ?? [0, e.size];
    headers['content-length'] = String(end - start);
    if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${e.size}`;
    if (r.method === 'HEAD') return new Response(null, { status: range ? 206 : 200, headers });
    const gen = core.read(e, start, end, r.signal);
    // the first chunk is read here, so an upstream failure is still an S3 error, not a cut body
    const first = await gen.next();
    async function* rest(): AsyncGenerator<Buffer> {
      if (!first.done) yield first.value;
      yield* gen;
    }
    const stream = Readable.toWeb(Readable.from(rest())) as ReadableStream;
    return new Response(stream, { status: range ? 206 : 200, headers });
  };

  /** The object `x-amz-copy-source` names (`bucket/key`, URL-encoded, `?versionId=null` at most). */
  const copySource = async (r: Req): Promise<EntryRow> => {
    let src = r.headers['x-amz-copy-source']!;
    const q = src.indexOf('?');
    if (q >= 0) {
      const version = new URLSearchParams(src.slice(q + 1)).get('versionId');
      if (version !== null && version !== 'null') throw new S3Error('InvalidArgument', 'the gateway keeps no object versions: a copy source with a versionId cannot be served');
      src = src.slice(0, q);
    }
    try {
      src = decodeURIComponent(src);
    } catch {
      throw new S3Error('InvalidArgument', 'x-amz-copy-source is not URL-encoded correctly');
    }
    src = src.replace(/^\/+/, '');
    const i = src.indexOf('/');
    const bucket = i < 0 ? src : src.slice(0, i);
    if (bucket !== o.bucket) throw new S3Error('NoSuchBucket', `the gateway serves only bucket ${o.bucket}`, { BucketName: bucket });
    const key = i < 0 ? '' : src.slice(i + 1);
    const e = key ? await core.lookup(key, r.signal) : undefined;
    if (!e) throw new S3Error('NoSuchKey', 'the specified copy source does not exist', { Key: key });
    copyPreconditions(r.headers, e);
    return e;
  };

  const copyObject = async (r: Req): Promise<Response> => {
    if (r.headers['x-amz-copy-source-range']) throw new S3Error('InvalidArgument', 'x-amz-copy-source-range applies to UploadPartCopy only, not to CopyObject');
    const e = await copySource(r);
    const replace = (r.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase() === 'REPLACE';
    if (e.key === r.key && !replace) throw new S3Error('InvalidRequest', 'this copy request is illegal because it is trying to copy an object to itself without changing the metadata');
    const w: ObjectWrite = replace
      ? { ...(r.headers['content-type'] ? { contentType: r.headers['content-type'] } : {}), metadata: userMetadata(r.headers), size: e.size }
      : { ...(e.contentType ? { contentType: e.contentType } : {}), metadata: { ...e.metadata }, size: e.size };
    const row = await core.put(r.key, core.read(e, 0, e.size, r.signal), w);
    return new Response(doc('CopyObjectResult', `${el('LastModified', isoDate(row.mtimeMs))}${el('ETag', `"${row.etag}"`)}`), { headers: xmlHeaders });
  };

  /** UploadPartCopy: a part of an open multipart upload from (a byte range of) an object. */
  const uploadPartCopy = async (r: Req, uploadId: string): Promise<Response> => {
    core.requireUpload(uploadId, r.key);
    const e = await copySource(r);
    const [start, end] = copyRange(r.headers['x-amz-copy-source-range'], e.size);
    const etag = await core.uploadPart(uploadId, r.key, Number(r.query.get('partNumber')), core.read(e, start, end, r.signal), end - start);
    return new Response(doc('CopyPartResult', `${el('LastModified', isoDate(Date.now()))}${el('ETag', `"${etag}"`)}`), { headers: xmlHeaders });
  };

  /** GetObjectTagging: the upstream object's tags (aws-cli asks before a multipart copy); none for a write not yet uploaded. */
  const getTagging = async (r: Req): Promise<Response> => {
    const e = await core.lookup(r.key, r.signal);
    if (!e) throw new S3Error('NoSuchKey', 'the specified key does not exist', { Key: r.key });
    const tags = Object.entries(await core.tags(e, r.signal))
      .map(([k, v]) => `<Tag>${el('Key', k)}${el('Value', v)}</Tag>`)
      .join('');
    return new Response(doc('Tagging', `<TagSet>${tags}</TagSet>`), { headers: xmlHeaders });
  };

  const objectOp = async (r: Req, v: Verified): Promise<Response> => {
    const q = r.query;
    const uploadId = q.get('uploadId');
    switch (r.method) {
      case 'GET':
        if (uploadId !== undefined) {
          const parts = core
            .listParts(uploadId, r.key)
            .map((p) => `<Part>${el('PartNumber', p.part)}${el('ETag', `"${p.etag}"`)}${el('Size', p.size)}</Part>`)
            .join('');
          return new Response(doc('ListPartsResult', `${el('Bucket', o.bucket)}${el('Key', r.key)}${el('UploadId', uploadId)}${el('IsTruncated', false)}${parts}`), { headers: xmlHeaders });
        }
        if (q.has('tagging')) return getTagging(r);
        if (q.has('acl')) throw new S3Error('NotImplemented', 'the gateway does not implement ACLs');
        return getObject(r);
      case 'HEAD':
        return getObject(r);
      case 'PUT': {
        if (uploadId !== undefined) {
          if (r.headers['x-amz-copy-source']) return uploadPartCopy(r, uploadId);
          const etag = await core.uploadPart(uploadId, r.key, Number(q.get('partNumber')), body(r, v), declaredSize(r.headers, v));
          return new Response(null, { status: 200, headers: { etag: `"${etag}"` } });
        }
        if (r.headers['x-amz-copy-source']) return copyObject(r);
        const row = await core.put(r.key, body(r, v), writeOf(r, v));
        return new Response(null, { status: 200, headers: { etag: `"${row.etag}"` } });
      }
      case 'POST':
        if (q.has('uploads')) {
          const id = core.createUpload(r.key, writeOf(r, v));
          return new Response(doc('InitiateMultipartUploadResult', `${el('Bucket', o.bucket)}${el('Key', r.key)}${el('UploadId', id)}`), { headers: xmlHeaders });
        }
        if (uploadId !== undefined) {
          const xml = await collect(body(r, v));
          const parts = elements(xml, 'Part').map((p) => ({ part: Number(text(p, 'PartNumber')), etag: text(p, 'ETag') ?? '' }));
          const row = await core.completeUpload(uploadId, r.key, parts);
          return new Response(doc('CompleteMultipartUploadResult', `${el('Bucket', o.bucket)}${el('Key', r.key)}${el('ETag', `"${row.etag}"`)}`), { headers: xmlHeaders });
        }
        if (q.has('restore')) throw new S3Error('NotImplemented', 'RestoreObject is not implemented by the gateway');
        throw new S3Error('NotImplemented', 'unsupported object POST');
      case 'DELETE':
        if (uploadId !== undefined) await core.abortUpload(uploadId, r.key);
        else await core.delete(r.key);
        return new Response(null, { status: 204 });
      default:
        throw new S3Error('MethodNotAllowed', `${r.method} is not allowed on an object`);
    }
  };

  // ------------------------------------------------------------------- admin

  const admin = async (c: Context<{ Bindings: HttpBindings }>, path: string): Promise<Response> => {
    const served = o.served();
    const json = (v: unknown, status = 200): Response => new Response(`${JSON.stringify(v)}\n`, { status, headers: { 'content-type': 'application/json' } });
    if (!served || !hostAllowed(c.req.header('host'), served)) return json({ error: 'foreign Host header refused' }, 421);
    const why = crossOriginReason({ origin: c.req.header('origin'), secFetchSite: c.req.header('sec-fetch-site'), host: c.req.header('host') ?? '' });
    if (why) return json({ error: why }, 403);
    const auth = c.req.header('authorization') ?? '';
    const given = Buffer.from(auth.startsWith('Bearer ') ? auth.slice(7).trim() : '');
    const want = Buffer.from(o.adminToken);
    if (given.length !== want.length || !given.equals(want)) return json({ error: 'admin token required (Authorization: Bearer …)' }, 401);
    const q = new URL(c.req.url).searchParams;
    const route = `${c.req.method} ${path}`;
    switch (route) {
      case 'GET metrics':
        return new Response(await o.admin.metrics(), { headers: { 'content-type': 'text/plain; version=0.0.4' } });
      case 'GET status':
        return json(o.admin.status());
      case 'POST flush':
        return json(await o.admin.flush(c.req.raw.signal, q.get('wait') !== '0'));
      case 'POST refresh':
        return json(await o.admin.refresh(q.get('prefix') ?? ''));
      case 'POST release':
        return json(await o.admin.release(q.get('prefix') ?? ''));
      case 'POST resolve': {
        const key = q.get('key');
        const keep = q.get('keep');
        if (!key || (keep !== 'gateway' && keep !== 'cloud')) return json({ error: 'resolve needs ?key=KEY&keep=gateway|cloud' }, 400);
        try {
          return json(await o.admin.resolve(key, keep));
        } catch (err) {
          if (err instanceof RangeError) return json({ error: err.message }, 409);
          throw err;
        }
      }
      case 'POST preload': {
        let req: PreloadRequest;
        try {
          req = parsePreloadRequest(await c.req.json());
        } catch (err) {
          return json({ error: `preload: ${(err as Error).message}` }, 400);
        }
        const lines = o.admin.preload(req, c.req.raw.signal);
        return new Response(Readable.toWeb(Readable.from(lines)) as ReadableStream, { headers: { 'content-type': 'application/x-ndjson' } });
      }
      default:
        return json({ error: `no admin route ${route}` }, 404);
    }
  };

  // ------------------------------------------------------------------ router

  app.all('*', async (c) => {
    const incoming = c.env.incoming;
    const { rawPath, rawQuery } = splitTarget(incoming.url ?? '/');
    const method = c.req.method.toUpperCase();
    const resource = rawPath;
    try {
      const host = (c.req.header('host') ?? '').toLowerCase().replace(/:\d+$/, '');
      const vhost = host.startsWith(`${o.bucket}.`);
      if (!vhost && rawPath.startsWith(ADMIN_PREFIX)) return await admin(c, rawPath.slice(ADMIN_PREFIX.length).replace(/\/$/, ''));
      const headers = headersOf(c.req.raw.headers);
      const signed: SignedRequest = { method, rawPath, query: parseQuery(rawQuery), headers };
      if (!hasAuth(signed)) throw new S3Error('AccessDenied', 'anonymous access is not allowed; sign requests with the gateway keys');
      const v = verifyRequest(signed, o.keys, o.region);
      let path: string;
      try {
        path = decodeURIComponent(rawPath);
      } catch {
        throw new S3Error('InvalidURI', `couldn't parse the specified URI: ${rawPath}`);
      }
      let bucket: string | undefined;
      let key: string;
      if (vhost) {
        bucket = o.bucket;
        key = path.replace(/^\//, '');
      } else {
        const p = path.replace(/^\//, '');
        const i = p.indexOf('/');
        bucket = i < 0 ? p || undefined : p.slice(0, i);
        key = i < 0 ? '' : p.slice(i + 1);
      }
      const ctrl = new AbortController();
      incoming.once('close', () => {
        if (!incoming.complete || c.env.outgoing?.writableFinished === false) ctrl.abort(new Error('client went away'));
      });
      const r: Req = { method, key, bucket, query: new Map(signed.query), headers, signed, incoming, signal: ctrl.signal };
      if (bucket === undefined) {
        if (method !== 'GET') throw new S3Error('MethodNotAllowed', `${method} is not allowed on the service`);
        const b = `<Bucket>${el('Name', o.bucket)}${el('CreationDate', o.createdAt.toISOString())}</Bucket>`;
        return new Response(doc('ListAllMyBucketsResult', `<Owner>${el('ID', 'hybridsync')}${el('DisplayName', 'hybridsync')}</Owner><Buckets>${b}</Buckets>`), { headers: xmlHeaders });
      }
      if (bucket !== o.bucket) throw new S3Error('NoSuchBucket', 'the specified bucket does not exist', { BucketName: bucket });
      return await (key === '' ? bucketOp(r, v) : objectOp(r, v));
    } catch (err) {
      // drain what the client is still sending, so it reads our answer instead of a reset
      if (!incoming.complete) incoming.resume();
      return fail(err, resource, method);
    }
  });
  return app;
}

