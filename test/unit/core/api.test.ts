import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareTransfer } from '../../../src/api/transfer.js';
import { resolveTransferOptions, TRANSFER_DEFAULTS, TRANSFER_OPTIONS } from '../../../src/config/options.js';
import { RemoteSet } from '../../../src/config/remotes.js';
import { UsageError } from '../../../src/core/errors.js';
import { tempDir } from '../../helpers/fs.js';

const noConfig = { config: undefined, remotes: RemoteSet.empty() };

describe('options defined once', () => {
  it('the same values typed (library, jobs) or as strings (flags) mean the same, with the same defaults', () => {
    const typed = resolveTransferOptions({ transfers: 4, partSize: 8 * 1024 * 1024, maxAge: 86_400_000, include: ['*.pt'] });
    const strings = resolveTransferOptions({ transfers: '4', partSize: '8M', maxAge: '1d', include: ['*.pt'] });
    expect(strings).toEqual(typed);
    expect(resolveTransferOptions({})).toEqual(TRANSFER_DEFAULTS);
    expect(TRANSFER_DEFAULTS).toMatchObject({ transfers: 8, checkers: 16, retries: 3, multipartConcurrency: 4 });
    // every option with a default appears in the defaults
    for (const o of TRANSFER_OPTIONS) if (o.default !== undefined) expect(TRANSFER_DEFAULTS[o.key]).toEqual(o.default);
  });

  it('bad values and unknown names are usage errors naming the flag', () => {
    expect(() => resolveTransferOptions({ transfers: 0 })).toThrow(/--transfers must be an integer >= 1, got "0"/);
    expect(() => resolveTransferOptions({ partSize: 'lots' })).toThrow(/--part-size: /);
    expect(() => resolveTransferOptions({ transferz: 3 })).toThrow(/unknown transfer option "transferz"/);
    expect(() => resolveTransferOptions({ checksum: true, sizeOnly: true })).toThrow(/cannot be combined/);
  });
});

describe('prepareTransfer', () => {
  it('refuses --storage-class toward a destination without storage classes, before anything is written', async () => {
    const dir = tempDir('api');
    await expect(
      prepareTransfer({ mode: 'copy', src: join(dir, 'a'), dst: join(dir, 'b'), options: { storageClass: 'GLACIER' }, config: noConfig, statePath: join(dir, 's.db'), env: {} }),
    ).rejects.toThrow(UsageError);
    await expect(
      prepareTransfer({ mode: 'copy', src: join(dir, 'a'), dst: join(dir, 'b'), options: { storageClass: 'GLACIER' }, config: noConfig, statePath: join(dir, 's.db'), env: {} }),
    ).rejects.toThrow(/keeps no storage classes/);
  });
});
