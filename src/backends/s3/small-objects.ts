/**
 * Lean requests for small objects on path-style endpoints (Ceph, MinIO, other on-prem S3):
 * a PUT, a GET and a HEAD each one SigV4-signed request on connections of its own (http1.ts). The
 * SDK's generic request pipeline costs ~1 ms of CPU per request and node:http ~0.3 ms;
 * these cost a small part of that (one SHA-256 of the canonical request, one HMAC with a
 * signing key cached per day, one writev), which on a machine shared with the storage
 * server is small-file throughput. Same semantics as the SDK calls they replace: the PUT's
 * Content-MD5 validated by the server, UNSIGNED-PAYLOAD signatures (every header sent is
 * signed), the client's credentials (its provider chain, refreshed before they expire),
 * TLS settings and idle timeout, errors shaped like SDK errors for mapS3Error.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { amzDate, ALGORITHM, encodeSegment, signHex, signingKey, stringToSign, UNSIGNED_PAYLOAD } from '../../lib/sigv4.js';
import { clientTransports } from './client.js';
import { Http1Pool, type Http1Response, type RequestOptions } from './http1.js';

export interface SmallPutRequest {
  readonly key: string;
  readonly body: Buffer;
  readonly md5Base64: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

export interface SmallGetRequest {
  readonly key: string;
  /** The size the caller expects: the largest body accepted. */
  readonly size: number;
  /** Only this version (its ETag, unquoted): a changed object answers 412. */
  readonly ifMatch?: string;
  readonly signal?: AbortSignal;
}

/** An SDK-shaped error, so the one mapping in errors.ts applies. */
class SmallObjectError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly StorageClass?: string;
  constructor(code: string, status: number, storageClass?: string) {
    super(code);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    if (storageClass) this.StorageClass = storageClass;
  }
}

interface Identity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Credentials this long before their expiry are fetched again. */
const REFRESH_BEFORE_MS = 5 * 60 * 1000;

/** One pool of connections per client and origin, shared by the backends on that client. */
const pools = new WeakMap<S3Client, Map<string, Http1Pool>>();

/** Closes the small-object connections of a client (the backend's close()). */
export function closeSmallObjects(client: S3Client): void {
  for (const p of pools.get(client)?.values() ?? []) p.close();
  pools.delete(client);
}

export class SmallObjects {
  private readonly base: URL;
  private readonly basePath: string;
  private readonly pool: Http1Pool;
  private identity: Identity | undefined;
  private key: { day: string; secret: string; key: Buffer } | undefined;

  private constructor(
    private readonly client: S3Client,
    endpoint: string,
    private readonly region: string,
    bucket: string,
  ) {
    this.base = new URL(endpoint);
    this.basePath = `${this.base.pathname.replace(/\/+$/, '')}/${encodeSegment(bucket)}/`;
    const byOrigin = pools.get(client) ?? new Map<string, Http1Pool>();
    pools.set(client, byOrigin);
    let pool = byOrigin.get(this.base.origin);
    if (!pool) {
      const t = clientTransports.get(client)!;
      pool = new Http1Pool({ origin: this.base, maxSockets: t.maxSockets, idleTimeoutMs: t.idleTimeoutMs, connectTimeoutMs: t.connectTimeoutMs, tls: t.tls });
      byOrigin.set(this.base.origin, pool);
    }
    this.pool = pool;
  }

  /** Only for custom endpoints with path-style addressing; undefined otherwise. */
  static for(client: S3Client, endpoint: string | undefined, forcePathStyle: boolean, region: string, bucket: string): SmallObjects | undefined {
    if (!endpoint || !forcePathStyle || !clientTransports.has(client) || process.env.HYBRIDSYNC_NO_FAST_PUT) return undefined;
    return new SmallObjects(client, endpoint, region, bucket);
  }

  /** Stores the object; resolves with the ETag header as sent (quoted), if any. */
  async put(r: SmallPutRequest): Promise<string | undefined> {
    const headers: Record<string, string> = { ...r.headers, 'content-length': String(r.body.length), 'content-md5': r.md5Base64 };
    const res = await this.send('PUT', r.key, headers, r.body, r.signal ? { signal: r.signal } : {});
    return res.headers.get('etag');
  }

  /** The whole object: its bytes and the response headers (ETag, Content-Length). */
  async get(r: SmallGetRequest): Promise<Http1Response> {
    const headers: Record<string, string> = r.ifMatch ? { 'if-match': `"${r.ifMatch}"` } : {};
    return this.send('GET', r.key, headers, undefined, { maxBody: Math.max(r.size, 1 << 20), ...(r.signal ? { signal: r.signal } : {}) });
  }

  /** The object's response headers (HEAD); a missing object rejects as the SDK's HeadObject does (NotFound, 404). */
  async head(key: string, signal?: AbortSignal): Promise<ReadonlyMap<string, string>> {
    return (await this.send('HEAD', key, {}, undefined, { noBody: true, ...(signal ? { signal } : {}) })).headers;
  }

  private async credentials(): Promise<Identity> {
    const id = this.identity;
    if (id && (!id.expiration || id.expiration.getTime() - Date.now() > REFRESH_BEFORE_MS)) return id;
    const provider = this.client.config.credentials as () => Promise<Identity>;
    this.identity = await provider();
    return this.identity;
  }

  private signingKey(day: string, secret: string): Buffer {
    if (this.key?.day !== day || this.key.secret !== secret) this.key = { day, secret, key: signingKey(secret, day, this.region, 's3') };
    return this.key.key;
  }

  /** One signed request; a non-2xx answer rejects with an SDK-shaped error (its S3 code). */
  private async send(method: 'PUT' | 'GET' | 'HEAD', key: string, extra: Record<string, string>, body: Buffer | undefined, o: RequestOptions): Promise<Http1Response> {
    const id = await this.credentials();
    const path = this.basePath + key.split('/').map(encodeSegment).join('/');
    const date = amzDate(Date.now());
    const day = date.slice(0, 8);
    const headers: Record<string, string> = { ...extra, host: this.base.host, 'x-amz-content-sha256': UNSIGNED_PAYLOAD, 'x-amz-date': date };
    if (id.sessionToken) headers['x-amz-security-token'] = id.sessionToken;
    const names = Object.keys(headers).sort();
    let canonicalHeaders = '';
    let head = `${method} ${path} HTTP/1.1\r\n`;
    for (const n of names) {
      const v = Http1Pool.headerValue(n, headers[n]!);
      canonicalHeaders += `${n}:${v.trim().replace(/\s+/g, ' ')}\n`;
      head += `${n}: ${v}\r\n`;
    }
    const signed = names.join(';');
    const scope = `${day}/${this.region}/s3/aws4_request`;
    const canonical = `${method}\n${path}\n\n${canonicalHeaders}\n${signed}\n${UNSIGNED_PAYLOAD}`;
    const signature = signHex(this.signingKey(day, id.secretAccessKey), stringToSign(date, scope, canonical));
    head += `authorization: ${ALGORITHM} Credential=${id.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}\r\n\r\n`;
    const res = await this.pool.request(head, body, o);
    if (res.status >= 200 && res.status < 300) return res;
    const xml = res.body.toString('utf8');
    const code = /<Code>([^<]+)<\/Code>/.exec(xml)?.[1] ?? (res.status === 404 ? 'NotFound' : res.status === 412 ? 'PreconditionFailed' : `Http${res.status}`);
    throw new SmallObjectError(code, res.status, /<StorageClass>([^<]+)<\/StorageClass>/.exec(xml)?.[1]);
  }
}
