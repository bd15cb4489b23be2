/**
 * Formatting for people: decimal bytes, bit rates, durations at planning scale, points in
 * time on a job's wall clock, tables. Machine output (JSON, NDJSON) keeps plain numbers.
 */

/** "11.1 Gbps": three significant figures in the largest unit that keeps the value >= 1. */
export function formatBitRate(bps: number): string {
  const units: Array<[number, string]> = [
    [1e12, 'Tbps'],
    [1e9, 'Gbps'],
    [1e6, 'Mbps'],
    [1e3, 'kbps'],
  ];
  for (const [f, u] of units) if (bps >= f) return `${trim(bps / f)} ${u}`;
  return `${trim(bps)} bps`;
}

export function formatBytesDecimal(bytes: number): string {
  const units: Array<[number, string]> = [
    [1e15, 'PB'],
    [1e12, 'TB'],
    [1e9, 'GB'],
    [1e6, 'MB'],
    [1e3, 'kB'],
  ];
  for (const [f, u] of units) if (bytes >= f) return `${trim(bytes / f)} ${u}`;
  return `${bytes} B`;
}

/** "2.5 h", "3.2 d", "30 min", "12 s": durations at planning scale, never bare milliseconds. */
export function formatDays(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  const h = ms / 3_600_000;
  if (h < 1) return `${trim(ms / 60_000)} min`;
  if (h < 48) return `${trim(h)} h`;
  return `${trim(h / 24)} d`;
}

function trim(v: number): string {
  const fixed = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function formatTable(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** The zone times are shown in when a job names none: the process's local zone. */
export function localTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * A point in time on the wall clock of `timeZone` (default: local), with the zone and its
 * offset named: "2026-12-02 03:00 Europe/Berlin (+01:00)", "2026-12-02 02:00 UTC". The one
 * format of every time the CLI and the daemon log print; `seconds` for log lines.
 */
export function formatInstant(ms: number | null | undefined, timeZone?: string, o: { seconds?: boolean } = {}): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const zone = timeZone ?? localTimeZone();
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(new Date(ms));
  const get = (t: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === t)?.value ?? '';
  const time = `${get('hour')}:${get('minute')}${o.seconds ? `:${get('second')}` : ''}`;
  const offset = get('timeZoneName').replace(/^GMT/, '') || '+00:00';
  const utc = offset === '+00:00' && /^(Etc\/)?(UTC|GMT|Zulu|Universal)$/i.test(zone);
  return `${get('year')}-${get('month')}-${get('day')} ${time} ${zone}${utc ? '' : ` (${offset})`}`;
}
