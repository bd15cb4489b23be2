/** `hybridsync remote list | show NAME | test NAME[:bucket]`: the named remotes. */
import { Command } from 'commander';
import { listRemotes, showRemote, testRemote, type RemoteView } from '../api/remotes.js';
import { loadConfig } from '../config/load.js';
import { formatTable } from '../ops/format.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';

interface RemoteFlags {
  config?: string;
  json?: boolean;
  caBundle?: string;
}

function common(cmd: Command): Command {
  return cmd.option('--config <file>', 'hybridsync.yaml (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml if present)').option('--json', 'NDJSON output');
}

function showText(v: RemoteView): string {
  const lines = [`${v.name}: ${v.type} remote (defined in ${v.origin === 'env' ? 'HYBRIDSYNC_REMOTE_* variables' : v.origin === 'file' ? 'the config file' : 'the config file and HYBRIDSYNC_REMOTE_* variables'})`];
  for (const [k, val] of Object.entries(v.settings)) if (k !== 'type') lines.push(`  ${k}: ${typeof val === 'object' ? JSON.stringify(val) : String(val)}`);
  if (v.endpoint) lines.push(`  endpoint (resolved): ${v.endpoint}`);
  if (v.account) lines.push(`  credentials: ${v.account}`);
  if (v.problem) lines.push(`  problem: ${v.problem}`);
  return lines.join('\n');
}

export function remoteCommand(): Command {
  const cmd = new Command('remote').description('named remotes (remotes: in hybridsync.yaml, or HYBRIDSYNC_REMOTE_<NAME>_<KEY>)');
  common(cmd.command('list').description('every remote: name, type, endpoint, credential identity (never a secret)')).action((f: RemoteFlags) => {
    try {
      const views = listRemotes(loadConfig(f.config));
      if (f.json) for (const v of views) process.stdout.write(`${JSON.stringify({ v: 1, type: 'remote', remote: v })}\n`);
      else if (views.length === 0) process.stdout.write('no remotes defined: add remotes: to hybridsync.yaml or set HYBRIDSYNC_REMOTE_<NAME>_TYPE\n');
      else process.stdout.write(`${formatTable([['name', 'type', 'endpoint', 'credentials', 'defined in'], ...views.map((v) => [v.name, v.type, v.endpoint || '-', v.account || '-', v.origin])])}\n`);
      process.exitCode = EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
  common(cmd.command('show').description('one remote as defined (references to secrets, never their values)').argument('<name>', 'remote name')).action((name: string, f: RemoteFlags) => {
    try {
      const v = showRemote(loadConfig(f.config), name.replace(/:$/, ''));
      process.stdout.write(f.json ? `${JSON.stringify({ v: 1, type: 'remote', remote: v })}\n` : `${showText(v)}\n`);
      process.exitCode = EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
  common(
    cmd
      .command('test')
      .description('check a remote step by step: definition, reachability, TLS version, credentials, bucket access (with NAME:bucket); exit 1 on the first failure')
      .argument('<remote>', 'NAME, or NAME:bucket[/prefix] to check access to a bucket too')
      .option('--ca-bundle <file>', 'PEM CA bundle for https endpoints (default: the remote\'s caBundle, AWS_CA_BUNDLE)'),
  ).action(async (spec: string, f: RemoteFlags) => {
    try {
      const checks = await testRemote(spec, loadConfig(f.config), { signal: processSignal, ...(f.caBundle ? { caBundle: f.caBundle } : {}) });
      for (const c of checks) {
        if (f.json) process.stdout.write(`${JSON.stringify({ v: 1, type: 'remote-check', ...c })}\n`);
        else process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.step.padEnd(12)} ${c.detail}${c.hint ? `\n     fix: ${c.hint}` : ''}\n`);
      }
      process.exitCode = checks.every((c) => c.ok) ? EXIT.ok : EXIT.partial;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });
  for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError('(run with --help for usage)');
  return cmd;
}
