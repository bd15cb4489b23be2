/**
 * hybridsync.yaml sections owned by governance: environments, classification, policy,
 * audit, tls (and the options handed to the PII scrubber). Cross references — a level
 * named in a rule or policy, an environment named in a policy — are checked here so the
 * loader reports them with the line and column of the offending value
 * (assertGovernanceReferences runs after the schema, on the same text).
 */
import { yaml } from './yaml.js';
import * as z from 'zod';
import { ConfigError } from '../core/errors.js';
import { formatConfigIssue } from './positions.js';

export const DEFAULT_LEVELS = ['public', 'internal', 'confidential', 'restricted'] as const;
export const SIDECAR_FILE = '.hybridsync-classification';
/** Byte transforms a policy can require before a level may go somewhere. */
export const TRANSFORM_NAMES = ['pii-scrub'] as const;
export type TransformName = (typeof TRANSFORM_NAMES)[number];

const id = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'use lowercase letters, digits, "-" and "_", starting with a letter');
const levelName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'level names are lowercase letters, digits, "-" and "_" (they become S3 tag values)');
const globs = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const environment = z
  .object({
    description: z.string().optional(),
    kind: z.enum(['onprem', 'cloud', 'edge']).optional().describe('for reports: where this environment runs'),
    remotes: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('remotes (remotes.NAME) whose every location is in this environment, by name or by endpoint'),
    locations: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('locations in this environment: local paths (/data/**), file:// URLs, s3://bucket/prefix, az://container/prefix or REMOTE:bucket/prefix, globs allowed'),
    endpoint: z
      .url()
      .optional()
      .describe("S3 endpoint this environment's buckets are reached at; an s3:// location matches only through it"),
  })
  .strict()
  .refine((e) => e.remotes !== undefined || e.locations !== undefined, { message: 'an environment needs locations or remotes' });

const rule = z
  .object({
    path: globs.describe('glob(s) matched against the full path (/abs/path or s3://bucket/key); a relative glob floats: hr/** means **/hr/**'),
    level: levelName,
    environment: id.optional().describe('apply only when the source is in this environment'),
    description: z.string().optional(),
  })
  .strict();

const classification = z
  .object({
    levels: z
      .array(levelName)
      .min(2)
      .default([...DEFAULT_LEVELS])
      .describe('sensitivity levels from lowest to highest'),
    default: levelName.optional().describe('level of files no label, sidecar, rule or tag classifies (default: internal, else the lowest level)'),
    sidecar: z.string().min(1).default(SIDECAR_FILE).describe('name of the files that label the directory tree they are in'),
    rules: z.array(rule).default([]).describe('path rules, first match wins'),
    objectTags: z
      .object({
        enabled: z.boolean().default(true),
        key: z.string().min(1).default('classification').describe('S3 object tag (or metadata key) holding the level'),
      })
      .strict()
      .default({ enabled: true, key: 'classification' })
      .describe('when the source is S3: read the level from existing object tags'),
    detectors: z
      .object({
        pii: z
          .object({
            enabled: z.boolean().default(true),
            level: levelName.default('confidential').describe('a file with detected PII is at least this level'),
            maxBytes: z.number().int().positive().default(1024 * 1024).describe('bytes sampled from the start of each file'),
            paths: z.array(z.string().min(1)).default([]).describe('only scan files whose full path matches these globs (default: all)'),
          })
          .strict()
          .default({ enabled: true, level: 'confidential', maxBytes: 1024 * 1024, paths: [] }),
      })
      .strict()
      .default({ pii: { enabled: true, level: 'confidential', maxBytes: 1024 * 1024, paths: [] } }),
  })
  .strict();

const environmentPolicy = z
  .object({
    maxLevel: levelName.describe('highest level that may be written to this environment'),
    require: z
      .record(levelName, z.array(z.enum(TRANSFORM_NAMES)).min(1))
      .default({})
      .describe('transforms required before data of this level (or above) may go there, e.g. {confidential: [pii-scrub]}'),
  })
  .strict();

const policy = z
  .object({
    unknownEnvironment: z
      .enum(['deny', 'allow'])
      .default('deny')
      .describe('what happens to transfers toward a destination no environment declares'),
    environments: z.record(id, environmentPolicy).default({}).describe('per destination environment'),
  })
  .strict();

const audit = z
  .object({
    enabled: z.boolean().default(true),
    dir: z.string().optional().describe('directory of the audit log and signing key (default: <state dir>/audit)'),
    keyFile: z.string().optional().describe('Ed25519 private key (PEM, created with mode 0600 on first use)'),
    checkpointEvery: z.number().int().min(1).default(1000).describe('records between signed checkpoints'),
    mirrors: z
      .array(z.string().min(1))
      .default([])
      .describe('second locations checkpoints are copied to (s3://bucket/prefix or a path) so truncation is detectable'),
    skips: z.boolean().default(true).describe('record unchanged files that were skipped'),
  })
  .strict();

const tlsEndpoint = z
  .object({
    url: z.url().describe('endpoint origin, e.g. https://s3.dc1.example:9000'),
    minVersion: z.enum(['TLSv1.3', 'TLSv1.2']).default('TLSv1.3').describe('TLSv1.2 only for endpoints that cannot do 1.3; warned and audited'),
    caBundle: z.string().optional(),
    allowInsecureHttp: z.boolean().optional().describe('allow plain http to this non-loopback endpoint'),
    reason: z.string().optional().describe('why an exception exists, copied to the audit trail'),
  })
  .strict();

const tls = z
  .object({
    caBundle: z.string().optional().describe('PEM CA bundle for https endpoints (AWS_CA_BUNDLE and --ca-bundle take precedence)'),
    endpoints: z.array(tlsEndpoint).default([]),
  })
  .strict();

export const governanceSchema = z.object({
  environments: z.record(id, environment).optional().describe('where data lives: on-prem sites, cloud regions'),
  classification: classification.optional(),
  policy: policy.optional(),
  audit: audit.optional(),
  tls: tls.optional(),
  pii: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('the PII scrub config (entities, columns, detect, allow, csv, hash, limits: see docs/pii.md), keyFile (the secret of the hash operator) and threads (auto, or how many worker threads a run scrubs on; 0: none)'),
});

export type GovernanceConfig = z.infer<typeof governanceSchema>;
export type EnvironmentConfig = z.infer<typeof environment>;
export type ClassificationConfig = z.infer<typeof classification>;
export type PolicyConfig = z.infer<typeof policy>;
export type AuditConfig = z.infer<typeof audit>;
export type TlsConfig = z.infer<typeof tls>;

type Issue = { path: PropertyKey[]; message: string };

/**
 * Cross references between sections; returns issues with the path of the offending value.
 * `remotes`: the names of the defined remotes (file and environment), when known.
 */
export function governanceIssues(c: GovernanceConfig, remotes?: ReadonlySet<string>): Issue[] {
  const issues: Issue[] = [];
  const levels = c.classification?.levels ?? [...DEFAULT_LEVELS];
  const envs = new Set(Object.keys(c.environments ?? {}));
  const level = (v: string | undefined, path: PropertyKey[]): void => {
    if (v !== undefined && !levels.includes(v)) issues.push({ path, message: `unknown level "${v}"; levels are ${levels.join(', ')}` });
  };
  const env = (v: string | undefined, path: PropertyKey[]): void => {
    if (v !== undefined && !envs.has(v)) {
      issues.push({ path, message: `unknown environment "${v}"${envs.size ? `; environments are ${[...envs].join(', ')}` : ': declare it under environments'}` });
    }
  };
  if (remotes) {
    for (const [id, e] of Object.entries(c.environments ?? {})) {
      (e.remotes ?? []).forEach((r, i) => {
        if (!remotes.has(r)) {
          issues.push({ path: ['environments', id, 'remotes', i], message: `unknown remote "${r}"${remotes.size ? `; remotes are ${[...remotes].join(', ')}` : ': declare it under remotes'}` });
        }
      });
    }
  }
  if (new Set(levels).size !== levels.length) issues.push({ path: ['classification', 'levels'], message: 'levels must be distinct' });
  const cl = c.classification;
  if (cl) {
    level(cl.default, ['classification', 'default']);
    cl.rules.forEach((r, i) => {
      level(r.level, ['classification', 'rules', i, 'level']);
      env(r.environment, ['classification', 'rules', i, 'environment']);
    });
    level(cl.detectors.pii.level, ['classification', 'detectors', 'pii', 'level']);
  }
  for (const [name, p] of Object.entries(c.policy?.environments ?? {})) {
    env(name, ['policy', 'environments', name]);
    level(p.maxLevel, ['policy', 'environments', name, 'maxLevel']);
    for (const l of Object.keys(p.require)) level(l, ['policy', 'environments', name, 'require', l]);
  }
  return issues;
}

/**
 * Throws a ConfigError naming file:line:column for every dangling reference (at most 5),
 * located in `text`, the YAML the config was parsed from.
 */
export function assertGovernanceReferences(c: GovernanceConfig, text: string, file: string, remotes?: ReadonlySet<string>): void {
  const issues = governanceIssues(c, remotes);
  if (issues.length === 0) return;
  const { LineCounter, parseDocument } = yaml();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const messages = issues.slice(0, 5).map((i) => formatConfigIssue(file, doc.contents, lc, i).text);
  const hints = new Set(
    issues.slice(0, 5).map((i) =>
      i.path.includes('remotes') ? 'declare the remote under remotes: (or with HYBRIDSYNC_REMOTE_<NAME>_TYPE)' : i.message.includes('level') ? 'declare the level under classification.levels' : 'declare the environment under environments',
    ),
  );
  throw new ConfigError(messages.join('\n'), { hint: [...hints].join('; ') });
}
