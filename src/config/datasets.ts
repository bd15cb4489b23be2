/**
 * The `datasets:` section: named datasets, where each one's copies live, and which side is
 * its source of truth (`ssot: cloud | onprem`, the same notion and values as bisync.ssot).
 * A location belongs to the dataset whose location pattern matches it most specifically —
 * the patterns are those of environments (paths, URLs, REMOTE:bucket/prefix, globs) and are
 * matched by the same code. The caching gateway and bisync decide conflicts by it;
 * bisync.ssot remains the default for locations no dataset holds.
 */
import * as z from 'zod';
import type { Location } from '../core/location.js';
import { compileEnvironments, environmentOf, normalizeLocationPattern, type CompiledEnvironment, type RemoteEndpoint } from '../governance/policy/policy.js';
import { SSOT_KINDS, type SsotKind } from './bisync.js';

export const datasetSchema = z
  .object({
    description: z.string().optional(),
    locations: z
      .array(z.string().min(1))
      .min(1)
      .describe('where the dataset and its copies live: local paths, URLs, s3://bucket/prefix, az://container/prefix or REMOTE:bucket/prefix, globs allowed'),
    ssot: z
      .enum(SSOT_KINDS)
      .optional()
      .describe("the source of truth: the copy in an environment of this kind wins conflicts (the caching gateway's write-back, bisync --conflict ssot)"),
  })
  .strict();

export const datasetsSchema = z
  .record(z.string().regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'use lowercase letters, digits, ".", "-" and "_", starting with a letter'), datasetSchema)
  .describe('named datasets: where their copies live and which side is their source of truth');

export type DatasetConfig = z.infer<typeof datasetSchema>;

export interface Dataset {
  readonly name: string;
  readonly ssot?: SsotKind;
  readonly locations: readonly string[];
}

export interface CompiledDatasets {
  /** The dataset a location belongs to (its most specific matching pattern). */
  of(loc: Location): Dataset | undefined;
  /** The datasets holding `loc` or something under it (a prefix a gateway serves, a tree a job copies). */
  overlapping(loc: Location): Dataset[];
  readonly all: readonly Dataset[];
}

export function compileDatasets(cfg: Readonly<Record<string, DatasetConfig>> | undefined, remoteEndpoint?: (name: string) => RemoteEndpoint | undefined): CompiledDatasets {
  const all: Dataset[] = Object.entries(cfg ?? {}).map(([name, d]) => ({ name, locations: d.locations, ...(d.ssot ? { ssot: d.ssot } : {}) }));
  const byName = new Map(all.map((d) => [d.name, d]));
  // the same matching as environments: a dataset is a named set of location patterns
  const compiled: CompiledEnvironment[] = compileEnvironments(Object.fromEntries(all.map((d) => [d.name, { locations: [...d.locations] }])), remoteEndpoint);
  const of = (loc: Location): Dataset | undefined => byName.get(environmentOf(compiled, loc)?.id ?? '');
  return { all, of, overlapping: (loc) => all.filter((d) => of(loc) === d || d.locations.some((p) => patternUnder(p, loc))) };
}

/** Whether a location pattern names something under `loc`. */
function patternUnder(pattern: string, loc: Location): boolean {
  const literal = (s: string): string => s.slice(0, s.search(/[*?[{]|$/)).replace(/\/+$/, '');
  const named = /^([a-z][a-z0-9_-]*):(?!\/\/)(.*)$/.exec(pattern.trim());
  if (named && !pattern.trim().startsWith('/')) return named[1] === loc.remote && `${literal(named[2]!)}/`.startsWith(`${loc.container}/${loc.path}`);
  try {
    return `${literal(normalizeLocationPattern(pattern))}/`.startsWith(loc.uri);
  } catch {
    return false;
  }
}

/** The location of `key` inside `loc` (an object under a prefix, a file under a directory). */
export function locationOfKey(loc: Location, key: string): Location {
  return { ...loc, path: loc.type === 'local' ? `${loc.path.replace(/\/$/, '')}/${key}` : loc.path + key, uri: loc.uri + key, id: loc.id + key };
}
