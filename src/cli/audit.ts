/**
 * `hybridsync audit verify|export|report|public-key`: checking the tamper-evident audit
 * trail, exporting it (CSV, JSON Lines, OCSF) and summarising it for compliance.
 */
import { createWriteStream, existsSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { Command } from 'commander';
import { IntegrityError, UsageError } from '../core/errors.js';
import { openSpecWith, resolveContextOf } from './classify.js';
import { compileFilter, csvHeader, readAuditRecords, RunActors, toCsvRow, toOcsf, type AuditFilter } from '../governance/audit/export.js';
import { BackendCheckpointMirror } from '../governance/audit/mirror.js';
import { ReportAggregator } from '../governance/audit/report.js';
import { auditPaths } from '../governance/audit/setup.js';
import { loadOrCreateSigner, trustedPublicKey } from '../governance/audit/signing.js';
import { verifyAuditLog, type VerifyResult } from '../governance/audit/verify.js';
import { crossCheckWorkerTrail } from '../governance/audit/cross-check.js';
import { compileClassification } from '../governance/classify/rules.js';
import { loadGovernanceConfig } from '../governance/gate.js';
import { parseDuration } from '../lib/units.js';
import { defaultStatePath } from '../sync/state.js';
import { addGovernanceFlags, quietOnClosedStdout, type GovernanceFlags } from './classify.js';
import { processSignal, reportError } from './context.js';
import { EXIT, exitCodeForError } from './exit.js';

interface AuditFlags extends GovernanceFlags {
  log?: string;
  publicKey?: string;
  mirror: string[];
  verify: boolean;
  out?: string;
  format?: string;
  since?: string;
  until?: string;
  environment?: string;
  classification?: string;
  type: string[];
  workerState: string[];
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function addLogFlags(cmd: Command): Command {
  return addGovernanceFlags(cmd)
    .option('--log <file>', 'the audit log (default: audit.dir of the config, else <state dir>/audit/audit.jsonl)')
    .option('--public-key <file>', 'trusted Ed25519 public key (PEM) checkpoints must be signed with (default: the local signing key)');
}

function addFilterFlags(cmd: Command): Command {
  return cmd
    .option('--since <time>', 'records at or after this time: ISO 8601, or a duration ago such as 7d')
    .option('--until <time>', 'records before this time: ISO 8601, or a duration ago')
    .option('--environment <id>', 'records whose source or destination is in this environment')
    .option('--classification <level>', 'records of this level, or LEVEL+ for this level and above')
    .option('--type <type>', 'record type: transfer, denied, delete, skip, ... (repeatable)', collect, [])
    .option('--no-verify', 'do not verify the log first');
}

function context(f: AuditFlags) {
  const loaded = loadGovernanceConfig(f.config);
  const paths = auditPaths(loaded.config?.audit, f.state ?? defaultStatePath());
  const file = f.log ?? paths.file;
  if (!existsSync(file)) throw new UsageError(`no audit log at ${file}`, { hint: 'give --log, or the --config/--state the runs used' });
  return { loaded, paths, file };
}

async function verify(f: AuditFlags, ctx: ReturnType<typeof context>): Promise<VerifyResult> {
  const uris = f.mirror.length ? f.mirror : (ctx.loaded.config?.audit?.mirrors ?? []);
  const open = openSpecWith(resolveContextOf(f));
  const mirrors = uris.map((u) => new BackendCheckpointMirror(open(u)));
  try {
    return await verifyAuditLog({ file: ctx.file, publicKey: trustedPublicKey(ctx.paths, f.publicKey), mirrors, signal: processSignal });
  } finally {
    await Promise.allSettled(mirrors.map((m) => m.close()));
  }
}

function printVerify(v: VerifyResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(v)}\n`);
    return;
  }
  const out: string[] = [];
  if (v.ok) {
    out.push(`OK ${v.file}: ${v.records} records, ${v.checkpoints} signed checkpoints (key ${v.keyId})${v.lastCheckpoint ? `, last checkpoint at ${v.lastCheckpoint.time}` : ''}`);
  } else if (v.firstBad) {
    const b = v.firstBad;
    out.push(`FAILED ${v.file}: first bad record at line ${b.line} (record ${b.seq}${b.type ? `, ${b.type}` : ''}${b.time ? `, ${b.time}` : ''}): ${b.problem}`);
  } else {
    out.push(`FAILED ${v.file}: ${v.records} records and ${v.checkpoints} signed checkpoints hold, but ${v.mirrorFailure}`);
  }
  for (const m of v.mirrors) {
    const lacks = m.missing > 0 ? `, lacks ${m.missing} of the log's ${v.checkpoints}` : '';
    out.push(`  mirror ${m.uri}: ${m.problem ? `unreadable (${m.problem})` : `${m.checkpoints} checkpoint copies, largest tree size ${m.largestTreeSize ?? 0}${lacks}`}`);
  }
  for (const w of v.warnings) out.push(`  warning: ${w}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function timeArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!Number.isNaN(t)) return t;
  try {
    return Date.now() - parseDuration(v);
  } catch {
    throw new UsageError(`--${name}: "${v}" is neither an ISO 8601 time nor a duration`, { hint: 'e.g. 2026-01-31T00:00:00Z or 7d' });
  }
}

function filterOf(f: AuditFlags): { filter: AuditFilter; text: string } {
  const filter: AuditFilter = {
    ...(f.since ? { since: timeArg('since', f.since)! } : {}),
    ...(f.until ? { until: timeArg('until', f.until)! } : {}),
    ...(f.environment ? { environment: f.environment } : {}),
    ...(f.classification ? { classification: f.classification } : {}),
    ...(f.type.length ? { types: f.type } : {}),
  };
  const text = [
    f.since && `since ${f.since}`,
    f.until && `until ${f.until}`,
    f.environment && `environment ${f.environment}`,
    f.classification && `classification ${f.classification}`,
    f.type.length && `type ${f.type.join(',')}`,
  ]
    .filter(Boolean)
    .join(', ');
  return { filter, text };
}

/** Verifies unless --no-verify; a failing log is still exported or reported, with a warning. */
async function verifyFirst(f: AuditFlags, ctx: ReturnType<typeof context>): Promise<VerifyResult | undefined> {
  if (!f.verify) return undefined;
  const v = await verify(f, ctx);
  if (!v.ok) {
    const why = v.firstBad ? `at line ${v.firstBad.line}: ${v.firstBad.problem}` : `: ${v.mirrorFailure}`;
    process.stderr.write(`hybridsync: WARNING: ${ctx.file} fails verification ${why}\n`);
  }
  return v;
}

async function exportAction(f: AuditFlags): Promise<number> {
  const format = f.format ?? 'jsonl';
  if (!['csv', 'jsonl', 'ocsf'].includes(format)) throw new UsageError(`unknown --format ${format}`, { hint: 'use csv, jsonl or ocsf' });
  const ctx = context(f);
  const v = await verifyFirst(f, ctx);
  const scale = compileClassification(ctx.loaded.config?.classification).scale;
  const { filter } = filterOf(f);
  const keep = compileFilter(filter, scale);
  const out = f.out ? createWriteStream(f.out, { mode: 0o600 }) : process.stdout;
  const write = async (s: string): Promise<void> => {
    if (!out.write(`${s}\n`)) await once(out, 'drain');
  };
  const actors = new RunActors();
  let logId: string | undefined;
  let n = 0;
  if (format === 'csv') await write(csvHeader());
  for await (const r of readAuditRecords(ctx.file, processSignal)) {
    actors.see(r);
    if (r.type === 'log-start' && typeof r.logId === 'string') logId = r.logId;
    if (!keep(r)) continue;
    if (format === 'jsonl') await write(JSON.stringify(r));
    else if (format === 'csv') await write(toCsvRow(r));
    else {
      const e = toOcsf(r, actors.of(r), logId);
      if (!e) continue;
      await write(JSON.stringify(e));
    }
    n++;
  }
  if (f.out) {
    (out as NodeJS.WritableStream).end();
    await once(out, 'finish');
    process.stderr.write(`${n} records written to ${f.out}\n`);
  }
  return v && !v.ok ? exitCodeForError(new IntegrityError('audit log fails verification')) : EXIT.ok;
}

async function reportAction(f: AuditFlags): Promise<number> {
  const ctx = context(f);
  const v = await verifyFirst(f, ctx);
  const scale = compileClassification(ctx.loaded.config?.classification).scale;
  const { filter, text } = filterOf(f);
  const keep = compileFilter(filter, scale);
  const agg = new ReportAggregator(scale.levels);
  for await (const r of readAuditRecords(ctx.file, processSignal)) if (keep(r)) agg.add(r);
  const out = f.out ?? 'audit-report.html';
  writeFileSync(
    out,
    agg.html({ title: 'hybridsync compliance report', logFile: ctx.file, generated: new Date().toISOString(), filter: text, ...(v ? { verify: v } : {}) }),
  );
  process.stderr.write(`report written to ${out}\n`);
  return v && !v.ok ? exitCodeForError(new IntegrityError('audit log fails verification')) : EXIT.ok;
}

function action(fn: (f: AuditFlags) => Promise<number>) {
  return async (f: AuditFlags): Promise<void> => {
    quietOnClosedStdout();
    try {
      process.exitCode = await fn(f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return; // reader went away (| head)
      process.exitCode = reportError(err, f.json);
    }
  };
}

export function auditCommand(): Command {
  const cmd = new Command('audit').description('the tamper-evident audit trail: verify, export, report');
  cmd.addCommand(
    addLogFlags(new Command('verify').description('recompute hashes, Merkle roots and signatures; name the first bad record (exit 1 if any)'))
      .option('--mirror <uri>', 'checkpoint copies to compare with (repeatable; default audit.mirrors of the config)', collect, [])
      .action(
        action(async (f) => {
          const v = await verify(f, context(f));
          printVerify(v, !!f.json);
          return v.ok ? EXIT.ok : exitCodeForError(new IntegrityError('audit log fails verification'));
        }),
      ),
  );
  cmd.addCommand(
    addFilterFlags(addLogFlags(new Command('export').description('write audit records as CSV, JSON Lines or OCSF (File Hosting Activity, class 6006)')))
      .option('--format <format>', 'csv, jsonl or ocsf', 'jsonl')
      .option('--out <file>', 'write here instead of stdout')
      .option('--mirror <uri>', 'checkpoint copies to verify against (repeatable)', collect, [])
      .action(action(exportAction)),
  );
  cmd.addCommand(
    addFilterFlags(addLogFlags(new Command('report').description('write an HTML compliance summary: transfers by classification and destination, denials, bytes')))
      .option('--out <file>', 'HTML file to write', 'audit-report.html')
      .option('--mirror <uri>', 'checkpoint copies to verify against (repeatable)', collect, [])
      .action(action(reportAction)),
  );
  cmd.addCommand(
    addLogFlags(new Command('cross-check').description("a cluster run: verify each worker's own trail and that the coordinator's trail (--state/--log) holds its records unchanged (exit 1 if not)"))
      .requiredOption('--worker-state <file>', "a worker's state database; its trail and public key beside it (repeatable)", collect, [])
      .action(
        action(async (f) => {
          const ctx = context(f);
          let ok = true;
          for (const ws of f.workerState) {
            const paths = auditPaths(undefined, ws);
            if (!existsSync(paths.file)) throw new UsageError(`no audit log at ${paths.file}`, { hint: "give the worker's --state as it ran" });
            const r = await crossCheckWorkerTrail({ coordinatorLog: ctx.file, workerLog: paths.file, workerPublicKey: trustedPublicKey(paths), signal: processSignal });
            ok &&= r.ok;
            if (f.json) process.stdout.write(`${JSON.stringify({ type: 'cross-check', ok: r.ok, workerLog: r.workerLog, workerLogId: r.workerLogId, workerVerified: r.verify.ok, merged: r.merged, matched: r.matched, ...(r.firstMismatch ? { firstMismatch: r.firstMismatch } : {}) })}\n`);
            else {
              const why = !r.verify.ok ? `: the worker's trail fails verification${r.verify.firstBad ? ` at line ${r.verify.firstBad.line}: ${r.verify.firstBad.problem}` : ''}` : r.firstMismatch ? `: ${r.firstMismatch.problem}` : '';
              process.stdout.write(`${r.ok ? 'OK' : 'FAILED'} ${r.workerLog} (log ${r.workerLogId ?? '?'}): ${r.matched} of ${r.merged} merged record(s) match${why}\n`);
            }
          }
          return ok ? EXIT.ok : exitCodeForError(new IntegrityError('a worker trail and the coordinator trail disagree'));
        }),
      ),
  );
  cmd.addCommand(
    addGovernanceFlags(new Command('public-key').description('print the public key of the audit signing key (PEM), creating the key pair if needed'))
      .option('--out <file>', 'write it to this file')
      .action(
        action(async (f) => {
          const loaded = loadGovernanceConfig(f.config);
          const paths = auditPaths(loaded.config?.audit, f.state ?? defaultStatePath());
          const signer = loadOrCreateSigner(paths.keyFile);
          if (f.out) writeFileSync(f.out, signer.publicKeyPem);
          else process.stdout.write(signer.publicKeyPem);
          process.stderr.write(`key id ${signer.keyId} (${paths.keyFile})\n`);
          return EXIT.ok;
        }),
      ),
  );
  for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError('(run with --help for usage)');
  return cmd;
}
