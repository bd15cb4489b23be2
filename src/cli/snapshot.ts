/** `hybridsync snapshot create|list|verify`: signed, content-addressed manifests of a dataset location. */
import { Command } from 'commander';
import { createSnapshot, listSnapshots, verifySnapshot, type VerifyReport } from '../api/lineage.js';
import { IntegrityError } from '../core/errors.js';
import { formatBytes } from '../lib/units.js';
import { EXIT, exitCodeForError } from './exit.js';
import { addLineageFlags, contextOf, lineageAction, printJson, printListed, snapshotLine, under, type LineageFlags } from './lineage.js';

interface SnapshotFlags extends LineageFlags {
  name?: string;
  quick?: boolean;
}

/** Prints a verification report (snapshot or model); resolves with the exit code. */
export function printVerifyReport(r: VerifyReport, json: boolean): number {
  const problems = [
    ...r.manifest.problems.map((p) => ({ kind: `manifest-${p.kind}`, message: p.message })),
    ...(r.files?.problems ?? []).map((p) => ({ kind: p.kind, path: p.path, message: p.message })),
  ];
  if (json) {
    for (const p of problems) printJson('problem', { id: r.id, ...p });
    printJson('verify', { ok: r.ok, kind: r.kind, id: r.id, location: r.location, manifest: r.key, checked: r.files?.checked ?? 0, bytes: r.files?.bytes ?? 0, problems: problems.length, extra: r.files?.extra.length ?? 0, warnings: r.warnings });
  } else {
    const files = r.files ? `${r.files.checked} files, ${formatBytes(r.files.bytes)} checked` : 'files not checked';
    const out = [r.ok ? `OK ${r.id} at ${r.location}: ${files}; signature valid` : `FAILED ${r.id} at ${r.location}: ${problems.length} problem(s); ${files}`];
    for (const p of problems) out.push(`  ${p.kind.padEnd(18)} ${p.message}`);
    if (r.files?.extra.length) out.push(`  ${r.files.extra.length} file(s) there are not in the ${r.kind === 'dataset' ? 'snapshot' : 'version'} (added since), e.g. ${r.files.extra.slice(0, 3).join(', ')}`);
    for (const w of r.warnings) out.push(`  warning: ${w}`);
    process.stdout.write(`${out.join('\n')}\n`);
  }
  return r.ok ? EXIT.ok : exitCodeForError(new IntegrityError('verification failed'));
}

export function snapshotCommand(): Command {
  const cmd = new Command('snapshot').description('dataset snapshots: signed manifests of every file at a location (path, size, MD5, ETag)');
  cmd.addCommand(
    addLineageFlags(new Command('create').description('record a snapshot of every file at LOCATION, stored there under .hybridsync/manifests/ and indexed'))
      .argument('<location>', 'REMOTE:bucket/prefix, s3://bucket/prefix, az://container/prefix or a local path')
      .requiredOption('--name <name>', 'the dataset name (letters, digits, . _ -)')
      .action(
        lineageAction(async (location: string, f: SnapshotFlags) => {
          const s = await createSnapshot(location, { ...contextOf(f), name: f.name! });
          if (f.json) printJson('snapshot', s);
          else process.stdout.write(`snapshot ${s.id}: ${s.files} files, ${formatBytes(s.bytes)}\n  manifest ${under(s.location, s.key)} (sha256 ${s.sha256}, signed by ${s.keyId})\n`);
          return EXIT.ok;
        }),
      ),
  );
  cmd.addCommand(
    addLineageFlags(new Command('list').description('the snapshots recorded at LOCATION, read from its manifests (and indexed again)'))
      .argument('<location>', 'the dataset location')
      .action(
        lineageAction(async (location: string, f: SnapshotFlags) => {
          const list = await listSnapshots(location, contextOf(f));
          if (!f.json && list.length === 0) process.stderr.write(`no snapshots at ${location}\n`);
          return printListed(list, 'snapshot', !!f.json, snapshotLine);
        }),
      ),
  );
  cmd.addCommand(
    addLineageFlags(new Command('verify').description("recompute every file's MD5 from the objects and check the manifest's signature; exit 1 on any difference"))
      .argument('<location>', 'the dataset location')
      .argument('<snapshot>', 'NAME (the newest), NAME@ID or the snapshot id')
      .option('--quick', 'compare sizes and ETags (mtimes for files) instead of reading every object')
      .action(
        lineageAction(async (location: string, ref: string, f: SnapshotFlags) => {
          const r = await verifySnapshot(location, ref, { ...contextOf(f), ...(f.quick ? { quick: true } : {}) });
          return printVerifyReport(r, !!f.json);
        }),
      ),
  );
  for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError('(run with --help for usage)');
  return cmd;
}
