/**
 * The YAML parser, loaded the first time a config file is read: a command run without one
 * (most syncs) does not pay its start-up (~0.1–0.3 s of CPU for its ~60 modules).
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
const require = createRequire(import.meta.url);
let lib: Yaml | undefined;

export function yaml(): Yaml {
  return (lib ??= require('yaml') as Yaml);
}
