/**
 * The classification rules as pure decisions: compiling the config, matching path rules,
 * reading sidecar files and object tags, raising a level by what content detectors found.
 * The classifier (./classifier.ts) gathers the facts these functions decide on.
 *
 * Precedence, highest first: explicit label > sidecar file > path rule > object tag >
 * default. Content detectors then act as a floor ("a file with PII is at least
 * confidential") on everything except explicit labels: a label is a person's decision
 * and is how a detector's false positive is overruled.
 */
import picomatch from 'picomatch';
import { DEFAULT_LEVELS, SIDECAR_FILE, type ClassificationConfig } from '../../config/governance.js';
import { LevelScale } from './levels.js';

export type ClassificationSource = 'label' | 'sidecar' | 'path' | 'tag' | 'content' | 'default';

export interface Classification {
  readonly level: string;
  readonly source: ClassificationSource;
  /** Which rule decided, for people and the audit trail, e.g. `path rule #2 "**\/*.csv"`. */
  readonly rule: string;
  /** Entity counts when a content detector decided (counts only, never values). */
  readonly findings?: Readonly<Record<string, number>>;
  /** The level the declared rules gave before a detector raised it. */
  readonly raisedFrom?: string;
}

export interface PathRule {
  readonly index: number;
  readonly globs: readonly string[];
  readonly level: string;
  readonly environment?: string;
  readonly test: (path: string) => boolean;
}

export interface ClassificationSettings {
  readonly scale: LevelScale;
  readonly defaultLevel: string;
  readonly sidecarName: string;
  readonly rules: readonly PathRule[];
  readonly objectTags: { readonly enabled: boolean; readonly key: string };
  readonly pii: {
    readonly enabled: boolean;
    readonly level: string;
    readonly maxBytes: number;
    /** Whether a file (by full path) is in scope of the detector. */
    readonly applies: (fullPath: string) => boolean;
  };
}

const GLOB_OPTS = { dot: true } as const;

/**
 * Path rules match the full path of a file — its absolute path, or s3://bucket/key — so
 * a file's level does not depend on the directory a sync starts from (a rule for `hr/**`
 * must hold when someone syncs /data/hr directly). A pattern that is not absolute floats:
 * `hr/**` means `**\/hr/**`, `*.csv` means `**\/*.csv`.
 */
export function anchorGlob(glob: string): string {
  return glob.startsWith('/') || glob.startsWith('**') || /^[a-z][a-z0-9+.-]*:\/\//i.test(glob) ? glob : `**/${glob}`;
}

export function compileClassification(c: ClassificationConfig | undefined): ClassificationSettings {
  const levels = c?.levels ?? [...DEFAULT_LEVELS];
  const scale = new LevelScale(levels);
  const defaultLevel = c?.default ?? (scale.has('internal') ? 'internal' : scale.lowest);
  const rules = (c?.rules ?? []).map((r, index): PathRule => {
    const globs = typeof r.path === 'string' ? [r.path] : r.path;
    return { index, globs, level: r.level, ...(r.environment ? { environment: r.environment } : {}), test: picomatch(globs.map(anchorGlob), GLOB_OPTS) };
  });
  const pii = c?.detectors.pii ?? { enabled: true, level: scale.has('confidential') ? 'confidential' : scale.highest, maxBytes: 1024 * 1024, paths: [] };
  const inScope = pii.paths.length > 0 ? picomatch(pii.paths.map(anchorGlob), GLOB_OPTS) : undefined;
  return {
    scale,
    defaultLevel,
    sidecarName: c?.sidecar ?? SIDECAR_FILE,
    rules,
    objectTags: c?.objectTags ?? { enabled: true, key: 'classification' },
    pii: { enabled: pii.enabled, level: pii.level, maxBytes: pii.maxBytes, applies: (key) => !inScope || inScope(key) },
  };
}

/** The first path rule matching the full path, among rules that apply to the source environment. */
export function matchPathRule(rules: readonly PathRule[], f: { fullPath: string; environment?: string }): PathRule | undefined {
  for (const r of rules) {
    if (r.environment !== undefined && r.environment !== f.environment) continue;
    if (r.test(f.fullPath)) return r;
  }
  return undefined;
}

export function describePathRule(r: PathRule): string {
  return `path rule #${r.index + 1} ${r.globs.map((g) => JSON.stringify(g)).join(', ')}`;
}

/**
 * A level named by a sidecar, tag or label; a name the scale does not know becomes the
 * highest level (fail closed) and says so.
 */
export function levelNamed(scale: LevelScale, raw: string, what: string): { level: string; note?: string } {
  const name = raw.trim().toLowerCase();
  if (scale.has(name)) return { level: name };
  return { level: scale.highest, note: `${what} names unknown level "${raw.trim().slice(0, 40)}", treated as ${scale.highest}` };
}

/**
 * Parses a sidecar file: the first line that is not blank or a `#` comment holds the
 * level, bare (`confidential`) or as YAML (`level: confidential`). Returns undefined for
 * a file that names no level.
 */
export function parseSidecar(text: string): string | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const m = /^(?:level\s*:\s*)?["']?([^"'\s]+)["']?$/i.exec(line);
    if (m) return m[1];
    if (/^[a-z_]+\s*:/i.test(line)) continue; // other YAML keys (reason:, owner:)
    return line;
  }
  return undefined;
}

/** The classification a detector's findings impose on a declared one (a floor). */
export function raiseForFindings(
  c: Classification,
  scale: LevelScale,
  floor: string,
  detector: string,
  findings: Readonly<Record<string, number>>,
): Classification {
  if (c.source === 'label' || !scale.above(floor, c.level)) return c;
  const found = Object.entries(findings)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  return {
    level: floor,
    source: 'content',
    rule: `content detector ${detector} found ${found || 'matches'} (raised from ${c.level}: ${c.rule})`,
    findings,
    raisedFrom: c.level,
  };
}
