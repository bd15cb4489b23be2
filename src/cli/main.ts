#!/usr/bin/env node
/** The hybridsync CLI: one command per file in this folder; nothing imports cli/. */
import { Command, CommanderError } from 'commander';
import type { Command as CommandType } from 'commander';
import { EXIT } from './exit.js';
import { survivePipeClose } from './output.js';

/**
 * Each command's module, loaded only when that command runs: a command pulls in just the
 * libraries it needs (a sync to S3 never loads the Azure SDK, BullMQ or the web server), so
 * the CLI starts in a fraction of the time. Help and an unknown command load them all.
 */
const COMMANDS: Record<string, () => Promise<CommandType[]>> = {
  sync: async () => [(await import('./sync.js')).syncCommand()],
  copy: async () => [(await import('./copy.js')).copyCommand()],
  bisync: async () => [(await import('./bisync.js')).bisyncCommand()],
  check: async () => [(await import('./check.js')).checkCommand()],
  ls: async () => [(await import('./ls.js')).lsCommand()],
  demo: async () => [(await import('./demo.js')).demoCommand()],
  plan: async () => [(await import('./plan.js')).planCommand()],
  job: async () => [(await import('./job.js')).jobCommand()],
  daemon: async () => [(await import('./daemon.js')).daemonCommand()],
  classify: async () => [(await import('./classify.js')).classifyCommand()],
  policy: async () => [(await import('./policy.js')).policyCommand()],
  remote: async () => [(await import('./remote.js')).remoteCommand()],
  audit: async () => [(await import('./audit.js')).auditCommand()],
  scrub: async () => [(await import('./scrub.js')).scrubCommand()],
  stream: async () => [(await import('./stream.js')).streamCommand()],
  snapshot: async () => [(await import('./snapshot.js')).snapshotCommand()],
  model: async () => [(await import('./model.js')).modelCommand()],
  lineage: async () => [(await import('./lineage.js')).lineageCommand()],
  cluster: async () => [(await import('./cluster.js')).clusterCommand()],
  seed: async () => [(await import('./seed.js')).seedCommand()],
  adopt: async () => [(await import('./seed.js')).adoptCommand()],
  gateway: async () => [(await import('./gateway.js')).gatewayCommand()],
  tier: async () => [(await import('./tier.js')).tierCommand()],
};

/** The command named on the command line (the first word that is not an option), if it is one. */
function namedCommand(argv: readonly string[]): string | undefined {
  const word = argv.slice(2).find((a) => !a.startsWith('-'));
  return word !== undefined && Object.hasOwn(COMMANDS, word) ? word : undefined;
}

survivePipeClose();

const program = new Command('hybridsync')
  .description('Verified, resumable, governed sync of ML data between on-prem storage and cloud object storage')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const named = namedCommand(process.argv);
// `--version` alone needs no command; the top-level help lists them all, so it loads them all
const versionOnly = !named && process.argv.slice(2).some((a) => a === '-V' || a === '--version') && !process.argv.slice(2).some((a) => a === '-h' || a === '--help');
const loaders = named ? [COMMANDS[named]!] : versionOnly ? [] : Object.values(COMMANDS);
for (const commands of await Promise.all(loaders.map((load) => load()))) {
  for (const c of commands) program.addCommand(c.exitOverride().showHelpAfterError('(run with --help for usage)'));
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
  } else {
    throw err;
  }
}
