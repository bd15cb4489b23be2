/** Writes schema/hybridsync.schema.json from the zod schema and docs/options.md from the option table (npm run schema). */
import { writeFileSync } from 'node:fs';
import * as z from 'zod';
import { configSchema } from '../src/config/schema.js';
import { optionsMarkdown } from '../src/config/options.js';

const json = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
writeFileSync(
  new URL('../schema/hybridsync.schema.json', import.meta.url),
  `${JSON.stringify({ ...json, $id: 'https://hybridsync.dev/schema/hybridsync.schema.json', title: 'hybridsync.yaml' }, null, 2)}\n`,
);
writeFileSync(new URL('../docs/options.md', import.meta.url), optionsMarkdown());
