/**
 * The `tier:` section of hybridsync.yaml: rules that move cold objects to an archive
 * storage class (S3) or access tier (Azure), and the gateway caches whose access times the
 * rules may use. The storage class names and their order from warm to cold live here, so
 * the config, the planner (src/tier/plan.ts) and the messages agree on them.
 * assertTierReferences runs after the schema, on the same text, for what zod cannot see:
 * unique rule names, the remotes a location names, and a class that exists on that store.
 */
import * as z from 'zod';
import { ConfigError } from '../core/errors.js';
import type { BackendType } from '../core/location.js';
import { parseDuration, parseSize } from '../lib/units.js';
import { validString } from './options.js';
import { formatConfigIssue, type ConfigIssue } from './positions.js';
import { yaml } from './yaml.js';
import type { RemoteSet } from './remotes.js';

/**
 * S3 storage classes from warm to cold (a rank: tiering only ever moves an object to a
 * higher one). GLACIER and DEEP_ARCHIVE need a restore before reading; GLACIER_IR does not.
 */
export const S3_CLASS_RANK: Readonly<Record<string, number>> = {
  STANDARD: 0,
  REDUCED_REDUNDANCY: 0,
  EXPRESS_ONEZONE: 0,
  OUTPOSTS: 0,
  SNOW: 0,
  INTELLIGENT_TIERING: 1,
  STANDARD_IA: 2,
  ONEZONE_IA: 2,
  GLACIER_IR: 3,
  GLACIER: 4,
  DEEP_ARCHIVE: 5,
};
/** Azure access tiers from warm to cold. Archive needs rehydration before reading. */
export const AZURE_TIER_RANK: Readonly<Record<string, number>> = { Hot: 0, Cool: 2, Cold: 3, Archive: 5 };

/** S3 classes whose objects must be restored before they can be read (Intelligent-Tiering's archive tiers aside). */
export const S3_ARCHIVE_CLASSES: readonly string[] = ['GLACIER', 'DEEP_ARCHIVE'];

/** Whether objects in this class must be restored (S3) or rehydrated (Azure) before they can be read. */
export function needsRestore(type: BackendType, storageClass: string): boolean {
  return type === 's3' ? S3_ARCHIVE_CLASSES.includes(storageClass) : type === 'azureblob' ? storageClass.toLowerCase() === 'archive' : false;
}

/** Classes a rule may move objects to: the colder ones. */
export const S3_TARGET_CLASSES = Object.keys(S3_CLASS_RANK).filter((c) => S3_CLASS_RANK[c]! > 0);
export const AZURE_TARGET_TIERS = ['Cool', 'Cold', 'Archive'];

/** A class name as the store spells it (Azure tiers are case-insensitive: `archive` → `Archive`), or undefined if unknown there. */
export function canonicalClass(type: BackendType, name: string): string | undefined {
  if (type === 's3') return S3_CLASS_RANK[name] !== undefined ? name : undefined;
  if (type === 'azureblob') return Object.keys(AZURE_TIER_RANK).find((t) => t.toLowerCase() === name.toLowerCase());
  return undefined;
}

/** Warm-to-cold rank of a class on a store; undefined for a class hybridsync does not know. */
export function classRank(type: BackendType, name: string): number | undefined {
  const c = canonicalClass(type, name);
  return c === undefined ? undefined : type === 's3' ? S3_CLASS_RANK[c] : AZURE_TIER_RANK[c];
}

const duration = validString(parseDuration, 'not a duration: use forms like 30d, 12h, 90m');
const globs = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const tierRuleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-"').describe('names the rule in plans, events and audit records'),
    location: z
      .string()
      .min(1)
      .describe('where the rule applies: REMOTE:bucket/prefix, s3://bucket/prefix or az://container/prefix (an object store)'),
    include: globs.optional().describe('only keys matching (relative to location; "**" crosses directories, a pattern without "/" matches the base name anywhere)'),
    exclude: globs.optional().describe('leave keys matching alone'),
    minSize: z
      .union([z.number().int().min(0), validString(parseSize, 'not a size: use forms like 128K, 1M')])
      .optional()
      .describe('only objects at least this big (archive classes bill small objects as if larger: S3 Glacier adds 40 KiB per object)'),
    olderThan: duration
      .optional()
      .describe("only objects last modified longer ago than this: the content's mtime where hybridsync or rclone recorded it, else the store's Last-Modified"),
    notAccessedFor: duration
      .optional()
      .describe("only objects not read for this long: the access time a gateway cache (tier.gateways) recorded; where none did, the last modification stands in"),
    storageClass: z
      .string()
      .min(1)
      .describe(`the class to move to: S3 ${S3_TARGET_CLASSES.join(', ')}; Azure ${AZURE_TARGET_TIERS.join(', ')}`),
  })
  .strict()
  .refine((r) => r.olderThan !== undefined || r.notAccessedFor !== undefined, {
    message: 'a rule needs olderThan, notAccessedFor or both (without an age every object would move)',
  });

export const tierGatewaySchema = z
  .object({
    cache: z.string().min(1).describe("the gateway's cache directory (its --cache): access times are read from its index"),
    upstream: z.string().min(1).describe("the gateway's upstream (its --upstream): the location its keys are relative to"),
  })
  .strict();

/** The `tier:` section. */
export const tierSchema = z
  .object({
    gateways: z.array(tierGatewaySchema).optional().describe('caching gateways whose recorded access times rules with notAccessedFor use'),
    rules: z.array(tierRuleSchema).min(1).describe('the rules; an object matched by several moves to the coldest class among them'),
  })
  .strict();

export type TierRuleConfig = z.infer<typeof tierRuleSchema>;
export type TierGatewayConfig = z.infer<typeof tierGatewaySchema>;
export type TierConfig = z.infer<typeof tierSchema>;

/** The store type a location spec names, without opening it: s3://, az://, a remote's type; undefined for a local path. */
export function storeTypeOf(spec: string, remotes: RemoteSet): BackendType | 'unknown-remote' | undefined {
  if (/^s3:\/\//i.test(spec)) return 's3';
  if (/^az:\/\//i.test(spec)) return 'azureblob';
  const m = /^([A-Za-z][A-Za-z0-9_-]*):(?!\/\/)/.exec(spec);
  if (!m) return undefined;
  const r = remotes.get(m[1]!);
  if (!r) return 'unknown-remote';
  return r.type === 'local' ? undefined : r.type;
}

function tierIssues(t: TierConfig, remotes: RemoteSet): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const place = (spec: string, path: PropertyKey[]): BackendType | undefined => {
    const type = storeTypeOf(spec, remotes);
    if (type === 'unknown-remote') issues.push({ path, message: `no remote named "${spec.split(':')[0]}"` });
    else if (type === undefined) issues.push({ path, message: `"${spec}" is not an object store: storage classes exist on S3 and Azure locations only` });
    else return type;
    return undefined;
  };
  t.rules.forEach((r, i) => {
    if (seen.has(r.name)) issues.push({ path: ['tier', 'rules', i, 'name'], message: `the rule name "${r.name}" is used twice` });
    seen.add(r.name);
    const type = place(r.location, ['tier', 'rules', i, 'location']);
    if (type && !(type === 's3' ? S3_TARGET_CLASSES.includes(r.storageClass) : AZURE_TARGET_TIERS.some((c) => c.toLowerCase() === r.storageClass.toLowerCase()))) {
      const allowed = type === 's3' ? S3_TARGET_CLASSES : AZURE_TARGET_TIERS;
      issues.push({ path: ['tier', 'rules', i, 'storageClass'], message: `"${r.storageClass}" is no ${type === 's3' ? 'S3 storage class' : 'Azure access tier'} a rule can move to; use one of ${allowed.join(', ')}` });
    }
  });
  (t.gateways ?? []).forEach((g, i) => place(g.upstream, ['tier', 'gateways', i, 'upstream']));
  return issues;
}

/** Cross-checks the tier section against the remotes; ConfigError with file:line:column. */
export function assertTierReferences(t: TierConfig | undefined, text: string, file: string, remotes: RemoteSet): void {
  if (!t) return;
  const issues = tierIssues(t, remotes);
  if (issues.length === 0) return;
  const { LineCounter, parseDocument } = yaml();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const messages = issues.slice(0, 5).map((i) => formatConfigIssue(file, doc.contents, lc, i).text);
  throw new ConfigError(messages.join('\n'), { hint: 'see docs/tiering.md for the rule keys and the classes each store knows' });
}
