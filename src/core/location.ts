/**
 * The one Location model: where a tree of files or objects is, on which remote. Parsed
 * from what the user wrote (`onprem:bucket/prefix`, `s3://bucket/prefix`,
 * `az://container/prefix`, `/data`, `file:///data`) by config/remotes.ts, and used
 * everywhere a location is identified: the state database, environment matching, TLS
 * policy, classification, audit records and messages.
 */

export type BackendType = 'local' | 's3' | 'azureblob' | 'memory';

export interface Location {
  readonly type: BackendType;
  /** Remote name (`onprem`), or '' for a location with no named remote (s3://, az://, a path). */
  readonly remote: string;
  /** Bucket (S3) or container (Azure); '' for local and memory locations. */
  readonly container: string;
  /**
   * Local: the absolute directory path, no trailing slash ('/' for the root).
   * Object stores: '' or a key prefix ending in '/'.
   */
  readonly path: string;
  /** Endpoint origin (`https://s3.us-east-1.amazonaws.com`, `http://127.0.0.1:10000`); '' for local. */
  readonly endpoint: string;
  /**
   * Who is speaking: a non-secret identity of the credentials (AWS profile or access key
   * id, Azure account name). Two locations with the same endpoint and account may copy
   * server-side. Never a secret.
   */
  readonly account: string;
  /**
   * The scheme form config globs match: `file:///data/`, `s3://bucket/prefix/`,
   * `az://container/prefix/`, `mem://name/`. Ends in '/'.
   */
  readonly uri: string;
  /**
   * Globally unique canonical URI: for object stores the path-style HTTP URL of the prefix
   * (`https://host/bucket/prefix/`, `http://127.0.0.1:10000/devstoreaccount1/container/`),
   * `file:///data/` for local trees. State database keys and audit records use it.
   */
  readonly id: string;
  /** As the user wrote it (never containing a secret), for messages. */
  readonly display: string;
}

/**
 * `S3://bucket/x` → `s3://bucket/x`: a URL scheme is case-insensitive (RFC 3986 §3.1), so
 * it is lowercased; everything after it (bucket, container, path) is kept as written.
 */
export function lowercaseScheme(spec: string): string {
  return spec.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*(?=:\/\/)/, (s) => s.toLowerCase());
}

/** The location of `key` inside `loc`, as a canonical URI (for audit records, labels). */
export function uriOfKey(loc: Location, key: string): string {
  return loc.id + key;
}

/** True when the two locations are the same endpoint reached with the same credentials. */
export function sameAccount(a: Location, b: Location): boolean {
  return a.type === b.type && a.endpoint === b.endpoint && a.account === b.account;
}

/** A local directory tree; `path` absolute (resolved by the caller). */
export function localLocation(path: string, display: string = path, remote = ''): Location {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const uri = p === '/' ? 'file:///' : `file://${p}/`;
  return { type: 'local', remote, container: '', path: p, endpoint: '', account: '', uri, id: uri, display };
}

/** An in-memory tree (unit tests): `mem://name/`. */
export function memoryLocation(uri: string): Location {
  const u = uri.endsWith('/') ? uri : `${uri}/`;
  return { type: 'memory', remote: '', container: '', path: '', endpoint: '', account: '', uri: u, id: u, display: uri };
}

/** A prefix of a bucket or container on an object store. `prefix` is '' or ends in '/'. */
export function objectLocation(o: {
  readonly type: 's3' | 'azureblob';
  readonly scheme: 's3' | 'az';
  readonly remote: string;
  readonly container: string;
  readonly prefix: string;
  /** Endpoint base the container hangs off: an origin, or origin + account path (Azurite). */
  readonly endpoint: string;
  readonly account: string;
  readonly display: string;
}): Location {
  const base = o.endpoint.replace(/\/+$/, '');
  return {
    type: o.type,
    remote: o.remote,
    container: o.container,
    path: o.prefix,
    endpoint: base,
    account: o.account,
    uri: `${o.scheme}://${o.container}/${o.prefix}`,
    id: `${base}/${o.container}/${o.prefix}`,
    display: o.display,
  };
}
