/**
 * `hybridsync lineage MODEL@N` (which snapshot, which files, which run and commit) and
 * `hybridsync lineage --dataset SNAPSHOT` (which models were trained on it); and the
 * flags and printing the snapshot and model commands share.
 */
import { Command } from 'commander';
import type { LineageContext, Listed, ModelInfo, SnapshotInfo } from '../api/lineage.js';
import { lineageOf, modelsTrainedOn } from '../api/lineage.js';
import { IntegrityError, UsageError } from '../core/errors.js';
import type { ManifestFile } from '../lineage/manifest.js';
import { formatBytes } from '../lib/units.js';
import { defaultStatePath } from '../sync/state.js';
import { processSignal, reportError } from './context.js';
import { EXIT, exitCodeForError } from './exit.js';
import { addConnectionOptions, connectionOf, type ConnectionFlags } from './transfer-options.js';

export interface LineageFlags extends ConnectionFlags {
  config?: string;
  state?: string;
  json?: boolean;
  publicKey?: string;
}

/** --config, --state, --json, --public-key and the s3:// connection flags. */
export function addLineageFlags(cmd: Command): Command {
  cmd
    .option('--config <file>', 'hybridsync.yaml: remotes, environments, policy, audit (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml if present)')
    .option('--state <file>', `state database; the lineage index is lineage.db beside it (default ${defaultStatePath()})`)
    .option('--public-key <file>', 'trusted Ed25519 public key (PEM) manifests must be signed with (default: the local audit signing key)')
    .option('--json', 'NDJSON on stdout');
  return addConnectionOptions(cmd);
}

export function contextOf(f: LineageFlags): LineageContext {
  return {
    ...connectionOf(f),
    ...(f.config ? { config: f.config } : {}),
    ...(f.state ? { statePath: f.state } : {}),
    ...(f.publicKey ? { publicKey: f.publicKey } : {}),
    signal: processSignal,
  };
}

/** Runs a command body; its result is the exit code, an error is printed and mapped. */
export function lineageAction<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const f = args.find((a): a is LineageFlags => typeof a === 'object' && a !== null && !(a instanceof Command)) ?? {};
    try {
      process.exitCode = await fn(...args);
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  };
}

/** A key under a location, for messages: `s3://b/p` + `x/y` → `s3://b/p/x/y`. */
export function under(location: string, rel: string): string {
  return `${location.replace(/\/+$/, '')}/${rel}`;
}

export function printJson(type: string, value: object): void {
  process.stdout.write(`${JSON.stringify({ type, ...value })}\n`);
}

/** Prints the manifests a location holds (or the index knows); exit 1 when any is invalid. */
export function printListed<T extends object>(list: ReadonlyArray<Listed<T>>, type: string, json: boolean, line: (info: T) => string): number {
  for (const m of list) {
    if (json) printJson(type, { key: m.key, valid: m.valid, problems: m.problems, ...m.info });
    else if (m.valid && m.info) process.stdout.write(`${line(m.info)}\n`);
    else process.stdout.write(`INVALID ${m.key}: ${m.problems.join('; ')}\n`);
  }
  return list.every((m) => m.valid) ? EXIT.ok : exitCodeForError(new IntegrityError('invalid manifests'));
}

export function snapshotLine(s: SnapshotInfo): string {
  return `${s.id}  ${s.created}  ${String(s.files).padStart(7)} files  ${formatBytes(s.bytes).padStart(10)}  ${s.location}`;
}

export function modelLine(m: ModelInfo): string {
  return `${m.versionId.padEnd(20)}  ${m.created}  dataset ${m.dataset.id}  run ${m.run}  commit ${m.commit.slice(0, 12)}  ${m.files} files, ${formatBytes(m.bytes)}`;
}

function fileLine(f: ManifestFile): string {
  return `    ${String(f.size).padStart(12)}  ${f.md5}  ${f.path}`;
}

interface LineageCmdFlags extends LineageFlags {
  dataset?: string;
  datasetLocation?: string;
  location?: string;
  files?: boolean;
}

export function lineageCommand(): Command {
  const cmd = new Command('lineage')
    .description('which dataset snapshot, which files, which run and commit a model version came from; with --dataset, the models trained on a snapshot')
    .argument('[version]', 'model version MODEL@N')
    .option('--dataset <snapshot>', 'the reverse: models trained on this snapshot (NAME, NAME@ID or the id)')
    .option('--location <location>', 'the model location (when the index does not know the version; with --dataset: read the models there)')
    .option('--dataset-location <location>', 'with --dataset: read the snapshot from this location instead of the index')
    .option('--files', "list the snapshot's and the model's files");
  return addLineageFlags(cmd).action(
    lineageAction(async (version: string | undefined, f: LineageCmdFlags) => {
      if ((version === undefined) === (f.dataset === undefined)) {
        throw new UsageError('give a model version or --dataset SNAPSHOT (one of them)', { hint: 'hybridsync lineage resnet@3, or hybridsync lineage --dataset imagenet' });
      }
      const ctx = contextOf(f);
      if (f.dataset !== undefined) {
        const r = await modelsTrainedOn(f.dataset, { ...ctx, ...(f.location ? { location: f.location } : {}), ...(f.datasetLocation ? { datasetLocation: f.datasetLocation } : {}) });
        if (f.json) {
          printJson('snapshot', r.dataset);
          for (const m of r.models) printJson('model', m);
        } else {
          process.stdout.write(`${snapshotLine(r.dataset)}\n`);
          process.stdout.write(r.models.length ? `${r.models.map((m) => `  ${modelLine(m)}  at ${m.location}`).join('\n')}\n` : '  no model versions trained on it are known\n');
        }
        return EXIT.ok;
      }
      const l = await lineageOf(version!, { ...ctx, ...(f.location ? { location: f.location } : {}), ...(f.files ? { files: true } : {}) });
      if (f.json) {
        printJson('lineage', { version: l.model.versionId, run: l.run, commit: l.commit, model: l.model, dataset: l.dataset, promotions: l.promotions });
        for (const file of l.datasetFiles ?? []) printJson('file', { of: 'dataset', snapshot: l.dataset.id, ...file });
        for (const file of l.modelFiles ?? []) printJson('file', { of: 'model', version: l.model.versionId, ...file });
        return EXIT.ok;
      }
      const m = l.model;
      const out = [
        `${m.versionId}  (${m.files} files, ${formatBytes(m.bytes)} at ${under(m.location, m.prefix)})`,
        `  run       ${l.run}`,
        `  commit    ${l.commit}${m.commitDirty ? ' (uncommitted changes)' : ''}`,
        `  dataset   ${l.dataset.id}  (${l.dataset.files} files, ${formatBytes(l.dataset.bytes)} at ${l.dataset.location}, snapshot of ${l.dataset.created})`,
        `  manifests signed and intact: model sha256 ${m.sha256}, snapshot sha256 ${l.dataset.sha256}`,
        ...l.promotions.map((p) => `  promoted  to ${p.target} at ${p.promoted}`),
      ];
      if (l.datasetFiles) out.push('  dataset files:', ...l.datasetFiles.map(fileLine));
      if (l.modelFiles) out.push('  model files:', ...l.modelFiles.map(fileLine));
      process.stdout.write(`${out.join('\n')}\n`);
      return EXIT.ok;
    }),
  );
}
