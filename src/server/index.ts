/**
 * The daemon's HTTP server: the API (api.ts), Prometheus metrics (metrics.ts) and the
 * dashboard page (dashboard.ts), served with @hono/node-server.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { UsageError } from '../core/errors.js';
import type { Daemon } from '../ops/daemon.js';
import { createApi, isLoopback } from './api.js';
import type { AuditFeed } from './audit-feed.js';
import type { OpsMetrics } from './metrics.js';
import type { ServedAddress } from './same-origin.js';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ServerOptions {
  readonly daemon: Daemon;
  readonly metrics: OpsMetrics;
  readonly host: string;
  readonly port: number;
  readonly token?: string;
  readonly audit?: AuditFeed;
  /** server.allowedHosts: names besides the listen address that the Host header may carry. */
  readonly allowedHosts?: readonly string[];
  /** The caching gateways and the datasets' copies (/api/gateway). */
  readonly gateways?: () => Promise<unknown>;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  if (!isLoopback(o.host) && !o.token) {
    throw new UsageError(`refusing to listen on ${o.host} without a bearer token`, {
      hint: 'set the token in the environment variable named by server.tokenEnv (default HYBRIDSYNC_API_TOKEN), or listen on 127.0.0.1',
    });
  }
  let served: ServedAddress | undefined;
  const app = createApi({
    daemon: o.daemon,
    metrics: o.metrics,
    served: () => served,
    ...(o.token ? { token: o.token } : {}),
    ...(o.audit ? { audit: o.audit } : {}),
    ...(o.gateways ? { gateways: o.gateways } : {}),
  });
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: o.host, port: o.port }, (info: AddressInfo) => {
      served = { host: o.host, port: info.port, ...(o.allowedHosts ? { allowedHosts: o.allowedHosts } : {}) };
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once('error', reject);
  });
}
