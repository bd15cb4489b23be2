/** Helpers for gateway tests: a counting proxy in front of Ceph RGW, the gateway as a CLI process, clients. */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { S3Client } from '@aws-sdk/client-s3';
import { spawnCli } from './cli.js';
import { s3Env } from './s3.js';

export const GW_KEY = 'GATEWAYKEY0000000001';
export const GW_SECRET = 'gateway-secret-not-the-upstreams';

/** Every request the upstream saw through the proxy. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly range?: string;
}

/** An HTTP proxy on loopback that forwards to the Ceph RGW and records what it forwarded. */
export async function countingProxy(): Promise<{ url: string; seen: SeenRequest[]; refuseWrites: { on: boolean }; close(): Promise<void> }> {
  const target = new URL(s3Env().endpoint);
  const seen: SeenRequest[] = [];
  const refuseWrites = { on: false };
  const server: Server = createServer((req, res) => {
    if (refuseWrites.on && (req.method === 'PUT' || req.method === 'POST')) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>ServiceUnavailable</Code><Message>test outage</Message></Error>');
      return;
    }
    seen.push({ method: req.method ?? '', path: req.url ?? '', ...(req.headers.range ? { range: req.headers.range } : {}) });
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    refuseWrites,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** The upstream as the named remote "cloud", reached through `endpoint` (the proxy). */
export function upstreamEnv(endpoint: string): NodeJS.ProcessEnv {
  const e = s3Env();
  return {
    HYBRIDSYNC_REMOTE_CLOUD_TYPE: 's3',
    HYBRIDSYNC_REMOTE_CLOUD_ENDPOINT: endpoint,
    HYBRIDSYNC_REMOTE_CLOUD_REGION: 'us-east-1',
    HYBRIDSYNC_REMOTE_CLOUD_PATH_STYLE: 'true',
    HYBRIDSYNC_REMOTE_CLOUD_ACCESS_KEY_ID: e.accessKeyId,
    HYBRIDSYNC_REMOTE_CLOUD_SECRET_ACCESS_KEY: e.secretAccessKey,
    HYBRIDSYNC_GATEWAY_ACCESS_KEY_ID: GW_KEY,
    HYBRIDSYNC_GATEWAY_SECRET_ACCESS_KEY: GW_SECRET,
    // the gateway must not fall back to the upstream's keys from the environment
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_ENDPOINT_URL: '',
  };
}

export interface RunningGatewayProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Starts `hybridsync gateway …` and resolves once it listens. */
export async function startGatewayProcess(args: string[], env: NodeJS.ProcessEnv): Promise<RunningGatewayProcess> {
  const child = spawnCli(['gateway', '--listen', '127.0.0.1:0', ...args], env);
  let err = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = / on (http:\/\/[^\s]+) \(cache/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${err}`)));
  });
  const end = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return { url, child, stderr: () => err, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

/** An SDK v3 client for the gateway with the SDK's defaults (request checksums on: aws-chunked with a trailer). */
export function gatewayClient(url: string, o: { secret?: string; region?: string; maxAttempts?: number } = {}): S3Client {
  return new S3Client({
    endpoint: url,
    region: o.region ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: GW_KEY, secretAccessKey: o.secret ?? GW_SECRET },
    maxAttempts: o.maxAttempts ?? 1,
  });
}

/** Environment for aws-cli and boto3 talking to the gateway. */
export function clientEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: GW_KEY, AWS_SECRET_ACCESS_KEY: GW_SECRET, AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1' };
  delete env.AWS_CA_BUNDLE;
  delete env.AWS_ENDPOINT_URL;
  delete env.AWS_PROFILE;
  return env;
}
