/**
 * Policy as pure decisions: which environment a location is in, and whether a file of a
 * given level may be written to a destination environment, through which transforms.
 * No I/O: the gate (../gate.ts) gathers the classification and asks here.
 *
 * Per destination environment the policy gives the highest level allowed and, per level,
 * transforms required first. A requirement holds for its level and every level above it
 * ("confidential needs pii-scrub" applies to restricted too when restricted is allowed).
 */
import picomatch from 'picomatch';
import type { EnvironmentConfig, PolicyConfig, TransformName } from '../../config/governance.js';
import { ConfigError } from '../../core/errors.js';
import type { LevelScale } from '../classify/levels.js';

/** A location to place in an environment: a canonical root URI and, for S3, the endpoint host. */
export interface Location {
  /** `file:///abs/path/` or `s3://bucket/prefix/` (trailing slash for roots). */
  readonly uri: string;
  /** Host (and port) of the S3 endpoint, for s3:// locations. */
  readonly endpointHost?: string;
}

interface CompiledPattern {
  readonly specificity: number;
  readonly test: (uri: string) => boolean;
}

export interface CompiledEnvironment {
  readonly id: string;
  readonly kind?: string;
  readonly endpointHost?: string;
  readonly patterns: readonly CompiledPattern[];
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `/data` -> `file:///data`; URLs are kept; trailing slashes and `/**` are removed. */
export function normalizeLocationPattern(p: string): string {
  let s = p.trim();
  if (!SCHEME.test(s)) {
    if (!s.startsWith('/')) throw new ConfigError(`environment location "${p}" must be an absolute path or a URL`, { hint: 'write /data/..., file:///data/... or s3://bucket/prefix' });
    s = `file://${s}`;
  }
  return s.replace(/(\/\*\*)+$/, '').replace(/\/+$/, '');
}

function compilePattern(raw: string): CompiledPattern {
  const p = normalizeLocationPattern(raw);
  const scan = picomatch.scan(p);
  if (!scan.isGlob) {
    return { specificity: p.length, test: (uri) => uri === p || uri.startsWith(`${p}/`) || uri === `${p}/` };
  }
  const m = picomatch([p, `${p}/**`], { dot: true });
  return { specificity: scan.base.length, test: (uri) => m(uri.replace(/\/+$/, '')) };
}

export function compileEnvironments(envs: Readonly<Record<string, EnvironmentConfig>> | undefined): CompiledEnvironment[] {
  return Object.entries(envs ?? {}).map(([id, e]) => ({
    id,
    ...(e.kind ? { kind: e.kind } : {}),
    ...(e.endpoint ? { endpointHost: new URL(e.endpoint).host } : {}),
    patterns: e.locations.map(compilePattern),
  }));
}

/**
 * The environment a location is in: the one whose matching pattern is most specific
 * (longest literal part); at equal specificity one bound to the location's endpoint wins,
 * then the first declared. An environment bound to an endpoint only holds s3:// locations
 * reached through it.
 */
export function environmentOf(envs: readonly CompiledEnvironment[], loc: Location): CompiledEnvironment | undefined {
  const isS3 = loc.uri.startsWith('s3://');
  let best: { env: CompiledEnvironment; score: number } | undefined;
  for (const env of envs) {
    if (env.endpointHost !== undefined && (!isS3 || env.endpointHost !== loc.endpointHost)) continue;
    for (const p of env.patterns) {
      if (!p.test(loc.uri)) continue;
      const score = p.specificity * 2 + (env.endpointHost !== undefined ? 1 : 0);
      if (!best || score > best.score) best = { env, score };
    }
  }
  return best?.env;
}

export type PolicyDecision =
  | { readonly allow: true; readonly transforms: readonly TransformName[]; readonly reason: string }
  | { readonly allow: false; readonly reason: string };

export interface PolicyQuestion {
  readonly level: string;
  readonly scale: LevelScale;
  /** Destination environment id, if the destination is in one. */
  readonly dstEnv: string | undefined;
  /** undefined: no policy configured, everything is allowed. */
  readonly policy: PolicyConfig | undefined;
  /** Transforms this build can apply. */
  readonly available: ReadonlySet<TransformName>;
}

const TRANSFORM_HELP: Record<TransformName, string> = {
  'pii-scrub': 'the PII scrubber is not available in this build',
};

export function decideTransfer(q: PolicyQuestion): PolicyDecision {
  if (!q.policy) return { allow: true, transforms: [], reason: 'no policy configured' };
  const envPolicy = q.dstEnv !== undefined ? q.policy.environments[q.dstEnv] : undefined;
  if (!envPolicy) {
    const where = q.dstEnv === undefined ? 'the destination is in no declared environment' : `environment ${q.dstEnv} has no policy`;
    return q.policy.unknownEnvironment === 'allow'
      ? { allow: true, transforms: [], reason: `${where} (policy.unknownEnvironment: allow)` }
      : { allow: false, reason: `${where} (policy.unknownEnvironment: deny)` };
  }
  if (q.scale.above(q.level, envPolicy.maxLevel)) {
    return { allow: false, reason: `${q.level} data may not go to ${q.dstEnv}: its highest allowed level is ${envPolicy.maxLevel}` };
  }
  const required = new Set<TransformName>();
  for (const l of q.scale.upTo(q.level)) for (const t of envPolicy.require[l] ?? []) required.add(t);
  const missing = [...required].filter((t) => !q.available.has(t));
  if (missing.length > 0) {
    return {
      allow: false,
      reason: `${q.level} data may go to ${q.dstEnv} only after ${[...required].join(', ')}; ${missing.map((t) => TRANSFORM_HELP[t]).join('; ')}`,
    };
  }
  return {
    allow: true,
    transforms: [...required],
    reason: required.size ? `${q.level} allowed in ${q.dstEnv} after ${[...required].join(', ')}` : `${q.level} allowed in ${q.dstEnv} (up to ${envPolicy.maxLevel})`,
  };
}
