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
import { lowercaseScheme, type Location } from '../../core/location.js';
import type { LevelScale } from '../classify/levels.js';

export type { Location };

interface CompiledPattern {
  readonly specificity: number;
  readonly test: (loc: Location) => boolean;
}

export interface CompiledEnvironment {
  readonly id: string;
  readonly kind?: string;
  /** Host (and port) an environment's s3:// and az:// locations must be reached through. */
  readonly endpointHost?: string;
  readonly patterns: readonly CompiledPattern[];
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const REMOTE_PATTERN = /^([a-z][a-z0-9_-]*):(?!\/\/)(.*)$/;

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return '';
  }
}

/** `/data` -> `file:///data`; URLs are kept; trailing slashes and `/**` are removed. */
export function normalizeLocationPattern(p: string): string {
  let s = lowercaseScheme(p.trim());
  if (!SCHEME.test(s)) {
    if (!s.startsWith('/')) {
      throw new ConfigError(`environment location "${p}" must be an absolute path, a URL or REMOTE:bucket/prefix`, {
        hint: 'write /data/..., file:///data/..., s3://bucket/prefix or onprem:bucket/prefix',
      });
    }
    s = `file://${s}`;
  }
  return s.replace(/(\/\*\*)+$/, '').replace(/\/+$/, '');
}

function globTest(p: string): { specificity: number; test: (s: string) => boolean } {
  const scan = picomatch.scan(p);
  if (!scan.isGlob) return { specificity: p.length, test: (s) => s === p || s.startsWith(`${p}/`) || s === `${p}/` };
  const m = picomatch([p, `${p}/**`], { dot: true });
  return { specificity: scan.base.length, test: (s) => m(s.replace(/\/+$/, '')) };
}

function compilePattern(raw: string): CompiledPattern {
  const named = REMOTE_PATTERN.exec(raw.trim());
  if (named && !raw.trim().startsWith('/')) {
    // onprem:bucket/prefix/** — on that remote, matched against container/path
    const remote = named[1]!;
    const g = globTest(named[2]!.replace(/^\/+/, '').replace(/(\/\*\*)+$/, '').replace(/\/+$/, ''));
    return {
      specificity: g.specificity + remote.length + 1,
      test: (loc) => loc.remote === remote && (loc.type === 'local' ? g.test(loc.path.replace(/^\//, '')) : g.test(loc.container + '/' + loc.path)),
    };
  }
  const g = globTest(normalizeLocationPattern(raw));
  return { specificity: g.specificity, test: (loc) => g.test(loc.uri) };
}

/** A remote's endpoint, for environments that name it. */
export interface RemoteEndpoint {
  readonly type: Location['type'];
  /** Endpoint origin (as Location.endpoint); '' when unknown. */
  readonly endpoint: string;
}

export function compileEnvironments(
  envs: Readonly<Record<string, EnvironmentConfig>> | undefined,
  remoteEndpoint: (name: string) => RemoteEndpoint | undefined = () => undefined,
): CompiledEnvironment[] {
  return Object.entries(envs ?? {}).map(([id, e]) => {
    const patterns = (e.locations ?? []).map(compilePattern);
    for (const name of e.remotes ?? []) {
      // every location on the remote — by name, or reached through the same endpoint
      const ep = remoteEndpoint(name);
      patterns.push({
        specificity: 0,
        test: (loc) => loc.remote === name || (ep !== undefined && ep.endpoint !== '' && loc.type === ep.type && loc.endpoint === ep.endpoint),
      });
    }
    return {
      id,
      ...(e.kind ? { kind: e.kind } : {}),
      ...(e.endpoint ? { endpointHost: new URL(e.endpoint).host } : {}),
      patterns,
    };
  });
}

/**
 * The environment a location is in: the one whose matching pattern is most specific
 * (longest literal part); at equal specificity one bound to the location's endpoint wins,
 * then the first declared. An environment bound to an endpoint only holds object-store
 * locations reached through it.
 */
export function environmentOf(envs: readonly CompiledEnvironment[], loc: Location): CompiledEnvironment | undefined {
  const remoteStore = loc.type === 's3' || loc.type === 'azureblob';
  const host = remoteStore ? hostOf(loc.endpoint) : undefined;
  let best: { env: CompiledEnvironment; score: number } | undefined;
  for (const env of envs) {
    if (env.endpointHost !== undefined && (!remoteStore || env.endpointHost !== host)) continue;
    for (const p of env.patterns) {
      if (!p.test(loc)) continue;
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
