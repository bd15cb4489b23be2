/**
 * A lean PutObject for small objects on path-style endpoints (Ceph, MinIO, other on-prem
 * S3): one SigV4-signed HTTP request on the client's own keep-alive agents. The SDK's
 * generic request pipeline costs ~1 ms of CPU per request; this costs a few tens of
 * microseconds (one SHA-256 of the canonical request, one HMAC with a signing key cached
 * per day), which on a machine shared with the storage server is small-file throughput.
 * Same semantics as the SDK call it replaces: Content-MD5 validated by the server,
 * UNSIGNED-PAYLOAD signature (every signed header and every x-amz-* header in the
 * signature), credentials from the client's own provider chain (refreshed when they
 * expire), errors shaped like SDK errors for mapS3Error.
 */
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { S3Client } from '@aws-sdk/client-s3';
import { amzDate, ALGORITHM, encodeSegment, signHex, signingKey, stringToSign, UNSIGNED_PAYLOAD } from '../../lib/sigv4.js';
import { clientAgents } from './client.js';

export interface FastPutRequest {
  readonly key: string;
  readonly body: Buffer;
  readonly md5Base64: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

/** An SDK-shaped error, so the one mapping in errors.ts applies. */
class FastPutError extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(code: string, status: number) {
    super(code);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
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

export class FastPut {
  private readonly base: URL;
  private readonly basePath: string;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly send: typeof httpRequest;
  private readonly port: number;
  private readonly idleTimeoutMs: number;
  private identity: Identity | undefined;
  private key: { day: string; secret: string; key: Buffer } | undefined;
  /** Requests in flight and when each last made progress, for the watchdog. */
  private readonly inflight = new Map<ClientRequest, number>();
  private watchdog: NodeJS.Timeout | undefined;

  private constructor(
    private readonly client: S3Client,
    endpoint: string,
    private readonly region: string,
    private readonly bucket: string,
  ) {
    this.base = new URL(endpoint);
    this.basePath = `${this.base.pathname.replace(/\/+$/, '')}/${encodeSegment(bucket)}/`;
    const agents = clientAgents.get(client)!;
    const https = this.base.protocol === 'https:';
    this.agent = https ? agents.https : agents.http;
    this.send = https ? (httpsRequest as typeof httpRequest) : httpRequest;
    this.port = Number(this.base.port) || (https ? 443 : 80);
    this.idleTimeoutMs = agents.idleTimeoutMs;
  }

  /**
   * One timer for all requests instead of a socket timeout and an abort listener armed per
   * request (which cost as much CPU as the rest of a small PUT): a request without
   * progress for the idle timeout fails with ETIMEDOUT, as the SDK's requests do.
   */
  private watch(req: ClientRequest): void {
    this.inflight.set(req, Date.now());
    this.watchdog ??= setInterval(
      () => {
        const stale = Date.now() - this.idleTimeoutMs;
        for (const [r, at] of this.inflight) if (at < stale) r.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' }));
        if (this.inflight.size === 0) {
          clearInterval(this.watchdog);
          this.watchdog = undefined;
        }
      },
      Math.max(50, Math.min(5_000, this.idleTimeoutMs / 10)),
    ).unref();
  }

  /** Only for custom endpoints with path-style addressing; undefined otherwise. */
  static for(client: S3Client, endpoint: string | undefined, forcePathStyle: boolean, region: string, bucket: string): FastPut | undefined {
    if (!endpoint || !forcePathStyle || !clientAgents.has(client) || process.env.HYBRIDSYNC_NO_FAST_PUT) return undefined;
    return new FastPut(client, endpoint, region, bucket);
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

  async put(r: FastPutRequest): Promise<string | undefined> {
    const id = await this.credentials();
    const path = this.basePath + r.key.split('/').map(encodeSegment).join('/');
    const date = amzDate(Date.now());
    const day = date.slice(0, 8);
    const headers: Record<string, string> = {
      ...r.headers,
      host: this.base.host,
      'content-length': String(r.body.length),
      'content-md5': r.md5Base64,
      'x-amz-content-sha256': UNSIGNED_PAYLOAD,
      'x-amz-date': date,
    };
    if (id.sessionToken) headers['x-amz-security-token'] = id.sessionToken;
    const names = Object.keys(headers).sort();
    let canonicalHeaders = '';
    for (const n of names) canonicalHeaders += `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`;
    const signed = names.join(';');
    const scope = `${day}/${this.region}/s3/aws4_request`;
    const canonical = `PUT\n${path}\n\n${canonicalHeaders}\n${signed}\n${UNSIGNED_PAYLOAD}`;
    const signature = signHex(this.signingKey(day, id.secretAccessKey), stringToSign(date, scope, canonical));
    headers.authorization = `${ALGORITHM} Credential=${id.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`;
    r.signal?.throwIfAborted();
    return new Promise<string | undefined>((resolve, reject) => {
      const signal = r.signal;
      const onAbort = (): void => void req.destroy(signal!.reason as Error);
      const settle = <T>(f: (v: T) => void) => (v: T): void => {
        this.inflight.delete(req);
        signal?.removeEventListener('abort', onAbort);
        f(v);
      };
      resolve = settle(resolve);
      reject = settle(reject);
      const req = this.send(
        { method: 'PUT', host: this.base.hostname, port: this.port, path, headers, agent: this.agent },
        (res: IncomingMessage) => {
          this.inflight.set(req, Date.now());
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            res.resume();
            res.on('error', reject);
            res.on('end', () => resolve(typeof res.headers.etag === 'string' ? res.headers.etag : undefined));
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const code = /<Code>([^<]+)<\/Code>/.exec(Buffer.concat(chunks).toString('utf8'))?.[1] ?? (status === 404 ? 'NotFound' : `Http${status}`);
            reject(new FastPutError(code, status));
          });
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.watch(req);
      req.on('error', reject);
      req.end(r.body);
    });
  }
}
