/**
 * TLS in transit. The S3 client already requires TLS 1.3 (its https agent's minVersion);
 * this module decides per endpoint what the config allows (TLS 1.2 only when an endpoint
 * is listed with `minVersion: TLSv1.2`, plain http to a non-loopback host only with
 * `allowInsecureHttp`), and probes an https endpoint once before a run: a server that
 * cannot do the minimum is refused with an error that says so — instead of a generic
 * handshake failure retried for every file — and the negotiated protocol is audited.
 */
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { TlsConfig } from '../../config/governance.js';
import { formatConfigPath } from '../../config/positions.js';
import { ConfigError } from '../../core/errors.js';

export type TlsVersion = 'TLSv1.3' | 'TLSv1.2';

export interface EndpointTls {
  readonly minVersion: TlsVersion;
  /** The CA bundle configured for this endpoint alone (tls.caBundle applies to all). */
  readonly caBundle?: string;
  readonly allowInsecureHttp?: boolean;
  /** `tls.endpoints#N` (N from 1) when a config entry matched, for messages and the audit trail. */
  readonly configEntry?: string;
  readonly reason?: string;
}

function origin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** What the config says about one endpoint; TLS 1.3 and no exceptions when it says nothing. */
export function tlsForEndpoint(tls: TlsConfig | undefined, endpoint: string): EndpointTls {
  const want = origin(endpoint);
  const i = (tls?.endpoints ?? []).findIndex((e) => origin(e.url) === want);
  const e = i >= 0 ? tls!.endpoints[i]! : undefined;
  return {
    minVersion: e?.minVersion ?? 'TLSv1.3',
    ...(e?.caBundle ? { caBundle: e.caBundle } : {}),
    ...(e?.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
    ...(e ? { configEntry: formatConfigPath(['tls', 'endpoints', i]) } : {}),
    ...(e?.reason ? { reason: e.reason } : {}),
  };
}

export type TlsProbe =
  | { readonly ok: true; readonly protocol: string; readonly cipher: string }
  | { readonly ok: false; readonly kind: 'protocol' | 'certificate' | 'network'; readonly code: string; readonly message: string };

const PROTOCOL_CODES = /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION_NUMBER|NO_PROTOCOLS_AVAILABLE|VERSION_TOO_LOW/i;
const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ALTNAME|HOSTNAME|ISSUER/i;

/** One TLS handshake with the endpoint under the given minimum; never throws. */
export function probeTls(url: string, o: { minVersion: TlsVersion; ca?: string; timeoutMs?: number; signal?: AbortSignal }): Promise<TlsProbe> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 443);
  return new Promise((resolve) => {
    const socket: TLSSocket = connect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      minVersion: o.minVersion,
      ...(o.ca ? { ca: o.ca } : {}),
    });
    let settled = false;
    const done = (r: TlsProbe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = (): void => done({ ok: false, kind: 'network', code: 'ABORTED', message: 'aborted' });
    const timer = setTimeout(() => done({ ok: false, kind: 'network', code: 'ETIMEDOUT', message: 'TLS handshake timed out' }), o.timeoutMs ?? 10_000);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) onAbort();
    socket.once('secureConnect', () => done({ ok: true, protocol: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher()?.name ?? 'unknown' }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'ERR';
      const text = `${code} ${err.message}`;
      const kind = PROTOCOL_CODES.test(text) || /protocol version|unsupported protocol/i.test(err.message) ? 'protocol' : CERT_CODES.test(code) ? 'certificate' : 'network';
      done({ ok: false, kind, code, message: err.message });
    });
  });
}

/** The error for a probe that failed on protocol or certificate; undefined for network trouble. */
export function tlsRefusal(url: string, probe: TlsProbe, minVersion: TlsVersion): ConfigError | undefined {
  if (probe.ok || probe.kind === 'network') return undefined;
  const where = origin(url) ?? url;
  if (probe.kind === 'protocol') {
    return new ConfigError(`refusing ${where}: the endpoint does not offer ${minVersion} or newer (${probe.code})`, {
      hint:
        minVersion === 'TLSv1.3'
          ? `upgrade the endpoint to TLS 1.3; if it cannot be, allow TLS 1.2 for it alone in hybridsync.yaml: tls.endpoints: [{url: ${where}, minVersion: TLSv1.2, reason: ...}]`
          : 'the endpoint offers neither TLS 1.3 nor 1.2',
    });
  }
  return new ConfigError(`refusing ${where}: its TLS certificate is not trusted (${probe.code})`, {
    hint: "give the CA that issued it: the remote's caBundle (HYBRIDSYNC_REMOTE_<NAME>_CA_BUNDLE), --ca-bundle, AWS_CA_BUNDLE or tls.caBundle in hybridsync.yaml",
  });
}
