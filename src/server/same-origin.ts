/**
 * What keeps other web sites out of the daemon. Any page a user opens can make the browser
 * send requests to 127.0.0.1, so three checks stand between a page and the API:
 *
 * - **Host** (every route): the Host header must name the address the daemon listens on.
 *   A DNS-rebinding page reaches the daemon under the attacker's own name, so a foreign
 *   name is refused (421) before anything is read. Listening on loopback, 127.0.0.1,
 *   localhost and [::1] with the bound port are the same address; on a wildcard address
 *   (0.0.0.0, ::) any IP literal with the bound port is (rebinding always sends a name).
 *   `server.allowedHosts` adds names (a reverse proxy, a DNS name): "name" on any port,
 *   "name:port" on that port only.
 * - **Origin / Sec-Fetch-Site** (state-changing methods): a request a browser marks as
 *   coming from another origin or site is refused (403).
 * - **A per-daemon random token** (state-changing methods): the dashboard page embeds it
 *   and sends it as the X-Hybridsync-CSRF header on its POSTs; every state-changing request
 *   needs it (403 without). Other clients read it from GET /api/session — a cross-origin
 *   page cannot read that response, and with a bearer token it needs the bearer token.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export const CSRF_HEADER = 'X-Hybridsync-CSRF';

export interface ServedAddress {
  /** The listen host, as given ("127.0.0.1", "::1", "0.0.0.0", a name). */
  readonly host: string;
  /** The bound port (known once listening). */
  readonly port: number;
  /** server.allowedHosts: extra names, "name" (any port) or "name:port". */
  readonly allowedHosts?: readonly string[];
}

interface HostPort {
  readonly name: string;
  readonly port: number | undefined;
}

/** "Example.org:8787" → { name: "example.org", port: 8787 }; "[::1]:80" → { name: "::1", port: 80 }. */
function parseHostPort(value: string): HostPort | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]/\s@]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!m) return undefined;
  const name = m[1]!.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  return { name, port: m[2] === undefined ? undefined : Number(m[2]) };
}

const loopbackName = (h: string): boolean => h === 'localhost' || (isIP(h) === 4 && h.startsWith('127.')) || h === '::1';
const wildcard = (h: string): boolean => h === '0.0.0.0' || h === '::' || h === '';

/** Whether a request's Host header names the address the daemon serves. */
export function hostAllowed(header: string | undefined, served: ServedAddress): boolean {
  if (!header) return false;
  const h = parseHostPort(header);
  if (!h) return false;
  for (const entry of served.allowedHosts ?? []) {
    const a = parseHostPort(entry);
    if (a && a.name === h.name && (a.port === undefined || a.port === (h.port ?? 80))) return true;
  }
  if ((h.port ?? 80) !== served.port) return false;
  const listen = served.host.replace(/^\[|\]$/g, '').toLowerCase();
  if (wildcard(listen)) return isIP(h.name) !== 0 || h.name === 'localhost';
  if (h.name === listen) return true;
  return loopbackName(listen) && loopbackName(h.name);
}

/** Why a state-changing request is refused as cross-origin, or undefined when it is not. */
export function crossOriginReason(headers: { origin?: string | undefined; secFetchSite?: string | undefined; host: string }): string | undefined {
  const site = headers.secFetchSite?.toLowerCase();
  if (site && site !== 'same-origin' && site !== 'none') return `cross-origin request refused (Sec-Fetch-Site: ${site})`;
  if (headers.origin === undefined) return undefined; // not sent by a browser, or a same-origin GET-like navigation
  const host = parseHostPort(headers.host);
  let origin: URL;
  try {
    origin = new URL(headers.origin);
  } catch {
    return `cross-origin request refused (Origin: ${headers.origin})`;
  }
  const o = parseHostPort(origin.host);
  const defaultPort = origin.protocol === 'https:' ? 443 : 80;
  const same =
    (origin.protocol === 'http:' || origin.protocol === 'https:') &&
    o !== undefined &&
    host !== undefined &&
    o.name === host.name &&
    (o.port ?? defaultPort) === (host.port ?? defaultPort);
  return same ? undefined : `cross-origin request refused (Origin: ${headers.origin})`;
}

/** A fresh per-daemon token for state-changing requests. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

export function csrfMatches(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const a = Buffer.from(header.trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
