/** `hybridsync seed export|verify` and `hybridsync adopt`: flags and printing; the logic is in api/seed.ts. */
import { Command } from 'commander';
import { adoptInto, seedExport, seedVerify } from '../api/seed.js';
import { formatBytes } from '../lib/units.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';
import { addConnectionOptions, connectionOf, type ConnectionFlags } from './transfer-options.js';

type CommonFlags = ConnectionFlags & { state?: string; config?: string; json?: boolean };

function addCommon(cmd: Command): Command {
  cmd
    .option('--state <file>', 'state database (its directory holds the audit signing key)')
    .option('--config <file>', 'hybridsync.yaml: remotes, audit key location')
    .option('--json', 'NDJSON on stdout');
  return addConnectionOptions(cmd);
}

function contextOf(f: CommonFlags) {
  return { ...connectionOf(f), ...(f.config ? { config: f.config } : {}), ...(f.state ? { statePath: f.state } : {}), json: !!f.json, signal: processSignal };
}

function out(f: CommonFlags, type: string, o: object, human: string): void {
  if (f.json) process.stdout.write(`${JSON.stringify({ v: 1, time: new Date().toISOString(), type, ...o })}\n`);
  else process.stderr.write(`${human}\n`);
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function seedCommand(): Command {
  const cmd = new Command('seed').description('offline seeding: export a bundle for a transfer device (then import it with any tool and `hybridsync adopt`)');
  const exp = new Command('export')
    .description('copy SRC into DIR/data (mtimes kept) and write DIR/manifest.ndjson: sizes and MD5s, signed with the audit key')
    .argument('<src>', 'source location')
    .argument('<dir>', 'bundle directory on the transfer device')
    .option('--include <glob>', 'only files matching (repeatable)', collect)
    .option('--exclude <glob>', 'skip files matching (repeatable)', collect)
    .option('--transfers <n>', 'files copied in parallel');
  addCommon(exp).action(async (src: string, dir: string, f: CommonFlags & { include?: string[]; exclude?: string[]; transfers?: string }) => {
    try {
      const options = { ...(f.include ? { include: f.include } : {}), ...(f.exclude ? { exclude: f.exclude } : {}), ...(f.transfers ? { transfers: f.transfers } : {}) };
      const r = await seedExport({ ...contextOf(f), src, dir, options });
      out(f, 'seed-export', r, `seed bundle: ${r.files} files (${formatBytes(r.bytes)}) in ${r.dataDir}; manifest ${r.manifest} signed by ${r.keyId}\n  next: import ${r.dataDir}/ into the destination with any tool, then: hybridsync adopt ${src} DST`);
      process.exitCode = EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
  const verify = new Command('verify')
    .description("check a bundle: the manifest's signature and every file's size and MD5")
    .argument('<dir>', 'bundle directory')
    .option('--public-key <file>', "the exporting site's audit public key (default: the local key's)");
  addCommon(verify).action(async (dir: string, f: CommonFlags & { publicKey?: string }) => {
    try {
      const r = await seedVerify({ ...contextOf(f), dir, ...(f.publicKey ? { publicKeyFile: f.publicKey } : {}) });
      out(f, 'seed-verify', r, `manifest signed by ${r.keyId}: ${r.files} files (${formatBytes(r.bytes)}), ${r.bad.length} bad${r.bad.map((b) => `\n  ${b.key}: ${b.problem}`).join('')}`);
      process.exitCode = r.bad.length ? EXIT.partial : EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
  for (const c of [exp, verify]) cmd.addCommand(c.exitOverride().showHelpAfterError('(run with --help for usage)'));
  return cmd;
}

export function adoptCommand(): Command {
  const cmd = new Command('adopt')
    .description('record objects already at DST (imported by any tool) as synced when their content matches SRC, without transferring; the next sync moves only the delta')
    .argument('<src>', 'source location')
    .argument('<dst>', 'destination location holding the imported objects')
    .option('--download', 'read objects no stored hash or ETag can vouch for (a download each)')
    .option('--dry-run', 'report what would be adopted, record nothing')
    .option('--include <glob>', 'only files matching (repeatable)', collect)
    .option('--exclude <glob>', 'skip files matching (repeatable)', collect)
    .option('--checkers <n>', 'files compared in parallel')
    .option('-v, --verbose', 'print every file');
  return addCommon(cmd).action(async (src: string, dst: string, f: CommonFlags & { download?: boolean; dryRun?: boolean; include?: string[]; exclude?: string[]; checkers?: string; verbose?: boolean }) => {
    try {
      const options = { ...(f.include ? { include: f.include } : {}), ...(f.exclude ? { exclude: f.exclude } : {}), ...(f.checkers ? { checkers: f.checkers } : {}) };
      const s = await adoptInto({
        ...contextOf(f),
        src,
        dst,
        options,
        download: !!f.download,
        dryRun: !!f.dryRun,
        onAdopt: (e) => {
          if (f.json) out(f, e.type, e, '');
          else if (f.verbose || (e.type === 'not-adopted' && e.reason !== 'missing')) process.stderr.write(`${e.type} ${e.key}${'by' in e ? ` (${e.by}${e.partSize ? `, ${e.partSize / 1048576} MiB parts` : ''})` : ` (${e.reason}${e.detail ? `: ${e.detail}` : ''})`}\n`);
        },
      });
      out(
        f,
        'adopt-summary',
        { summary: s },
        `${f.dryRun ? 'would adopt' : 'adopted'} ${s.adopted} files (${formatBytes(s.bytes)}); ${s.missing} not at the destination (the next sync sends them), ${s.differs} differ, ${s.unverified} unverified, ${s.failed} failed`,
      );
      process.exitCode = s.failed > 0 ? EXIT.partial : EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
}
