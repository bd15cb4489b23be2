/**
 * `hybridsync scrub IN OUT`: detects and replaces personal data in one CSV/TSV, JSON Lines
 * or text file, streaming, and prints what it replaced (counts per entity type, never the
 * values). OUT is written to a temporary file beside it and renamed into place, so a
 * failure never leaves a partial OUT. Binary files are copied unchanged and reported as
 * passed through.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { yaml } from '../config/yaml.js';
import { loadConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { AbortedError, ConfigError, UsageError } from '../core/errors.js';
import {
  createScrubber,
  defaultScrubConfig,
  loadPiiKey,
  loadPiiSection,
  parseScrubConfigText,
  PII_KEY_ENV,
  SCRUB_CONFIG_KEYS,
  type PiiSection,
  type ScrubFormat,
  type ScrubReport,
} from '../governance/pii/index.js';
import { processSignal, reportError } from './context.js';

export interface ScrubOptions {
  input: string;
  output: string;
  /** YAML/JSON scrub config, or hybridsync.yaml (its `pii:` section); defaults apply when absent. */
  config?: string;
  /** File holding the pseudonymization key; else `pii.keyFile` of hybridsync.yaml; else HYBRIDSYNC_PII_KEY. */
  keyFile?: string;
  format?: ScrubFormat;
  json?: boolean;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  out?: NodeJS.WritableStream;
}

/** Scrubs one file; resolves to the report, or rejects with a typed error. */
export async function scrubFile(o: ScrubOptions): Promise<ScrubReport> {
  const input = resolve(o.input);
  const output = resolve(o.output);
  if (input === output) throw new UsageError(`input and output are the same file: ${o.input}`, { hint: 'write OUT to a different path' });
  const inStat = await stat(input).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read input ${o.input}: ${e.code ?? e.message}`, { cause: e, hint: 'check the IN path' });
  });
  if (!inStat.isFile()) throw new UsageError(`input ${o.input} is not a regular file`, { hint: 'scrub takes one file; run it per file' });
  const outDir = dirname(output);
  const dirStat = await stat(outDir).catch(() => undefined);
  if (!dirStat?.isDirectory()) throw new UsageError(`output directory ${outDir} does not exist`, { hint: 'create it first, or choose another OUT' });

  const env = o.env ?? process.env;
  const settings = await readSettings(o.config, env);
  const config = settings.config;
  const keyFile = o.keyFile ?? settings.keyFile;
  const key = await loadPiiKey({ ...(keyFile !== undefined ? { keyFile } : {}), env });
  const scrubber = createScrubber(config, { fileName: basename(input), key, format: o.format });

  const tmp = join(outDir, `.${basename(output)}.scrub-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    await pipeline(createReadStream(input), scrubber.transform, createWriteStream(tmp, { flags: 'wx' }), { signal: o.signal });
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, output);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (o.signal?.aborted) throw new AbortedError(`scrub of ${o.input} interrupted; ${o.output} was not written`, { cause: e });
    throw e;
  }
  return scrubber.report();
}

/** Top-level keys only hybridsync.yaml has (`environments`, `remotes`, `pii`, …). */
const MAIN_CONFIG_KEYS = Object.keys(configSchema.shape).filter((k) => !SCRUB_CONFIG_KEYS.has(k));

/**
 * `--config` names a standalone scrub config, or hybridsync.yaml: a file with any key only
 * the main config has is loaded as sync loads it and its `pii:` section used (with its
 * `keyFile`), so an ad-hoc scrub gives the bytes the sync's scrub stage would upload.
 */
async function readSettings(path: string | undefined, env: NodeJS.ProcessEnv): Promise<Pick<PiiSection, 'config' | 'keyFile'>> {
  if (path === undefined) return { config: defaultScrubConfig(), keyFile: undefined };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read scrub config ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      cause: e,
      hint: 'check the path given to --config',
    });
  }
  if (!isMainConfig(text)) return { config: parseScrubConfigText(text, path), keyFile: undefined };
  const { config } = loadConfig(path, env);
  try {
    return loadPiiSection(config?.pii);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${path}: pii: ${e.message}`, { cause: e, hint: e.hint ?? '' });
    throw e;
  }
}

function isMainConfig(text: string): boolean {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch {
    return false; // parseScrubConfigText reports the syntax error
  }
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc) && MAIN_CONFIG_KEYS.some((k) => Object.hasOwn(doc, k));
}

/** One line for people: what was replaced, or why the file was passed through. */
export function describeReport(input: string, output: string, r: ScrubReport): string {
  if (r.passthrough) return `${input} -> ${output}: passed through unchanged (${r.reason ?? 'unsupported format'}); not scrubbed`;
  const counts = Object.entries(r.counts)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${t} ${n}`);
  const parts = [`${input} -> ${output}: ${r.format}, ${r.records} records`, counts.length > 0 ? `replaced ${counts.join(', ')}` : 'nothing to replace'];
  if (r.columns && r.columns.length > 0) {
    parts.push(`columns ${r.columns.map((c) => `${c} (${r.columnTypes?.[c] ?? '?'})`).join(', ')}`);
  }
  if (r.malformedRecords > 0) parts.push(`${r.malformedRecords} malformed lines scrubbed as text`);
  if (r.forcedSplits > 0) parts.push(`${r.forcedSplits} over-long lines split mid-word`);
  return parts.join('; ');
}

/** Runs the command: prints the report and returns the exit code. */
export async function runScrub(o: ScrubOptions): Promise<number> {
  const out = o.out ?? process.stdout;
  try {
    const report = await scrubFile(o);
    if (o.json) out.write(`${JSON.stringify({ v: 1, time: new Date().toISOString(), type: 'scrub', input: o.input, output: o.output, ...report })}\n`);
    else out.write(`${describeReport(o.input, o.output, report)}\n`);
    return 0;
  } catch (e) {
    return reportError(e, o.json);
  }
}

export function scrubCommand(): Command {
  return new Command('scrub')
    .description('replace personal data (emails, phones, cards, IBANs, SSNs, IPs, MACs, birth dates, PII columns) in a CSV, TSV, JSON Lines or text file')
    .argument('<in>', 'file to read')
    .argument('<out>', 'file to write (atomically: a temporary file renamed into place)')
    .option('--config <file>', 'scrub config, YAML or JSON (operators per entity type and column; see docs/pii.md), or hybridsync.yaml (its pii section)')
    .option('--key-file <file>', `secret key for the hash operator (default: $${PII_KEY_ENV})`)
    .addOption(new Option('--format <format>', 'read as this format instead of by extension and content').choices(['csv', 'tsv', 'jsonl', 'text']))
    .option('--json', 'print the report as one NDJSON line')
    .action(async (input: string, output: string, flags: { config?: string; keyFile?: string; format?: ScrubFormat; json?: boolean }) => {
      process.exitCode = await runScrub({ input, output, ...flags, signal: processSignal });
    });
}
