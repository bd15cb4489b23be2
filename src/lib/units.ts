const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
  p: 1024 ** 5, pb: 1000 ** 5, pib: 1024 ** 5,
};

/**
 * Parses a byte size: "64KiB", "10M" (binary, like rclone), "1.5GB" (decimal), "1024".
 * `defaultUnit` applies to bare numbers. Throws RangeError naming the input.
 */
export function parseSize(input: string, defaultUnit = ''): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const unit = (m?.[2] || defaultUnit).toLowerCase();
  const mult = SIZE_UNITS[unit];
  if (!m || mult === undefined) {
    throw new RangeError(`invalid size "${input}": use a number with an optional unit such as 512K, 64MiB, 10M, 1.5GB`);
  }
  return Math.round(Number(m[1]) * mult);
}

/**
 * A size that must carry its unit: "40TB", "40TiB", "512B". A bare number is refused: for
 * a volume "40" may mean bytes or terabytes, and a plan 10^12 times too small looks fine.
 * (Options with an established bare-number meaning, such as --min-size or --bwlimit, keep
 * using parseSize.)
 */
export function parseSizeWithUnit(input: string): number {
  const bare = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(input);
  if (bare) {
    const n = bare[1]!;
    throw new RangeError(`"${n}" has no unit, so it would mean ${n} bytes: use a unit, e.g. ${n}TB (10^12 bytes), ${n}TiB, ${n}GiB, or ${n}B if bytes are meant`);
  }
  return parseSize(input);
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000,
};

/** Parses a duration such as "90s", "15m", "2h30m", "7d", "1w"; a bare number is seconds. */
export function parseDuration(input: string): number {
  const s = input.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  let total = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) throw new RangeError(`invalid duration "${input}": use forms like 90s, 15m, 2h30m, 7d, 1w`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  return `${h}h${m % 60}m`;
}
