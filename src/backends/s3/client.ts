import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../core/errors.js';
import { TLS_HANDSHAKE_TIMEOUT } from './errors.js';

/**
 * SHA-256 of a request body computed by the caller (multipart parts), keyed by the body
 * buffer itself: the signer then uses it instead of hashing the body again, and the server
 * verifies the body against it (XAmzContentSHA256Mismatch otherwise). Keyed by the body,
 * not the command input: the SDK's own middleware copies the input before the build step.
 */
export const signedPayloadHash = new WeakMap<object, string>();

export interface S3ConnectionOptions {
  /** e.g. http://127.0.0.1:7480; default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style addressing; defaults to true for a custom endpoint (Ceph, MinIO). */
  readonly forcePathStyle?: boolean;
  readonly profile?: string;
  /** Explicit credentials (resolved from a remote's references); default: the SDK's chain. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /**
   * A named remote's endpoint is its own: AWS_ENDPOINT_URL(_S3) apply to s3:// URLs only,
   * and a remote without `endpoint` is AWS.
   */
  readonly ignoreEnvEndpoint?: boolean;
  /** Idle time after which a request fails (default 5 minutes, as rclone's --timeout). */
  readonly requestTimeoutMs?: number;
  /** Sockets per client; should cover transfers x multipart concurrency + checkers. */
  readonly maxSockets?: number;
  /** Minimum TLS version for https endpoints. */
  readonly tlsMinVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** PEM bundle of extra CAs (default AWS_CA_BUNDLE). */
  readonly caBundle?: string;
  /** Allow plain http to a host that is not loopback. */
  readonly allowInsecureHttp?: boolean;
}

export interface ResolvedConnection {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean;
  /** Endpoint origin, e.g. http://127.0.0.1:7480 or https://s3.us-east-1.amazonaws.com. */
  readonly origin: string;
  /** Non-secret identity of the credentials: profile name or access key id. */
  readonly account: string;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/i;

export function resolveConnection(o: S3ConnectionOptions, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const endpoint = o.endpoint ?? (o.ignoreEnvEndpoint ? undefined : (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? undefined));
  if (endpoint !== undefined) {
    let u: URL;
    try {
      u = new URL(endpoint);
    } catch {
      throw new ConfigError(`malformed S3 endpoint "${endpoint}"`, { hint: 'use a URL such as https://s3.example.com or http://127.0.0.1:7480' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new ConfigError(`S3 endpoint "${endpoint}" must use http or https`, { hint: 'use a URL such as https://s3.example.com' });
    }
    if (u.protocol === 'http:' && !LOOPBACK.test(u.hostname) && !o.allowInsecureHttp) {
      throw new ConfigError(`refusing plain http to non-loopback endpoint ${u.host}: data would travel unencrypted`, {
        hint: 'use https, or allow it explicitly: allowHttp: true in the remote, --s3-allow-http for s3:// URLs, or tls.endpoints[].allowInsecureHttp in hybridsync.yaml',
      });
    }
  }
  const region = o.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const forcePathStyle = o.forcePathStyle ?? endpoint !== undefined;
  const account = o.credentials?.accessKeyId ?? (o.profile ? `profile:${o.profile}` : undefined) ?? env.AWS_ACCESS_KEY_ID ?? (env.AWS_PROFILE ? `profile:${env.AWS_PROFILE}` : 'default-chain');
  const origin = endpoint !== undefined ? new URL(endpoint).origin : `https://s3.${region}.amazonaws.com`;
  return { endpoint, region, forcePathStyle, origin, account };
}

/** TCP connect, and then the TLS handshake, each get this long before the request fails. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * An https agent whose new connections fail when the TLS handshake does not finish in
 * time: the SDK's connectionTimeout ends at TCP connect, so a server that accepts
 * connections and never answers would otherwise hold the request until the idle timeout.
 */
class HandshakeTimeoutAgent extends HttpsAgent {
  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const socket = super.createConnection(options, callback);
    if (socket instanceof TLSSocket) {
      const timer = setTimeout(() => {
        socket.destroy(Object.assign(new Error(`no TLS handshake within ${CONNECT_TIMEOUT_MS / 1000} s`), { code: TLS_HANDSHAKE_TIMEOUT }));
      }, CONNECT_TIMEOUT_MS);
      timer.unref();
      const clear = (): void => clearTimeout(timer);
      socket.once('secureConnect', clear);
      socket.once('close', clear);
    }
    return socket;
  }
}

/** The agents a client uses and its idle timeout, shared with the small-object fast path (fast-put.ts). */
export const clientAgents = new WeakMap<S3Client, { http: HttpAgent; https: HttpsAgent; idleTimeoutMs: number }>();

export function createS3Client(o: S3ConnectionOptions, conn: ResolvedConnection): S3Client {
  const maxSockets = o.maxSockets ?? 64;
  const caPath = o.caBundle ?? process.env.AWS_CA_BUNDLE;
  let ca: string | undefined;
  if (caPath) {
    try {
      ca = readFileSync(caPath, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read CA bundle ${caPath}`, { cause: err, hint: 'fix the path in AWS_CA_BUNDLE or --ca-bundle' });
    }
  }
  const httpsAgent = new HandshakeTimeoutAgent({
    keepAlive: true,
    maxSockets,
    minVersion: o.tlsMinVersion ?? 'TLSv1.3',
    ...(ca ? { ca } : {}),
  });
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets });
  const idleTimeoutMs = o.requestTimeoutMs ?? 300_000;
  const client = new S3Client({
    region: conn.region,
    // explicit for remotes, so the SDK's own AWS_ENDPOINT_URL lookup cannot redirect them
    ...(conn.endpoint ? { endpoint: conn.endpoint } : o.ignoreEnvEndpoint ? { endpoint: conn.origin } : {}),
    forcePathStyle: conn.forcePathStyle,
    ...(o.credentials ? { credentials: o.credentials } : o.profile ? { profile: o.profile } : {}),
    // Ceph Pacific ignores x-amz-checksum-* and streaming checksums break PUT with a
    // stream body; we send Content-MD5 ourselves, which Ceph and AWS both validate.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The executor retries with typed errors and backoff; one attempt per SDK call.
    maxAttempts: 1,
    // socketTimeout is the idle timeout (the handler's requestTimeout only logs a warning)
    requestHandler: new NodeHttpHandler({ httpAgent, httpsAgent, connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: idleTimeoutMs }),
  });
  // Every body we send carries Content-MD5, which the server validates; hashing the same
  // bytes again with SHA-256 for the signature would double the client's CPU per byte
  // (and on a host shared with the server, slow the server too). Sign such requests with
  // UNSIGNED-PAYLOAD: headers stay signed, integrity comes from Content-MD5.
  client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers?: Record<string, string> };
      const body = (args.input as { Body?: unknown }).Body;
      const known = typeof body === 'object' && body !== null ? signedPayloadHash.get(body) : undefined;
      if (req.headers && known) req.headers['x-amz-content-sha256'] = known;
      else if (req.headers && ('content-md5' in req.headers || 'Content-MD5' in req.headers)) {
        req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 'hybridsyncUnsignedPayloadWithMd5', priority: 'low' },
  );
  clientAgents.set(client, { http: httpAgent, https: httpsAgent, idleTimeoutMs });
  return client;
}
