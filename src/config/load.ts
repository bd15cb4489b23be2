/**
 * Loads hybridsync.yaml: YAML syntax errors and schema violations both come back as a
 * ConfigError naming the file, line and column, and the fix where one is obvious.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { yaml } from './yaml.js';
import { ConfigError } from '../core/errors.js';
import { assertGovernanceReferences } from './governance.js';
import { configIssues, formatConfigIssue } from './positions.js';
import { RemoteSet } from './remotes.js';
import { configSchema, type HybridsyncConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'hybridsync.yaml';

export function parseConfig(text: string, file = DEFAULT_CONFIG_FILE): HybridsyncConfig {
  const { LineCounter, parseDocument } = yaml();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
    throw new ConfigError(`${file}:${pos?.line ?? '?'}:${pos?.col ?? '?'}: YAML syntax error: ${e.message.split('\n')[0]}`, {
      hint: 'fix the YAML syntax at that position',
    });
  }
  const data: unknown = doc.toJS() ?? {};
  const r = configSchema.safeParse(data);
  if (r.success) return r.data;
  // in file order, so the first message is the first problem a reader meets
  const messages = configIssues(configSchema, r.error.issues, data)
    .map((issue) => formatConfigIssue(file, doc.contents, lc, issue))
    .sort((a, b) => a.line - b.line)
    .slice(0, 5)
    .map((m) => m.text);
  throw new ConfigError(messages.join('\n'), { hint: 'see schema/hybridsync.schema.json for the allowed keys and values' });
}

export function loadConfigFile(path: string): HybridsyncConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
      hint: 'check the path given with --config',
    });
  }
  return parseConfig(text, path);
}

/** A loaded hybridsync.yaml (or none) and the remotes of the file and the environment. */
export interface LoadedConfig {
  readonly config: HybridsyncConfig | undefined;
  readonly file?: string;
  readonly sha256?: string;
  readonly remotes: RemoteSet;
}

/**
 * `--config`, else HYBRIDSYNC_CONFIG, else ./hybridsync.yaml when present, else none (the
 * remotes then come from HYBRIDSYNC_REMOTE_* alone). Cross references are checked with
 * file:line:column.
 */
export function loadConfig(flag?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  const explicit = flag ?? env.HYBRIDSYNC_CONFIG;
  const file = explicit ?? (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined);
  if (file === undefined) return { config: undefined, remotes: RemoteSet.load(undefined, env) };
  const path = resolve(cwd, file);
  const config = loadConfigFile(path);
  const text = readFileSync(path, 'utf8');
  const remotes = RemoteSet.load(config.remotes, env);
  assertGovernanceReferences(config, text, path, new Set(remotes.names()));
  return { config, file: path, sha256: createHash('sha256').update(text).digest('hex'), remotes };
}
