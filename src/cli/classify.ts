/**
 * `hybridsync classify PATH`: the level of a file (or of every file under a directory or
 * prefix) and the rule that decided it. `classify set|unset|list` manage the explicit
 * labels kept in the state database; every change is audited.
 */
import { statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Command } from 'commander';
import type { Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';
import { UsageError } from '../core/errors.js';
import { resolveLocation, type ResolveContext } from '../backends/registry.js';
import { loadConfig } from '../config/load.js';
import { actor } from '../governance/audit/recorder.js';
import { openAuditLog } from '../governance/audit/setup.js';
import { sourceViewOf } from '../governance/classify/classifier.js';
import { Governance, loadGovernanceConfig, TopBackends } from '../governance/gate.js';
import { remoteEndpointOf } from '../api/transfer.js';
import { LabelStore } from '../governance/labels.js';
import { defaultStatePath } from '../sync/state.js';
import { processSignal, reportError } from './context.js';

export interface GovernanceFlags {
  config?: string;
  state?: string;
  json?: boolean;
  s3Endpoint?: string;
  s3Region?: string;
  s3Profile?: string;
  s3AllowHttp?: boolean;
  caBundle?: string;
}

export function addGovernanceFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'hybridsync.yaml (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml if present)')
    .option('--state <file>', `state database holding the labels (default ${defaultStatePath()})`)
    .option('--json', 'NDJSON on stdout')
    .option('--s3-endpoint <url>', 'S3 endpoint (default AWS_ENDPOINT_URL or AWS)')
    .option('--s3-region <region>', 'S3 region')
    .option('--s3-profile <name>', 'AWS profile')
    .option('--s3-allow-http', 'allow plain http to a non-loopback endpoint')
    .option('--ca-bundle <file>', 'PEM CA bundle for https endpoints');
}

/** The remotes of the config and the connection flags of s3://, for resolving locations. */
export function resolveContextOf(f: GovernanceFlags): ResolveContext {
  return {
    remotes: loadConfig(f.config).remotes,
    s3: {
      ...(f.s3Endpoint ? { endpoint: f.s3Endpoint } : {}),
      ...(f.s3Region ? { region: f.s3Region } : {}),
      ...(f.s3Profile ? { profile: f.s3Profile } : {}),
      ...(f.s3AllowHttp ? { allowInsecureHttp: true } : {}),
      ...(f.caBundle ? { caBundle: f.caBundle } : {}),
    },
  };
}

/** Opens a location spec with the flags' settings. */
export function openSpecWith(ctx: ResolveContext): (spec: string) => Backend {
  return (spec) => resolveLocation(spec, ctx).open();
}

/** Output piped into `head` and closed: stop quietly, as other CLI tools do. */
let stdoutGuarded = false;
export function quietOnClosedStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

/** `concurrency` calls of fn at once over items, results in input order. */
export async function* mapOrdered<T, R>(items: AsyncIterable<T>, concurrency: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const window: Array<Promise<R>> = [];
  for await (const item of items) {
    const p = fn(item);
    p.catch(() => undefined); // awaited below, in order
    window.push(p);
    if (window.length >= concurrency) yield await window.shift()!;
  }
  while (window.length > 0) yield await window.shift()!;
}

/**
 * A location as a backend plus what to classify in it: one entry for a file, or all
 * entries (undefined) for a directory or prefix.
 */
export async function openTarget(path: string, ctx: ResolveContext): Promise<{ backend: Backend; only?: Entry }> {
  const loc = resolveLocation(path, ctx).location;
  if (loc.type === 's3' || loc.type === 'azureblob') {
    const asFile = path.endsWith('/') || loc.path === '' ? undefined : loc.path.slice(0, -1);
    if (asFile) {
      const parentSpec = path.slice(0, path.lastIndexOf('/') + 1);
      const parent = resolveLocation(parentSpec, ctx).open();
      const entry = await parent.stat(asFile.slice(asFile.lastIndexOf('/') + 1), { signal: processSignal });
      if (entry) return { backend: parent, only: entry };
      await parent.close?.();
    }
    return { backend: resolveLocation(path, ctx).open() };
  }
  if (loc.type !== 'local') return { backend: resolveLocation(path, ctx).open() };
  const abs = loc.path;
  let isDir = true;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new UsageError(`${path} does not exist`, { hint: 'give an existing file or directory' });
  }
  if (isDir) return { backend: resolveLocation(abs, ctx).open() };
  const parent = resolveLocation(dirname(abs), ctx).open();
  const only = await parent.stat(basename(abs), { signal: processSignal });
  if (!only) throw new UsageError(`${path} does not exist`);
  return { backend: parent, only };
}

/**
 * The canonical URI a label is stored under (the location's id, so one bucket name on
 * two endpoints is two things); directories and prefixes end in `/`.
 */
export function labelUri(path: string, ctx: ResolveContext): string {
  const loc = resolveLocation(path, ctx).location;
  if (loc.type !== 'local') {
    const tree = path.endsWith('/') || loc.path === '';
    return tree ? loc.id : loc.id.slice(0, -1);
  }
  let tree = path.endsWith('/');
  try {
    tree ||= statSync(loc.path).isDirectory();
  } catch {
    // a path that does not exist yet is labelled as a file unless it ends in /
  }
  return tree ? loc.id : loc.id.slice(0, -1);
}

async function classifyAction(path: string, f: GovernanceFlags): Promise<number> {
  quietOnClosedStdout();
  const ctx = resolveContextOf(f);
  const loaded = loadGovernanceConfig(f.config);
  const governance = await Governance.create(loaded.config ?? {}, process.env, remoteEndpointOf(loaded.remotes, ctx));
  const labels = new LabelStore(f.state ?? defaultStatePath());
  const tops = new TopBackends(openSpecWith(ctx));
  const target = await openTarget(path, ctx);
  try {
    const env = governance.environmentOf(target.backend.location);
    const view = sourceViewOf(target.backend, tops.open, env);
    const classifier = governance.classifier(labels);
    const entries: AsyncIterable<Entry> = target.only ? (async function* () { yield target.only!; })() : target.backend.list({ signal: processSignal });
    const counts = new Map<string, number>();
    for await (const r of mapOrdered(entries, 8, async (e) => ({ e, c: await classifier.classify(e, view, processSignal) }))) {
      counts.set(r.c.level, (counts.get(r.c.level) ?? 0) + 1);
      const shown = view.pathPrefix + r.e.key;
      if (f.json) {
        process.stdout.write(`${JSON.stringify({ path: shown, level: r.c.level, source: r.c.source, rule: r.c.rule, ...(r.c.findings ? { findings: r.c.findings } : {}) })}\n`);
      } else {
        process.stdout.write(`${r.c.level.padEnd(14)} ${r.c.source.padEnd(8)} ${shown}\n${' '.repeat(24)}${r.c.rule}\n`);
      }
    }
    if (!f.json && !target.only) {
      const order = governance.scale.levels.filter((l) => counts.has(l));
      process.stderr.write(`${[...counts.values()].reduce((a, b) => a + b, 0)} files: ${order.map((l) => `${counts.get(l)} ${l}`).join(', ') || 'none'}${env ? ` (environment ${env})` : ''}\n`);
    }
    return 0;
  } finally {
    labels.close();
    await tops.close();
    await target.backend.close?.();
  }
}

/** Applies a label change and audits it. */
async function changeLabel(path: string, level: string | undefined, f: GovernanceFlags): Promise<number> {
  const loaded = loadGovernanceConfig(f.config);
  const governance = await Governance.create(loaded.config ?? {});
  if (level !== undefined && !governance.scale.has(level)) {
    throw new UsageError(`unknown level "${level}"`, { hint: `levels are ${governance.scale.levels.join(', ')}` });
  }
  const statePath = f.state ?? defaultStatePath();
  const ctx = resolveContextOf(f);
  const uri = labelUri(path, ctx);
  const labels = new LabelStore(statePath);
  const who = actor();
  let previous;
  try {
    previous = level !== undefined ? labels.set(uri, level, who.user) : labels.unset(uri);
  } finally {
    labels.close();
  }
  const audit = openAuditLog({ cfg: loaded.config?.audit, statePath, openMirror: openSpecWith(ctx), flushIntervalMs: 0 });
  if (audit) {
    audit.log.append({ type: level !== undefined ? 'label-set' : 'label-unset', target: uri, ...(level !== undefined ? { level } : {}), previous: previous?.level ?? null, ...who });
    await audit.log.close();
  }
  if (f.json) process.stdout.write(`${JSON.stringify({ uri, level: level ?? null, previous: previous?.level ?? null })}\n`);
  else if (level !== undefined) process.stdout.write(`${uri}: ${level}${previous ? ` (was ${previous.level})` : ''}\n`);
  else process.stdout.write(previous ? `${uri}: label ${previous.level} removed\n` : `${uri} had no label\n`);
  return 0;
}

export function classifyCommand(): Command {
  const cmd = new Command('classify').description('show the classification level of files and which rule decided it; manage explicit labels');
  // `classify PATH` runs `show`: options live on the subcommands only, so `classify set … --state X` reaches `set`
  cmd.addCommand(
    addGovernanceFlags(
      new Command('show')
        .description('the level of a file, or of every file under a directory or prefix, and the rule that decided it (the default)')
        .argument('<path>', 'file, directory, file:///path or s3://bucket/prefix'),
    ).action(async (path: string, f: GovernanceFlags) => {
      try {
        process.exitCode = await classifyAction(path, f);
      } catch (err) {
        process.exitCode = reportError(err, f.json);
      }
    }),
    { isDefault: true },
  );
  cmd.addCommand(
    addGovernanceFlags(
      new Command('set')
        .description('label a file or directory tree with a level (overrides every other rule, kept in the state database)')
        .argument('<path>', 'file, directory (labels the tree) or s3://bucket/key or s3://bucket/prefix/')
        .argument('<level>', 'a classification level'),
    ).action(async (path: string, level: string, f: GovernanceFlags) => {
      try {
        process.exitCode = await changeLabel(path, level, f);
      } catch (err) {
        process.exitCode = reportError(err, f.json);
      }
    }),
  );
  cmd.addCommand(
    addGovernanceFlags(new Command('unset').description('remove the explicit label of a file or tree').argument('<path>')).action(async (path: string, f: GovernanceFlags) => {
      try {
        process.exitCode = await changeLabel(path, undefined, f);
      } catch (err) {
        process.exitCode = reportError(err, f.json);
      }
    }),
  );
  cmd.addCommand(
    addGovernanceFlags(new Command('list').description('list explicit labels').argument('[prefix]', 'only labels under this path or URI')).action(
      async (prefix: string | undefined, f: GovernanceFlags) => {
        try {
          const labels = new LabelStore(f.state ?? defaultStatePath());
          try {
            for (const l of labels.list(prefix !== undefined ? labelUri(prefix, resolveContextOf(f)).replace(/\/?$/, '') : undefined)) {
              if (f.json) process.stdout.write(`${JSON.stringify(l)}\n`);
              else process.stdout.write(`${l.level.padEnd(14)} ${l.uri}  (${l.setBy}, ${new Date(l.setAt).toISOString()})\n`);
            }
          } finally {
            labels.close();
          }
          process.exitCode = 0;
        } catch (err) {
          process.exitCode = reportError(err, f.json);
        }
      },
    ),
  );
  for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError('(run with --help for usage)');
  return cmd;
}
