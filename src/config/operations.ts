/** hybridsync.yaml sections owned by operations (jobs, links, schedules, server). */
import { Cron } from 'croner';
import * as z from 'zod';
import { parseDuration, parseSizeWithUnit } from '../lib/units.js';
import { jobBisyncSchema } from './bisync.js';
import { jobFiltersSchema, jobTransferSchema } from './options.js';
import { jobStreamSchema } from './stream.js';

const valid = (parse: (s: string) => unknown) => (s: string) => {
  try {
    parse(s);
    return true;
  } catch {
    return false;
  }
};

/** A volume: a size with its unit (a bare number is refused, see parseSizeWithUnit). */
const volume = z.string({ error: 'a size with its unit, e.g. 40TB (10^12 bytes), 40TiB or 512GB; a bare number is ambiguous' }).superRefine((s, ctx) => {
  try {
    parseSizeWithUnit(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: /no unit/.test((e as Error).message) ? (e as Error).message : 'not a size: use forms like 40TB (10^12 bytes), 40TiB, 512GB' });
  }
});
const duration = z.string().refine(valid(parseDuration), { message: 'not a duration: use forms like 90s, 15m, 8h, 1d' });
const bitRate = z
  .string()
  .regex(/^\s*\d+(\.\d+)?\s*(bps|kbps|Mbps|Gbps|Tbps)\s*$/i, 'not a line rate: use forms like 500Mbps, 1Gbps, 10Gbps (decimal)');
const cron = z.string().refine(
  valid((s) => new Cron(s, { paused: true })),
  { message: 'not a cron expression: use five or six fields such as "0 22 * * *" (22:00 daily)' },
);
export const WINDOW_PATTERN = /^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)$/;

export const LINK_KINDS = ['direct-connect', 'expressroute', 'interconnect', 'vpn', 'sd-wan', 'internet', 'lan'] as const;

export const linkSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-"'),
    kind: z.enum(LINK_KINDS).default('direct-connect').describe('connectivity type'),
    capacity: bitRate.describe('line rate shared by every job on this link, e.g. 10Gbps (10^9 bit/s)'),
    warnAbove: z.number().gt(0).lte(1).default(0.7).describe('utilization share that triggers the warning'),
    warnAfter: duration.default('15m').describe('how long utilization must stay above warnAbove before warning'),
    lanes: z
      .object({ metadata: z.number().positive(), artifacts: z.number().positive(), bulk: z.number().positive() })
      .partial()
      .strict()
      .optional()
      .describe('lane weights (default metadata 16, artifacts 4, bulk 1)'),
  })
  .strict();

export const jobSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-"'),
    kind: z
      .enum(['sync', 'copy', 'bisync', 'stream', 'tier'])
      .default('sync')
      .describe(
        'sync mirrors (deletes extraneous files), copy only adds, bisync syncs both ways, stream follows appended files (push) or new objects (pull) continuously, tier applies the tier: rules (hybridsync tier apply)',
      ),
    watch: z.boolean().optional().describe('bisync: keep running from the daemon\'s start, syncing on changes on either side (watch mode)'),
    bisync: jobBisyncSchema.optional().describe('bisync options: conflict, maxConflicts, checkAccess, merge, pollInterval'),
    direction: z.enum(['push', 'pull']).optional().describe('kind: stream only: push follows local files into segment objects, pull brings objects home'),
    stream: jobStreamSchema.optional().describe('kind: stream only: the options of stream push / pull (segmentSize, segmentAge, ...)'),
    tier: z
      .object({ rules: z.array(z.string().min(1)).min(1).optional().describe('the tier rules to apply (tier.rules[].name); default all') })
      .strict()
      .optional()
      .describe('kind: tier only: which tier rules the job applies'),
    source: z.string().min(1).optional().describe('a location: REMOTE:bucket/prefix, s3://bucket/prefix, az://container/prefix or a local path (every kind but tier)'),
    destination: z.string().min(1).optional().describe('a location, as source (every kind but tier)'),
    schedule: cron.optional().describe('cron expression; without it the job runs only when triggered'),
    timezone: z.string().optional().describe('IANA time zone of schedule and window (default: local)'),
    window: z.string().regex(WINDOW_PATTERN, 'use HH:MM-HH:MM, e.g. 22:00-06:00').optional().describe('run window; a run stops cleanly at its end'),
    catchUp: z.enum(['skip', 'once']).default('once').describe('runs missed while the daemon was down: run once at start, or skip'),
    link: z.string().optional().describe('the link this job crosses (links[].name)'),
    lane: z.enum(['metadata', 'artifacts', 'bulk']).default('bulk').describe('priority lane on the link'),
    retry: z
      .object({ attempts: z.number().int().min(1).default(3), backoff: duration.default('1m') })
      .strict()
      .default({ attempts: 3, backoff: '1m' })
      .describe('whole-run retries after a failed run, with exponential backoff'),
    filters: jobFiltersSchema.optional().describe('which files the job covers (the filter options of sync)'),
    transfer: jobTransferSchema.optional().describe('transfer options of sync/copy (the same names as the flags, in camelCase)'),
    s3: z
      .object({
        endpoint: z.string().optional(),
        region: z.string().optional(),
        pathStyle: z.boolean().optional(),
        profile: z.string().optional(),
        allowHttp: z.boolean().optional(),
        caBundle: z.string().optional(),
      })
      .strict()
      .optional()
      .describe('the connection of s3:// locations in this job (named remotes carry their own)'),
    volume: volume.optional().describe('expected bytes per run, for the bandwidth planner until history exists'),
    seed: volume.optional().describe('bytes of the initial copy, for seeding advice'),
    governance: z
      .object({
        config: z
          .string()
          .describe('a hybridsync.yaml whose environments, classification, policy, audit and tls apply to this job instead of this file\'s (relative to this file)'),
      })
      .strict()
      .optional()
      .describe('governance settings for this job (default: the governance sections of this file)'),
  })
  .strict();

/** A caching gateway the daemon shows on its dashboard: found through its cache directory on this host, or at a URL. */
export const gatewayRefSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-"'),
    cache: z.string().min(1).optional().describe('the cache directory of a gateway on this host: its address and admin token are read from there'),
    url: z.url().optional().describe("the gateway's S3 address (its admin API is under /_hybridsync/), when it runs elsewhere"),
    tokenEnv: z.string().optional().describe('with url: the environment variable holding its admin token (HYBRIDSYNC_GATEWAY_ADMIN_TOKEN by default)'),
  })
  .strict()
  .refine((g) => (g.cache === undefined) !== (g.url === undefined), { message: 'give the cache directory or the url of the gateway (one of them)' });

export const operationsSchema = z.object({
  links: z.array(linkSchema).optional().describe('network links between environments and their capacity'),
  jobs: z.array(jobSchema).optional().describe('scheduled sync and copy jobs'),
  gateways: z.array(gatewayRefSchema).optional().describe('caching gateways (hybridsync gateway) the daemon polls for its dashboard: hit ratio, dirty bytes, upload lag, conflicts'),
  server: z
    .object({
      listen: z.string().default('127.0.0.1:8787').describe('HOST:PORT of the HTTP API and dashboard'),
      tokenEnv: z.string().default('HYBRIDSYNC_API_TOKEN').describe('environment variable holding the bearer token'),
      allowedHosts: z
        .array(z.string())
        .optional()
        .describe('names the Host header may carry besides the listen address (a DNS name, a reverse proxy): "name" on any port, "name:port"'),
    })
    .strict()
    .optional(),
});

export type LinkConfig = z.infer<typeof linkSchema>;
export type JobConfig = z.infer<typeof jobSchema>;
export type GatewayRef = z.infer<typeof gatewayRefSchema>;
export type OperationsConfig = z.infer<typeof operationsSchema>;
