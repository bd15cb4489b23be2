/** The README's main command, as a user runs it: the demo on the embedded default. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir, treeHashes } from '../helpers/fs.js';

describe('hybridsync demo', () => {
  it('generates a hybrid-AI tree, syncs it to the local "cloud", then syncs only the edited file', async () => {
    const dir = tempDir('demo');
    const r = await runCli(['demo', '--dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    const cloud = treeHashes(join(dir, 'cloud'));
    expect(cloud).toEqual(treeHashes(join(dir, 'onprem')));
    expect([...cloud.keys()].some((k) => k.startsWith('models/') && k.endsWith('.pt'))).toBe(true);
    expect(r.stderr).toMatch(/transferred:\s+38 files/);
    expect(r.stderr).toMatch(/transferred:\s+1 file,/); // the incremental second pass
    expect(r.stderr).toMatch(/checked:\s+38 files, 0 differences/);
  });
});
