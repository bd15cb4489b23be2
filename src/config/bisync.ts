/**
 * The `bisync:` section of hybridsync.yaml and the options of `hybridsync bisync`, defined
 * once: the CLI flags, the library's `BisyncRequest`, the `bisync` job kind and the config
 * section all read this table. The transfer options (transfers, filters, --max-delete…)
 * come from options.ts like sync's.
 */
import * as z from 'zod';
import { UsageError } from '../core/errors.js';
import { parseDuration } from '../lib/units.js';

export const CONFLICT_POLICIES = ['keep-both', 'newer', 'older', 'larger', 'path1', 'path2', 'ssot'] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];

export const MERGE_DRIVERS = ['jsonl-union', 'lines-union', 'conflict'] as const;
export type MergeDriverName = (typeof MERGE_DRIVERS)[number];

/** Which side is the source of truth for --conflict ssot: the environment kind that wins. */
export const SSOT_KINDS = ['cloud', 'onprem'] as const;
export type SsotKind = (typeof SSOT_KINDS)[number];

export const mergeRuleSchema = z
  .object({
    glob: z.string().min(1).describe('files this driver merges (picomatch; a pattern without "/" matches the base name anywhere)'),
    driver: z.enum(MERGE_DRIVERS).describe('jsonl-union / lines-union: union of the lines of both sides, duplicates dropped; conflict: the conflict policy'),
    key: z.string().min(1).optional().describe('jsonl-union: order records by this field (e.g. step); default first-seen line order'),
  })
  .strict();
export type MergeRule = z.infer<typeof mergeRuleSchema>;

/** The `bisync:` section. */
export const bisyncSchema = z
  .object({
    merge: z.array(mergeRuleSchema).optional().describe('merge drivers by glob, first match wins (like git attributes)'),
    ssot: z.enum(SSOT_KINDS).optional().describe('source of truth of the synced data: the side in an environment of this kind wins conflicts under --conflict ssot'),
  })
  .strict();
export type BisyncConfig = z.infer<typeof bisyncSchema>;

/** Options of one bisync run besides the transfer options, parsed. */
export interface BisyncOptions {
  readonly conflict: ConflictPolicy;
  /** Stop before anything moves when more conflicts than this are found. */
  readonly maxConflicts?: number;
  /** Both sides must hold the sentinel file {@link CHECK_ACCESS_FILE}. */
  readonly checkAccess: boolean;
  /** Merge rules given as flags (`GLOB=DRIVER[:KEY]`), before the config's. */
  readonly merge: readonly MergeRule[];
  /** Watch mode: poll interval of a non-local side (ms). */
  readonly pollInterval: number;
}

/** The sentinel --check-access looks for at the root of both sides (rclone's RCLONE_TEST). */
export const CHECK_ACCESS_FILE = '.hybridsync-check';

export const BISYNC_DEFAULTS: BisyncOptions = { conflict: 'keep-both', checkAccess: false, merge: [], pollInterval: 1000 };

/** `**\/*.jsonl=jsonl-union:step` → a merge rule. */
export function parseMergeFlag(s: string): MergeRule {
  const m = /^(.+)=([a-z-]+)(?::(.+))?$/.exec(s);
  const driver = m?.[2] as MergeDriverName | undefined;
  if (!m || !driver || !MERGE_DRIVERS.includes(driver)) {
    throw new UsageError(`--merge ${s}: expected GLOB=DRIVER or GLOB=jsonl-union:KEY`, { hint: `drivers are ${MERGE_DRIVERS.join(', ')}` });
  }
  return { glob: m[1]!, driver, ...(m[3] ? { key: m[3] } : {}) };
}

/** Complete, validated bisync options from typed values or command-line strings. */
export function resolveBisyncOptions(given: Readonly<Record<string, unknown>> = {}): BisyncOptions {
  const conflict = (given.conflict ?? BISYNC_DEFAULTS.conflict) as ConflictPolicy;
  if (!CONFLICT_POLICIES.includes(conflict)) {
    throw new UsageError(`--conflict ${String(given.conflict)}: not a conflict policy`, { hint: `use one of ${CONFLICT_POLICIES.join(', ')}` });
  }
  let maxConflicts: number | undefined;
  if (given.maxConflicts !== undefined) {
    maxConflicts = Number(given.maxConflicts);
    if (!Number.isInteger(maxConflicts) || maxConflicts < 0) {
      throw new UsageError(`--max-conflicts must be an integer >= 0, got "${String(given.maxConflicts)}"`, { hint: 'e.g. --max-conflicts 10' });
    }
  }
  let pollInterval = BISYNC_DEFAULTS.pollInterval;
  if (given.pollInterval !== undefined) {
    try {
      pollInterval = typeof given.pollInterval === 'number' ? given.pollInterval : parseDuration(String(given.pollInterval));
    } catch (e) {
      throw new UsageError(`--poll-interval: ${(e as Error).message}`, { hint: 'e.g. --poll-interval 1s' });
    }
    if (!(pollInterval >= 100)) throw new UsageError(`--poll-interval must be at least 100ms, got "${String(given.pollInterval)}"`, { hint: 'e.g. --poll-interval 1s' });
  }
  const rawMerge = given.merge ?? [];
  if (!Array.isArray(rawMerge)) throw new UsageError('merge: expected a list of rules', { hint: 'e.g. --merge "**/*.jsonl=jsonl-union:step"' });
  const merge = rawMerge.map((r: unknown) => (typeof r === 'string' ? parseMergeFlag(r) : mergeRuleSchema.parse(r)));
  return { conflict, ...(maxConflicts !== undefined ? { maxConflicts } : {}), checkAccess: given.checkAccess === true || given.checkAccess === 'true', merge, pollInterval };
}

/** The `bisync:` block of a job: the same options, typed. */
export const jobBisyncSchema = z
  .object({
    conflict: z.enum(CONFLICT_POLICIES).optional().describe('conflict policy (default keep-both)'),
    maxConflicts: z.number().int().min(0).optional().describe('stop before anything moves when more conflicts are found'),
    checkAccess: z.boolean().optional().describe(`both sides must hold ${CHECK_ACCESS_FILE}`),
    merge: z.array(mergeRuleSchema).optional().describe('merge drivers by glob, before the bisync: section\'s'),
    pollInterval: z.string().optional().describe('watch: poll interval of a non-local side (default 1s)'),
  })
  .strict();

/** The flags of `hybridsync bisync` besides the transfer options: key (as in BisyncOptions), flag, help. */
export const BISYNC_FLAGS: ReadonlyArray<{ readonly key: keyof BisyncOptions | 'watch'; readonly flag: string; readonly help: string; readonly repeatable?: boolean }> = [
  { key: 'conflict', flag: '--conflict <policy>', help: `files changed on both sides: ${CONFLICT_POLICIES.join(', ')} (default keep-both: the loser is kept as NAME.conflict-<UTC time>-<path1|path2>.EXT)` },
  { key: 'maxConflicts', flag: '--max-conflicts <n>', help: 'stop before anything moves when more conflicts than this are found' },
  { key: 'checkAccess', flag: '--check-access', help: `refuse to run unless both sides hold ${CHECK_ACCESS_FILE} at their root (guards against an unmounted or wrong path)` },
  { key: 'merge', flag: '--merge <glob=driver>', help: 'merge driver for files matching GLOB: jsonl-union[:KEY], lines-union or conflict (repeatable; before the config\'s bisync.merge)', repeatable: true },
  { key: 'watch', flag: '--watch', help: 'keep running: sync again on local changes (debounced) and on changes seen by polling the other side' },
  { key: 'pollInterval', flag: '--poll-interval <duration>', help: 'watch: how often a non-local side is polled (default 1s)' },
];
