/**
 * Include/exclude rules: globs (picomatch, `**` crosses directories, a pattern without
 * '/' matches the base name anywhere), size and age bounds. Pure: file reading for
 * --exclude-from happens in the CLI.
 *
 * A `.hybridsync/` directory at any depth holds hybridsync's own records (dataset and
 * model manifests, see src/lineage/) and is never user data: every filter excludes it, on
 * both sides, so a sync neither copies nor deletes it and a check does not count it.
 */
import picomatch from 'picomatch';
import type { Entry } from '../core/entry.js';

export interface FilterOptions {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly minSize?: number;
  readonly maxSize?: number;
  /** Only files older than this many ms. */
  readonly minAgeMs?: number;
  /** Only files younger than this many ms. */
  readonly maxAgeMs?: number;
}

/** The directory name hybridsync keeps its own records under, at a location's root. */
export const RESERVED_DIR = '.hybridsync';

/** True for keys inside a `.hybridsync/` directory (at any depth). */
export function isReservedKey(key: string): boolean {
  return key.startsWith(`${RESERVED_DIR}/`) || key.includes(`/${RESERVED_DIR}/`);
}

export interface Filter {
  /** Whether a key is in scope by its name alone (used for both sides). */
  matchesKey(key: string): boolean;
  /** Whether an entry is in scope by name, size and age. */
  matches(e: Entry): boolean;
}

function compile(patterns: readonly string[] | undefined): ((k: string) => boolean) | undefined {
  if (!patterns || patterns.length === 0) return undefined;
  const matchers = patterns.map((p) => {
    const anchored = p.startsWith('/');
    const pat = anchored ? p.slice(1) : p;
    const m = picomatch(pat, { dot: true, basename: !anchored && !pat.includes('/') });
    // a directory pattern "dir/" or "dir/**" also matches everything below
    const dirPat = pat.endsWith('/') ? picomatch(`${pat}**`, { dot: true }) : undefined;
    return (k: string) => m(k) || (dirPat?.(k) ?? false);
  });
  return (k) => matchers.some((m) => m(k));
}

export function createFilter(o: FilterOptions, now: number = Date.now()): Filter {
  const inc = compile(o.include);
  const exc = compile(o.exclude);
  const matchesKey = (k: string): boolean => !isReservedKey(k) && !(exc?.(k) ?? false) && (inc?.(k) ?? true);
  return {
    matchesKey,
    matches(e: Entry): boolean {
      if (!matchesKey(e.key)) return false;
      if (o.minSize !== undefined && e.size < o.minSize) return false;
      if (o.maxSize !== undefined && e.size > o.maxSize) return false;
      const age = now - e.mtimeMs;
      if (o.minAgeMs !== undefined && age < o.minAgeMs) return false;
      if (o.maxAgeMs !== undefined && age > o.maxAgeMs) return false;
      return true;
    },
  };
}

/** Parses an --exclude-from file: one glob per line, '#' comments and blank lines ignored. */
export function parsePatternFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
