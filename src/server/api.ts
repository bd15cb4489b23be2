/**
 * The daemon's HTTP API (hono). JSON under /api, Prometheus text at /metrics, probes at
 * /healthz and /readyz, the dashboard at /. Bound to loopback unless configured otherwise;
 * on any other address a bearer token is required (checked here for everything but the
 * probes and the dashboard's static page). Other web sites are kept out by the checks of
 * same-origin.ts (Host on every route; Origin, Sec-Fetch-Site and the per-daemon token on
 * state-changing requests). HTTP statuses are mapped in this file only.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { Hono, type Context } from 'hono';
import type { Daemon } from '../ops/daemon.js';
import { JobAlreadyRunningError } from '../ops/scheduler.js';
import { dashboardHtml, FAVICON_SVG } from './dashboard.js';
import type { AuditFilter } from '../governance/audit/export.js';
import { parseDuration } from '../lib/units.js';
import type { AuditFeed } from './audit-feed.js';
import type { OpsMetrics } from './metrics.js';
import { CSRF_HEADER, crossOriginReason, csrfMatches, hostAllowed, newCsrfToken, type ServedAddress } from './same-origin.js';

export interface ApiOptions {
  readonly daemon: Daemon;
  readonly metrics: OpsMetrics;
  /** Bearer token; undefined only on loopback. */
  readonly token?: string;
  /** The audit trail, for /api/audit. */
  readonly audit?: AuditFeed;
  /** The address being served, for the Host check; undefined until listening (requests are refused). */
  readonly served: () => ServedAddress | undefined;
  /** The token state-changing requests carry in X-Hybridsync-CSRF (default: a fresh random one). */
  readonly csrfToken?: string;
  /** The caching gateways and the datasets' copies, for /api/gateway (none when undefined). */
  readonly gateways?: () => Promise<unknown>;
}

/** An ISO 8601 time, or a duration ago ("7d"), as ms since the epoch. */
function timeParam(v: string | undefined, now: number): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(v);
  if (Number.isFinite(t)) return t;
  return now - parseDuration(v); // throws RangeError on nonsense
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

/** "127.0.0.1:8787", "[::1]:8787", ":8787" (all addresses), "8787". */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d+)$/.exec(spec.trim());
  if (!m) throw new RangeError(`invalid listen address "${spec}": use HOST:PORT, e.g. 127.0.0.1:8787`);
  const port = Number(m[2]);
  if (port > 65535) throw new RangeError(`invalid port in "${spec}"`);
  const host = (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { host, port };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!.trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Audit record types /api/audit returns only when `include=` (or `type=`) names them. */
const QUIET_AUDIT_TYPES = ['skip'];

const problem = (c: Context, status: 400 | 401 | 403 | 404 | 409 | 421 | 503, message: string) => c.json({ error: message }, status);

export function createApi(o: ApiOptions): Hono {
  const app = new Hono();
  const { daemon, metrics } = o;
  const csrfToken = o.csrfToken ?? newCsrfToken();
  const page = dashboardHtml(csrfToken, { audit: o.audit !== undefined });

  app.use('*', async (c, next) => {
    const served = o.served();
    const host = c.req.header('host');
    if (!served || !hostAllowed(host, served)) {
      return problem(c, 421, `this daemon does not serve the host "${host ?? ''}": use the address it listens on, or add the name to server.allowedHosts`);
    }
    await next();
  });
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => (daemon.ready ? c.json({ status: 'ready' }) : c.json({ status: 'not ready' }, 503)));
  // browsers ask for it whatever the page declares (a JSON tab, an old bookmark): no 404
  app.get('/favicon.ico', (c) => {
    c.header('Cache-Control', 'max-age=86400');
    return c.body(FAVICON_SVG, 200, { 'Content-Type': 'image/svg+xml' });
  });
  app.get('/', (c) => {
    c.header('Cache-Control', 'no-store');
    c.header('X-Frame-Options', 'DENY');
    c.header('Content-Security-Policy', "frame-ancestors 'none'");
    return c.html(page);
  });

  if (o.token) {
    const token = o.token;
    const guard = async (c: Context, next: () => Promise<void>) => {
      if (!tokenMatches(c.req.header('authorization'), token)) {
        c.header('WWW-Authenticate', 'Bearer realm="hybridsync"');
        return problem(c, 401, 'a bearer token is required: Authorization: Bearer <token>');
      }
      await next();
    };
    app.use('/api/*', guard);
    app.use('/metrics', guard);
  }
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    const refused = crossOriginReason({ origin: c.req.header('origin'), secFetchSite: c.req.header('sec-fetch-site'), host: c.req.header('host') ?? '' });
    if (refused) return problem(c, 403, refused);
    if (!csrfMatches(c.req.header(CSRF_HEADER), csrfToken)) {
      return problem(c, 403, `a state-changing request needs the ${CSRF_HEADER} header: the dashboard sends it; other clients read it from GET /api/session`);
    }
    await next();
  });

  app.get('/api/session', (c) => c.json({ csrfHeader: CSRF_HEADER, csrfToken }));

  app.get('/api/jobs', (c) => c.json({ jobs: daemon.jobs() }));
  app.get('/api/jobs/:name', (c) => {
    const job = daemon.jobs().find((j) => j.name === c.req.param('name'));
    return job ? c.json(job) : problem(c, 404, `no job named "${c.req.param('name')}"`);
  });
  app.post('/api/jobs/:name/run', (c) => {
    const name = c.req.param('name');
    if (!daemon.hasJob(name)) return problem(c, 404, `no job named "${name}"`);
    try {
      daemon.trigger(name);
      return c.json({ job: name, started: true }, 202);
    } catch (err) {
      if (err instanceof JobAlreadyRunningError) return problem(c, 409, err.message);
      throw err;
    }
  });
  app.get('/api/jobs/:name/history', (c) => {
    const name = c.req.param('name');
    if (!daemon.hasJob(name)) return problem(c, 404, `no job named "${name}"`);
    const limit = Math.min(500, Math.max(1, Number(c.req.query('limit') ?? 20) || 20));
    return c.json({ job: name, runs: daemon.history.list(name, limit) });
  });
  app.get('/api/runs', (c) => c.json({ live: daemon.liveRuns(), recent: daemon.history.recent(20) }));
  app.get('/api/runs/:id', (c) => {
    const run = daemon.history.get(Number(c.req.param('id')));
    if (!run) return problem(c, 404, `no run ${c.req.param('id')}`);
    const live = daemon.liveRuns().find((l) => l.historyId === run.id);
    return c.json({ ...run, ...(live ? { progress: live.progress } : {}) });
  });
  app.get('/api/links', (c) => c.json({ links: daemon.links() }));
  app.get('/api/audit', async (c) => {
    if (!o.audit) return problem(c, 404, 'auditing is disabled in this daemon\'s config');
    const q = (k: string): string | undefined => c.req.query(k) || undefined;
    let filter: AuditFilter;
    try {
      const now = Date.now();
      const since = timeParam(q('since'), now);
      const until = timeParam(q('until'), now);
      const types = q('type')?.split(',').filter(Boolean);
      const include = new Set(q('include')?.split(',').filter(Boolean) ?? []);
      // unchanged files are most of a steady-state log: left out unless asked for by name
      const excludeTypes = QUIET_AUDIT_TYPES.filter((t) => !include.has(t) && !types?.includes(t));
      filter = {
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        ...(q('environment') ? { environment: q('environment')! } : {}),
        ...(q('classification') ? { classification: q('classification')! } : {}),
        ...(types?.length ? { types } : {}),
        ...(excludeTypes.length ? { excludeTypes } : {}),
      };
    } catch (e) {
      return problem(c, 400, `bad audit query: ${(e as Error).message}`);
    }
    const limit = Math.min(1000, Math.max(1, Number(q('limit') ?? 50) || 50));
    return c.json({ records: await o.audit.recent(filter, limit) });
  });
  app.get('/api/plan', (c) => c.json({ plan: daemon.plan() }));
  app.get('/api/cluster', async (c) => c.json(await metrics.clusterState()));
  app.get('/api/streams', (c) => c.json({ lanes: metrics.streamLanes() }));
  // nothing declared is an answer, not an error: the panel says so
  app.get('/api/gateway', async (c) => c.json(o.gateways ? await o.gateways() : { gateways: [], datasets: [] }));
  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
  app.notFound((c) => problem(c, 404, `no route ${c.req.method} ${c.req.path}`));
  return app;
}
