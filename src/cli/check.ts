import { Command } from 'commander';
import { runTransferCommand } from './transfer-command.js';
import { addTransferOptions, type TransferFlags } from './transfer-options.js';

export function checkCommand(): Command {
  const cmd = new Command('check')
    .description('report files missing or differing between SRC and DST (size, then MD5 where known); exit 1 on any difference')
    .argument('<src>', 'source')
    .argument('<dst>', 'destination');
  return addTransferOptions(cmd, 'check').action(async (src: string, dst: string, flags: TransferFlags) => {
    process.exitCode = await runTransferCommand('check', src, dst, flags);
  });
}
