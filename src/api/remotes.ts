/**
 * Remotes as a user inspects them: what is defined (never a secret: references are shown
 * as the variable or file they name), and a step-by-step test of one — definition and
 * credential references, reachability, TLS version, credentials, bucket access — each
 * step with its own clear verdict.
 */
import { connect as netConnect } from 'node:net';
import { readFileSync } from 'node:fs';
import { hasAccountProbe } from '../core/backend.js';
import { describeError, HybridsyncError, UsageError } from '../core/errors.js';
import { resolveLocation, splitRemote, type ResolveContext } from '../backends/registry.js';
import type { LoadedConfig } from '../config/load.js';
import type { RemoteConfig, RemoteOrigin } from '../config/remotes.js';
import { probeTls, tlsForEndpoint, tlsRefusal } from '../governance/tls/index.js';

export interface RemoteView {
  readonly name: string;
  readonly type: RemoteConfig['type'];
  readonly origin: RemoteOrigin;
  /** The definition as written: references stay references. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Endpoint origin the remote's locations are reached at ('' for local). */
  readonly endpoint: string;
  /** Non-secret credential identity. */
  readonly account: string;
  /** Set when the definition cannot be used as it is (e.g. a referenced variable is unset). */
  readonly problem?: string;
}

/** Every remote of the config and the environment, in name order. */
export function listRemotes(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): RemoteView[] {
  return loaded.remotes.names().map((n) => showRemote(loaded, n, env));
}

export function showRemote(loaded: LoadedConfig, name: string, env: NodeJS.ProcessEnv = process.env): RemoteView {
  const r = loaded.remotes.require(name, `${name}:`);
  let endpoint = '';
  let account = '';
  let problem: string | undefined;
  try {
    const loc = resolveLocation(r.type === 'local' ? `${name}:` : `${name}:probe-endpoint`, { remotes: loaded.remotes, env }).location;
    endpoint = loc.endpoint;
    account = loc.account;
  } catch (e) {
    problem = describeError(e);
  }
  return { name, type: r.type, origin: loaded.remotes.origin(name) ?? 'file', settings: { ...r }, endpoint, account, ...(problem ? { problem } : {}) };
}

export type RemoteStep = 'definition' | 'reachable' | 'tls' | 'credentials' | 'bucket';

export interface RemoteCheck {
  readonly step: RemoteStep;
  readonly ok: boolean;
  readonly detail: string;
  readonly hint?: string;
}

function tcpReach(host: string, port: number, signal?: AbortSignal, timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    const done = (err?: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(err);
    };
    const timer = setTimeout(() => done('ETIMEDOUT'), timeoutMs);
    s.once('connect', () => done());
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    signal?.addEventListener('abort', () => done('ABORTED'), { once: true });
  });
}

function failed(step: RemoteStep, e: unknown): RemoteCheck {
  return { step, ok: false, detail: describeError(e instanceof HybridsyncError ? new Error(e.message) : e), ...(e instanceof HybridsyncError && e.hint ? { hint: e.hint } : {}) };
}

/**
 * Tests `spec` — `NAME`, `NAME:` or `NAME:bucket/prefix` — step by step; stops at the first
 * failing step. With a bucket, also lists one object to prove access to it.
 */
export async function testRemote(spec: string, loaded: LoadedConfig, o: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; caBundle?: string } = {}): Promise<RemoteCheck[]> {
  const env = o.env ?? process.env;
  const named = splitRemote(spec.includes(':') ? spec : `${spec}:`);
  if (!named) throw new UsageError(`"${spec}" is not a remote name`, { hint: 'give NAME or NAME:bucket, e.g. hybridsync remote test onprem:training' });
  const r = loaded.remotes.require(named.name, spec);
  const out: RemoteCheck[] = [];
  const ctx: ResolveContext = { remotes: loaded.remotes, env };
  const bucketGiven = named.rest.replace(/^\/+/, '') !== '';
  let handle;
  try {
    handle = resolveLocation(r.type === 'local' || bucketGiven ? `${named.name}:${named.rest}` : `${named.name}:probe-endpoint`, ctx);
  } catch (e) {
    return [failed('definition', e)];
  }
  const loc = handle.location;
  out.push({ step: 'definition', ok: true, detail: `${r.type} remote ${named.name} (${loaded.remotes.origin(named.name) ?? 'file'})${loc.account ? `, credentials ${loc.account}` : ''}` });

  if (loc.type === 'local') {
    try {
      const b = handle.open();
      let n = 0;
      for await (const _ of b.list({ ...(o.signal ? { signal: o.signal } : {}) })) if (++n >= 1) break;
      out.push({ step: 'bucket', ok: true, detail: `${loc.path} is a readable directory` });
    } catch (e) {
      const f = failed('bucket', e);
      out.push({ ...f, detail: `${loc.path}: ${f.detail}` });
    }
    return out;
  }

  const own = handle.endpointSettings;
  const url = new URL(loc.endpoint);
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(url.hostname);
  if (url.protocol === 'http:' && !loopback && !own.allowInsecureHttp) {
    // refused before any connection is made: nothing should travel unencrypted
    out.push({ step: 'tls', ok: false, detail: `plain http to the non-loopback host ${url.host} is refused`, hint: `use https, or set allowHttp: true in remote "${named.name}"` });
    return out;
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const unreachable = await tcpReach(url.hostname.replace(/^\[|\]$/g, ''), port, o.signal);
  if (unreachable) {
    out.push({ step: 'reachable', ok: false, detail: `cannot reach ${url.host} (${unreachable})`, hint: 'check the endpoint in the remote, DNS, firewalls and that the server is running' });
    return out;
  }
  out.push({ step: 'reachable', ok: true, detail: `${url.host} accepts connections` });

  const minVersion = own.tlsMinVersion ?? tlsForEndpoint(loaded.config?.tls, url.origin).minVersion;
  const caBundle = own.caBundle ?? o.caBundle ?? env.AWS_CA_BUNDLE ?? loaded.config?.tls?.caBundle;
  if (url.protocol === 'https:') {
    let ca: string | undefined;
    try {
      ca = caBundle ? readFileSync(caBundle, 'utf8') : undefined;
    } catch (e) {
      out.push({ step: 'tls', ok: false, detail: `cannot read CA bundle ${caBundle}: ${(e as Error).message}`, hint: 'fix caBundle in the remote or AWS_CA_BUNDLE' });
      return out;
    }
    const probe = await probeTls(url.origin, { minVersion, ...(ca ? { ca } : {}), ...(o.signal ? { signal: o.signal } : {}) });
    const refusal = tlsRefusal(url.origin, probe, minVersion);
    if (refusal || !probe.ok) {
      out.push(refusal ? failed('tls', refusal) : { step: 'tls', ok: false, detail: `TLS handshake failed: ${!probe.ok ? probe.message : ''}` });
      return out;
    }
    out.push({ step: 'tls', ok: true, detail: `${probe.protocol} (${probe.cipher}), minimum ${minVersion}` });
  } else {
    out.push({ step: 'tls', ok: true, detail: loopback ? 'plain http on loopback (no TLS needed)' : 'plain http, allowed by allowHttp: data travels unencrypted' });
  }

  // a server that accepts connections but never answers fails this step in seconds, not minutes
  const b = handle.open({ endpoint: { ...own, ...(caBundle ? { caBundle } : {}), tlsMinVersion: minVersion }, transfer: { retries: 1 }, requestTimeoutMs: 15_000 });
  try {
    if (hasAccountProbe(b)) {
      try {
        out.push({ step: 'credentials', ok: true, detail: await b.probeAccount(o.signal ? { signal: o.signal } : {}) });
      } catch (e) {
        // an account may be allowed its bucket but not the bucket list: a bucket check decides then
        if (!(e instanceof HybridsyncError && e.kind === 'permission' && bucketGiven)) {
          out.push(failed('credentials', e));
          return out;
        }
        out.push({ step: 'credentials', ok: true, detail: 'listing buckets is not permitted; checking the bucket instead' });
      }
    }
    if (bucketGiven) {
      try {
        let n = 0;
        for await (const _ of b.list({ ...(o.signal ? { signal: o.signal } : {}) })) if (++n >= 1) break;
        out.push({ step: 'bucket', ok: true, detail: `${loc.container} is readable${n ? '' : ' (empty under this prefix)'}` });
      } catch (e) {
        out.push(failed('bucket', e));
      }
    }
  } finally {
    await b.close?.();
  }
  return out;
}
