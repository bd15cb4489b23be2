import { Command } from 'commander';
import { runTransferCommand } from './transfer-command.js';
import { addTransferOptions, type TransferFlags } from './transfer-options.js';

export function copyCommand(): Command {
  const cmd = new Command('copy')
    .description('copy new and changed files from SRC to DST; never deletes anything')
    .argument('<src>', 'source: local path, file:///path or s3://bucket/prefix')
    .argument('<dst>', 'destination');
  return addTransferOptions(cmd, 'copy').action(async (src: string, dst: string, flags: TransferFlags) => {
    process.exitCode = await runTransferCommand('copy', src, dst, flags);
  });
}
