/**
 * Modification times to the nanosecond, and their forms in object metadata.
 *
 * A local file's mtime has nanoseconds; `Stats.mtimeMs` (a double) keeps them only to about
 * a quarter of a microsecond. rclone compares mtimes to the nanosecond between a local
 * file and an S3 or Azure object, so metadata written from `mtimeMs` alone made it rewrite
 * the mtime of every object hybridsync had uploaded (one server-side copy each). Entries of
 * local files therefore also carry `mtimeNs`: whole nanoseconds since the epoch, as a
 * decimal string (JSON-safe, unlike a bigint), written to metadata exactly.
 */

const NS_PER_S = 1_000_000_000n;

/**
 * The mtime in ms of a nanosecond timestamp, computed as node:fs computes `Stats.mtimeMs`
 * (seconds × 1e3 + nanoseconds ÷ 1e6), so both compare equal for the same file.
 */
export function msOfNs(ns: bigint): number {
  const { sec, nsec } = split(ns);
  return Number(sec) * 1e3 + Number(nsec) / 1e6;
}

/** Seconds since the epoch with a fraction: 9 digits from `mtimeNs`, else 3 from `mtimeMs` (rclone's S3 `mtime`). */
export function unixSeconds(mtimeMs: number, mtimeNs?: string): string {
  if (mtimeNs === undefined) return (mtimeMs / 1000).toFixed(3);
  const ns = BigInt(mtimeNs);
  const abs = ns < 0n ? -ns : ns; // a decimal is read with its sign on the fraction too
  return `${ns < 0n ? '-' : ''}${abs / NS_PER_S}.${String(abs % NS_PER_S).padStart(9, '0')}`;
}

/** RFC 3339 UTC with 9 fractional digits (rclone's Azure `mtime`): exact from `mtimeNs`, else from `mtimeMs`. */
export function rfc3339Nano(mtimeMs: number, mtimeNs?: string): string {
  let sec: bigint;
  let nsec: bigint;
  if (mtimeNs !== undefined) ({ sec, nsec } = split(BigInt(mtimeNs)));
  else {
    const s = Math.floor(mtimeMs / 1000);
    sec = BigInt(s);
    nsec = BigInt(Math.min(999_999_999, Math.round((mtimeMs - s * 1000) * 1e6)));
  }
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}.${String(nsec).padStart(9, '0')}Z`;
}

/**
 * A metadata mtime, decimal seconds (`1700000000.123456789`, hybridsync and rclone on S3)
 * or RFC 3339 (rclone on Azure): ms, and the exact ns when the fraction has at most 9 digits.
 */
export function parseMtime(v: string): { readonly ms: number; readonly ns?: string } | undefined {
  const dec = /^(-?)(\d+)(?:\.(\d+))?$/.exec(v);
  if (dec) {
    const t = exact(Number(v) * 1000, BigInt(dec[2]!), dec[3]);
    return dec[1] && t.ns ? { ms: t.ms, ns: String(-BigInt(t.ns)) } : t; // before 1970: the sign covers the fraction too
  }
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(v);
  if (!m) return undefined;
  const base = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(base)) return undefined;
  return exact(base + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0), BigInt(base / 1000), m[2]);
}

function exact(ms: number, sec: bigint, frac = ''): { ms: number; ns?: string } {
  if (frac.length > 9) return { ms }; // finer than a nanosecond: nothing exact to keep
  return { ms, ns: String(sec * NS_PER_S + BigInt(frac.padEnd(9, '0'))) };
}

function split(ns: bigint): { sec: bigint; nsec: bigint } {
  let sec = ns / NS_PER_S;
  let nsec = ns % NS_PER_S;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS_PER_S;
  }
  return { sec, nsec };
}
