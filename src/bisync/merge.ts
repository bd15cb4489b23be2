/**
 * Merge drivers for files both sides append to (metric logs, JSONL event streams): the
 * union of the lines of both versions. Pure. A line present n times on one side and m
 * times on the other appears max(n, m) times, so the lines both sides already shared and
 * exact duplicates appear once while a side's own repeated lines stay.
 *   lines-union  first-seen order: path1's lines, then path2's that path1 lacks
 *   jsonl-union  the same; with `key`, records are ordered by that field (numbers
 *                numerically, then strings), stable, lines without it after them
 */

function linesOf(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** The multiset union of the lines of `a` and `b`, in first-seen order. */
function unionLines(a: string, b: string): string[] {
  const la = linesOf(a);
  const counts = new Map<string, number>();
  for (const l of la) counts.set(l, (counts.get(l) ?? 0) + 1);
  const out = [...la];
  for (const l of linesOf(b)) {
    const n = counts.get(l) ?? 0;
    if (n > 0) counts.set(l, n - 1);
    else out.push(l);
  }
  return out.filter((l) => l !== '');
}

function joinLines(lines: readonly string[]): string {
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export function linesUnion(a: string, b: string): string {
  return joinLines(unionLines(a, b));
}

type SortKey = { readonly n?: number; readonly s?: string };

function sortKeyOf(line: string, field: string): SortKey | undefined {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof rec !== 'object' || rec === null) return undefined;
  const v = (rec as Record<string, unknown>)[field];
  if (typeof v === 'number' && Number.isFinite(v)) return { n: v };
  if (typeof v === 'string') return { s: v };
  return undefined;
}

function compareSortKeys(x: SortKey, y: SortKey): number {
  if (x.n !== undefined && y.n !== undefined) return x.n - y.n;
  if (x.n !== undefined) return -1;
  if (y.n !== undefined) return 1;
  return x.s! < y.s! ? -1 : x.s! > y.s! ? 1 : 0;
}

export function jsonlUnion(a: string, b: string, key?: string): string {
  const lines = unionLines(a, b);
  if (!key) return joinLines(lines);
  const keyed = lines.map((line, i) => ({ line, i, k: sortKeyOf(line, key) }));
  keyed.sort((x, y) => {
    if (x.k && y.k) return compareSortKeys(x.k, y.k) || x.i - y.i;
    if (x.k) return -1;
    if (y.k) return 1;
    return x.i - y.i;
  });
  return joinLines(keyed.map((r) => r.line));
}

/** Merged content by a driver, or undefined for `conflict` (the conflict policy decides). */
export function mergeContent(driver: string, a: string, b: string, key?: string): string | undefined {
  if (driver === 'jsonl-union') return jsonlUnion(a, b, key);
  if (driver === 'lines-union') return linesUnion(a, b);
  return undefined;
}
