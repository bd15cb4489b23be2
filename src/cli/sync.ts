import { Command } from 'commander';
import { runTransferCommand } from './transfer-command.js';
import { addTransferOptions, type TransferFlags } from './transfer-options.js';

export function syncCommand(): Command {
  const cmd = new Command('sync')
    .description('make DST match SRC: copy new and changed files, then delete extraneous ones (only if every transfer succeeded)')
    .argument('<src>', 'source: local path, file:///path or s3://bucket/prefix')
    .argument('<dst>', 'destination');
  return addTransferOptions(cmd, 'sync').action(async (src: string, dst: string, flags: TransferFlags) => {
    process.exitCode = await runTransferCommand('sync', src, dst, flags);
  });
}
