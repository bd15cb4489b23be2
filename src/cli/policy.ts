/**
 * `hybridsync policy check SRC DST`: every policy decision a sync from SRC to DST would
 * make — level, deciding rule, allow or deny and why, transforms required — without
 * transferring or even listing the destination. Exit code 3 when something is denied.
 */
import { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { resolveLocation } from '../backends/registry.js';
import { remoteEndpointOf } from '../api/transfer.js';
import { sourceViewOf } from '../governance/classify/classifier.js';
import { Governance, GovernanceGate, loadGovernanceConfig, TopBackends, type Evaluation } from '../governance/gate.js';
import { LabelStore } from '../governance/labels.js';
import { defaultStatePath } from '../sync/state.js';
import { addGovernanceFlags, mapOrdered, openSpecWith, quietOnClosedStdout, resolveContextOf, type GovernanceFlags } from './classify.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';

interface CheckFlags extends GovernanceFlags {
  denied?: boolean;
}

async function policyCheck(srcUri: string, dstUri: string, f: CheckFlags): Promise<number> {
  quietOnClosedStdout();
  const ctx = resolveContextOf(f);
  const loaded = loadGovernanceConfig(f.config);
  if (!loaded.config) {
    throw new UsageError('no config file: without one there is no policy to check', { hint: 'pass --config hybridsync.yaml, set HYBRIDSYNC_CONFIG, or create ./hybridsync.yaml' });
  }
  const governance = await Governance.create(loaded.config, process.env, remoteEndpointOf(loaded.remotes, ctx));
  const srcH = resolveLocation(srcUri, ctx);
  const dstH = resolveLocation(dstUri, ctx);
  const srcEnv = governance.environmentOf(srcH.location);
  const dstEnv = governance.environmentOf(dstH.location);
  const src = srcH.open();
  const labels = new LabelStore(f.state ?? defaultStatePath());
  const tops = new TopBackends(openSpecWith(ctx));
  const gate = new GovernanceGate({ governance, classifier: governance.classifier(labels), src: sourceViewOf(src, tops.open, srcEnv), ...(dstEnv ? { dstEnv } : {}) });
  const totals = { files: 0, allowed: 0, transformed: 0, denied: 0, bytesDenied: 0 };
  try {
    const out = process.stdout;
    if (!f.json) process.stderr.write(`policy check: ${srcUri} (${srcEnv ?? 'no environment'}) -> ${dstUri} (${dstEnv ?? 'no environment'})\n`);
    for await (const { e, ev } of mapOrdered(src.list({ signal: processSignal }), 8, async (e) => ({ e, ev: (await gate.evaluate(e, processSignal)) as Evaluation }))) {
      totals.files++;
      const d = ev.decision;
      const transforms = d.allow ? d.transforms : [];
      if (d.allow) {
        totals.allowed++;
        if (transforms.length) totals.transformed++;
      } else {
        totals.denied++;
        totals.bytesDenied += e.size;
      }
      if (f.denied && d.allow) continue;
      if (f.json) {
        out.write(
          `${JSON.stringify({
            key: e.key,
            size: e.size,
            decision: d.allow ? 'allow' : 'deny',
            classification: ev.classification.level,
            source: ev.classification.source,
            rule: ev.classification.rule,
            reason: d.reason,
            ...(transforms.length ? { transforms } : {}),
            ...(srcEnv ? { srcEnv } : {}),
            ...(dstEnv ? { dstEnv } : {}),
          })}\n`,
        );
      } else {
        const verdict = d.allow ? (transforms.length ? `ALLOW after ${transforms.join(', ')}` : 'ALLOW') : 'DENY';
        out.write(`${verdict.padEnd(24)} ${ev.classification.level.padEnd(14)} ${e.key}\n${' '.repeat(25)}${d.allow ? '' : `${d.reason}; `}${ev.classification.rule}\n`);
      }
    }
    if (f.json) out.write(`${JSON.stringify({ type: 'summary', ...totals, ...(srcEnv ? { srcEnv } : {}), ...(dstEnv ? { dstEnv } : {}) })}\n`);
    else {
      process.stderr.write(
        `${totals.files} files: ${totals.allowed} allowed${totals.transformed ? ` (${totals.transformed} only after transforms)` : ''}, ${totals.denied} denied${totals.denied ? ` — a sync would exit with code ${EXIT.policy}` : ''}\n`,
      );
    }
    return totals.denied > 0 ? EXIT.policy : EXIT.ok;
  } finally {
    labels.close();
    await tops.close();
    await src.close?.();
  }
}

export function policyCommand(): Command {
  const cmd = new Command('policy').description('data-classification policy');
  cmd.addCommand(
    addGovernanceFlags(
      new Command('check')
        .description('show the policy decision for every file a transfer from SRC to DST would consider, without transferring anything (exit 3 if any is denied)')
        .argument('<src>', 'source: REMOTE:bucket/prefix, s3://, az://, a local path or file:///path')
        .argument('<dst>', 'destination (only its environment matters: it is not read)')
        .option('--denied', 'list denied files only'),
    ).action(async (src: string, dst: string, f: CheckFlags) => {
      try {
        process.exitCode = await policyCheck(src, dst, f);
      } catch (err) {
        process.exitCode = reportError(err, f.json);
      }
    }),
  );
  for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError('(run with --help for usage)');
  return cmd;
}
