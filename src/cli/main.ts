#!/usr/bin/env node
/** The hybridsync CLI: one command per file in this folder; nothing imports cli/. */
import { Command, CommanderError } from 'commander';
import { auditCommand } from './audit.js';
import { bisyncCommand } from './bisync.js';
import { checkCommand } from './check.js';
import { classifyCommand } from './classify.js';
import { clusterCommand } from './cluster.js';
import { copyCommand } from './copy.js';
import { daemonCommand } from './daemon.js';
import { demoCommand } from './demo.js';
import { EXIT } from './exit.js';
import { gatewayCommand } from './gateway.js';
import { jobCommand } from './job.js';
import { lineageCommand } from './lineage.js';
import { lsCommand } from './ls.js';
import { modelCommand } from './model.js';
import { survivePipeClose } from './output.js';
import { planCommand } from './plan.js';
import { policyCommand } from './policy.js';
import { remoteCommand } from './remote.js';
import { scrubCommand } from './scrub.js';
import { snapshotCommand } from './snapshot.js';
import { adoptCommand, seedCommand } from './seed.js';
import { streamCommand } from './stream.js';
import { syncCommand } from './sync.js';
import { tierCommand } from './tier.js';

survivePipeClose();

const program = new Command('hybridsync')
  .description('Verified, resumable, governed sync of ML data between on-prem storage and cloud object storage')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

for (const c of [syncCommand(), copyCommand(), bisyncCommand(), checkCommand(), lsCommand(), demoCommand(), planCommand(), jobCommand(), daemonCommand(), classifyCommand(), policyCommand(), remoteCommand(), auditCommand(), scrubCommand(), streamCommand(), snapshotCommand(), modelCommand(), lineageCommand(), clusterCommand(), seedCommand(), adoptCommand(), gatewayCommand(), tierCommand()]) {
  program.addCommand(c.exitOverride().showHelpAfterError('(run with --help for usage)'));
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
