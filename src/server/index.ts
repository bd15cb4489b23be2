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

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startServer(o: { daemon: Daemon; metrics: OpsMetrics; host: string; port: number; token?: string; audit?: AuditFeed }): Promise<RunningServer> {
  if (!isLoopback(o.host) && !o.token) {
    throw new UsageError(`refusing to listen on ${o.host} without a bearer token`, {
      hint: 'set the token in the environment variable named by server.tokenEnv (default HYBRIDSYNC_API_TOKEN), or listen on 127.0.0.1',
    });
  }
  const app = createApi({ daemon: o.daemon, metrics: o.metrics, ...(o.token ? { token: o.token } : {}), ...(o.audit ? { audit: o.audit } : {}) });
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: o.host, port: o.port }, (info: AddressInfo) => {
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
