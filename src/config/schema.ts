/**
 * The hybridsync.yaml schema. Sections are owned by the modules that use them and composed
 * here; the JSON schema published in schema/hybridsync.schema.json is generated from this
 * (npm run schema), so editors autocomplete and validate the file.
 */
import * as z from 'zod';
import { bisyncSchema } from './bisync.js';
import { datasetsSchema } from './datasets.js';
import { governanceSchema } from './governance.js';
import { operationsSchema } from './operations.js';
import { remotesSchema } from './remotes.js';
import { tierSchema } from './tier.js';

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1).default(1).describe('config format version'),
    /** Where the state database lives (default ~/.hybridsync/state.db). */
    stateFile: z.string().optional().describe('path of the state database'),
    remotes: remotesSchema.optional(),
    bisync: bisyncSchema.optional().describe('two-way sync: merge drivers by glob, source of truth for conflicts'),
    tier: tierSchema.optional().describe('tiering: rules that move cold objects to an archive storage class (hybridsync tier apply)'),
    datasets: datasetsSchema.optional(),
  })
  .extend(governanceSchema.shape)
  .extend(operationsSchema.shape)
  .strict();

export type HybridsyncConfig = z.infer<typeof configSchema>;
