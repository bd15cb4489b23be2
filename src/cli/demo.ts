/**
 * `hybridsync demo`: the main job on an embedded default, with no account or server. The
 * demo itself (tree, governance config, the syncs, the checks of what arrived) is
 * api/demo.ts; this file parses the flags and prints each step — or, with --json, the
 * runs' NDJSON events and one `demo` object per step.
 */
import { Command } from 'commander';
import { runDemo, type DemoStep } from '../api/demo.js';
import { formatBytes } from '../lib/units.js';
import { processSignal, reportError } from './context.js';
import { EXIT, exitCodeForSummary } from './exit.js';
import { runReported } from './transfer-command.js';
import { addConnectionOptions, connectionOf, type ConnectionFlags } from './transfer-options.js';

interface DemoFlags extends ConnectionFlags {
  dir: string;
  dst?: string;
  json?: boolean;
  progress: boolean;
}

function describeStep(s: DemoStep): string[] {
  switch (s.step) {
    case 'generated':
      return [`demo: generated ${s.files} files (${formatBytes(s.bytes)}) in ${s.onprem}`];
    case 'config':
      return [`demo: wrote the governance config ${s.file}:`, ...s.policy.map((p) => `        - ${p}`)];
    case 'sync':
      return s.pass === 1
        ? [`demo: step 1 — sync ${s.src} -> ${s.dst} under that policy`]
        : [`demo: step 3 — sync again: only the edited file moves (the denial is known and unchanged: status known-denials)`];
    case 'synced':
      return s.denied.map((d) => `demo: DENIED as designed: ${d.key} (${d.classification}): ${d.reason}`);
    case 'kept-on-prem':
      return [s.absentAtDestination ? `demo: ${s.key} stayed on-prem: it is not in ${s.dst}` : `demo: PROBLEM: ${s.key} is in ${s.dst}`];
    case 'scrubbed': {
      const counts = Object.entries(s.counts).map(([t, n]) => `${n} ${t}`).join(', ') || 'none';
      return [
        `demo: ${s.key} reached the cloud PII-scrubbed (${counts} value(s) replaced; ${s.piiLeft} planted value(s) left; other columns ${s.otherColumnsIdentical ? 'byte-identical' : 'CHANGED'}):`,
        `        on-prem: ${s.before}`,
        `        cloud:   ${s.after}`,
      ];
    }
    case 'verified': {
      const v = s.result;
      return [v.ok ? `demo: step 2 — audit trail verified: ${v.records} records, ${v.checkpoints} signed checkpoints (key ${v.keyId}), hash chain and Merkle roots hold` : `demo: PROBLEM: the audit trail does not verify: ${v.firstBad?.problem ?? v.mirrorFailure}`];
    }
    case 'report':
      return [`demo: compliance report written to ${s.file}${s.mentionsDenial ? ' (lists the denial)' : ''}`];
    case 'edited':
      return [`demo: edited ${s.key} in place (same size)`];
    case 'check':
      return [`demo: step 4 — check both sides by content (the scrubbed extract against the source it was made from; the denied file must be absent)`];
    case 'checked':
      return [];
  }
}

export function demoCommand(): Command {
  return addConnectionOptions(
    new Command('demo')
      .description('generate a sample hybrid-AI tree with a governance config and sync it to a local "cloud" directory (or --dst): a denied restricted file, a PII-scrubbed extract, the verified audit trail and report, then an incremental sync')
      .option('--dir <path>', 'working directory for the demo', 'hybridsync-demo')
      .option('--dst <location>', 'destination instead of DIR/cloud (e.g. s3://bucket/demo)')
      .option('--json', 'NDJSON: the runs\' events and one {"type":"demo"} object per step')
      .option('--no-progress', 'no progress output'),
  ).action(async (f: DemoFlags) => {
    const out = { progress: f.progress, stats: '2s', json: !!f.json };
    const print = (s: DemoStep): void => {
      if (f.json) process.stdout.write(`${JSON.stringify({ v: 1, time: new Date().toISOString(), type: 'demo', ...s })}\n`);
      else for (const line of describeStep(s)) process.stderr.write(`${line}\n`);
    };
    try {
      const { s3, endpoint } = connectionOf(f);
      const r = await runDemo({ dir: f.dir, ...(f.dst ? { dst: f.dst } : {}), s3, endpoint, signal: processSignal, run: (req) => runReported(req, out), onStep: print });
      if (r.ok) {
        if (!f.json) {
          process.stderr.write(`demo: done — everything behaved as designed (the denial is the policy at work, so the exit code is 0).\n`);
          process.stderr.write(`      Try: npx hybridsync audit verify --state ${r.statePath}\n`);
          process.stderr.write(`           npx hybridsync policy check ${r.onprem} ${r.dst} --config ${r.configFile}\n`);
        }
        process.exitCode = EXIT.ok;
        return;
      }
      for (const p of r.problems) process.stderr.write(`demo: PROBLEM: ${p}\n`);
      process.exitCode = r.failedRun ? exitCodeForSummary(r.failedRun) : EXIT.partial;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
}
