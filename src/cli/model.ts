/** `hybridsync model push|list|promote|verify`: immutable, signed model versions that name their dataset snapshot. */
import { Command } from 'commander';
import { listModels, promoteModel, pushModel, verifyModel } from '../api/lineage.js';
import { parseModelVersion } from '../lineage/manifest.js';
import { formatBytes } from '../lib/units.js';
import { EXIT } from './exit.js';
import { addLineageFlags, contextOf, lineageAction, modelLine, printJson, printListed, under, type LineageFlags } from './lineage.js';
import { printVerifyReport } from './snapshot.js';

interface ModelFlags extends LineageFlags {
  run?: string;
  dataset?: string;
  datasetLocation?: string;
  model?: string;
  commit?: string;
  location?: string;
  quick?: boolean;
  maxDelete?: string;
}

/** `--model NAME` or `--model NAME@N` (a given version; the root command owns --version). */
function modelOf(v: string | undefined): { model?: string; version?: number } {
  if (v === undefined) return {};
  if (!v.includes('@')) return { model: v };
  return parseModelVersion(v);
}

export function modelCommand(): Command {
  const cmd = new Command('model').description('model versions: immutable, signed manifests naming the dataset snapshot, run and git commit');
  cmd.addCommand(
    addLineageFlags(new Command('push').description('upload DIR as a new model version at LOCATION/<model>/v<n>/ (governed, verified, audited copy) and record its lineage'))
      .argument('<dir>', 'the directory the model was written to')
      .argument('<location>', 'the model location, e.g. s3://models/resnet')
      .requiredOption('--run <id>', 'id of the training run that produced it')
      .requiredOption('--dataset <snapshot>', 'the dataset snapshot it was trained on: NAME (the newest), NAME@ID or the id')
      .option('--dataset-location <location>', 'read the snapshot from this location instead of the lineage index')
      .option('--model <name[@n]>', "model name (default: DIR's name), with @N a given version number (default: the next one at LOCATION)")
      .option('--commit <sha>', 'git commit of the training code (default: HEAD of the checkout DIR, else the working directory, is in)')
      .action(
        lineageAction(async (dir: string, location: string, f: ModelFlags) => {
          const r = await pushModel(dir, location, {
            ...contextOf(f),
            run: f.run!,
            dataset: f.dataset!,
            ...(f.datasetLocation ? { datasetLocation: f.datasetLocation } : {}),
            ...modelOf(f.model),
            ...(f.commit ? { commit: f.commit } : {}),
          });
          if (f.json) printJson('model', r);
          else if (r.alreadyPushed) process.stdout.write(`${r.versionId} is already at ${r.location} with these files; nothing sent\n`);
          else {
            process.stdout.write(
              `pushed ${r.versionId} to ${under(r.location, r.prefix)}: ${r.files} files, ${formatBytes(r.bytes)}\n  dataset ${r.dataset.id}, run ${r.run}, commit ${r.commit}${r.commitDirty ? ' (uncommitted changes)' : ''}\n  manifest ${r.key} (sha256 ${r.sha256})\n`,
            );
          }
          return EXIT.ok;
        }),
      ),
  );
  cmd.addCommand(
    addLineageFlags(new Command('list').description('model versions at LOCATION (read from its manifests, and indexed again), or every version the index knows'))
      .argument('[location]', 'the model location')
      .action(
        lineageAction(async (location: string | undefined, f: ModelFlags) => {
          const list = await listModels(location, contextOf(f));
          if (!f.json && list.length === 0) process.stderr.write(location ? `no model versions at ${location}\n` : 'no model versions in the index\n');
          return printListed(list, 'model', !!f.json, (m) => `${modelLine(m)}${location === undefined ? `  at ${m.location}` : ''}`);
        }),
      ),
  );
  cmd.addCommand(
    addLineageFlags(new Command('promote').description("copy a version's files to TARGET (e.g. a production prefix): governed, hash-checked there against the manifest, audited"))
      .argument('<version>', 'MODEL@N')
      .argument('<target>', 'where the version goes, e.g. s3://prod/models/resnet')
      .option('--location <location>', 'the model location, when the index does not know the version')
      .option('--max-delete <n|PERCENT%>', "TARGET's files not in the version that may be deleted (default 50%)")
      .action(
        lineageAction(async (version: string, target: string, f: ModelFlags) => {
          const r = await promoteModel(version, target, { ...contextOf(f), ...(f.location ? { location: f.location } : {}), ...(f.maxDelete ? { options: { maxDelete: f.maxDelete } } : {}) });
          if (f.json) printJson('promote', r);
          else {
            const t = r.transformed.length ? `; ${r.transformed.length} transformed by the target's policy` : '';
            process.stdout.write(`promoted ${r.versionId} to ${r.target}: ${r.files} files, ${formatBytes(r.bytes)}, every MD5 checked there (${r.transfer.transferred} copied, ${r.transfer.skipped} already there${t})\n`);
          }
          return EXIT.ok;
        }),
      ),
  );
  cmd.addCommand(
    addLineageFlags(new Command('verify').description("recompute every file's MD5 of a version and check its manifest's signature; exit 1 on any difference"))
      .argument('<version>', 'MODEL@N')
      .option('--location <location>', 'the model location, when the index does not know the version')
      .option('--quick', 'compare sizes and ETags instead of reading every object')
      .action(
        lineageAction(async (version: string, f: ModelFlags) => {
          const r = await verifyModel(version, { ...contextOf(f), ...(f.location ? { location: f.location } : {}), ...(f.quick ? { quick: true } : {}) });
          return printVerifyReport(r, !!f.json);
        }),
      ),
  );
  for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError('(run with --help for usage)');
  return cmd;
}
