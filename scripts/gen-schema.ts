/** Writes schema/hybridsync.schema.json from the zod schema (npm run schema). */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.js';

const json = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
writeFileSync(
  new URL('../schema/hybridsync.schema.json', import.meta.url),
  `${JSON.stringify({ ...json, $id: 'https://hybridsync.dev/schema/hybridsync.schema.json', title: 'hybridsync.yaml' }, null, 2)}\n`,
);
