import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareTransfer } from '../../../src/api/transfer.js';
import { optionsMarkdown, parseOptionValue, resolveTransferOptions, TRANSFER_DEFAULTS, TRANSFER_OPTIONS } from '../../../src/config/options.js';
import { RemoteSet } from '../../../src/config/remotes.js';
import { PolicyDeniedError, UsageError } from '../../../src/core/errors.js';
import { parseConfig } from '../../../src/config/load.js';
import { tempDir } from '../../helpers/fs.js';

const noConfig = { config: undefined, remotes: RemoteSet.empty() };

describe('options defined once', () => {
  it('the same values typed (library, jobs) or as strings (flags) mean the same, with the same defaults', () => {
    const typed = resolveTransferOptions({ transfers: 4, partSize: 8 * 1024 * 1024, maxAge: 86_400_000, include: ['*.pt'], maxDelete: 1000 });
    const strings = resolveTransferOptions({ transfers: '4', partSize: '8M', maxAge: '1d', include: ['*.pt'], maxDelete: '1000' });
    expect(strings).toEqual(typed);
    expect(resolveTransferOptions({})).toEqual(TRANSFER_DEFAULTS);
    expect(TRANSFER_DEFAULTS).toMatchObject({ transfers: 32, checkers: 16, retries: 3, multipartConcurrency: 4, maxDelete: { percent: 50 }, allowEmptySource: false });
    // every option with a default appears in the defaults, parsed
    for (const o of TRANSFER_OPTIONS) if (o.default !== undefined) expect(TRANSFER_DEFAULTS[o.key]).toEqual(parseOptionValue(o, o.default));
  });

  it('check offers only the flags that apply to it: no --transfers, --dry-run, --bwlimit or deletion guards (issue 9.13)', () => {
    const forCheck = TRANSFER_OPTIONS.filter((o) => (o.modes ?? ['sync', 'copy', 'check']).includes('check')).map((o) => o.key);
    for (const k of ['transfers', 'dryRun', 'bwlimit', 'maxDelete', 'multipartThreshold', 'storageClass']) expect(forCheck).not.toContain(k);
    for (const k of ['checkers', 'checksum', 'download', 'include']) expect(forCheck).toContain(k);
  });

  it('bad values and unknown names are usage errors naming the flag', () => {
    expect(() => resolveTransferOptions({ transfers: 0 })).toThrow(/--transfers must be an integer >= 1, got "0"/);
    expect(() => resolveTransferOptions({ partSize: 'lots' })).toThrow(/--part-size: /);
    expect(() => resolveTransferOptions({ transferz: 3 })).toThrow(/unknown transfer option "transferz"/);
    expect(() => resolveTransferOptions({ checksum: true, sizeOnly: true })).toThrow(/cannot be combined/);
    for (const bad of ['150%', 'lots', '-1', -1, 2.5, '10 %%']) expect(() => resolveTransferOptions({ maxDelete: bad })).toThrow(/--max-delete: not a count or a percentage/);
  });

  it('--max-delete is a count or a percentage of the destination, written either way', () => {
    expect(resolveTransferOptions({ maxDelete: '10%' }).maxDelete).toEqual({ percent: 10 });
    expect(resolveTransferOptions({ maxDelete: '0.5%' }).maxDelete).toEqual({ percent: 0.5 });
    expect(resolveTransferOptions({ maxDelete: '100%' }).maxDelete).toEqual({ percent: 100 });
    expect(resolveTransferOptions({ maxDelete: 0 }).maxDelete).toEqual({ count: 0 });
    expect(resolveTransferOptions({ maxDelete: { percent: 20 } }).maxDelete).toEqual({ percent: 20 });
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

describe('the options reference', () => {
  it('docs/options.md is generated from the option table (run npm run schema after changing an option)', () => {
    expect(readFileSync(new URL('../../../docs/options.md', import.meta.url), 'utf8')).toBe(optionsMarkdown());
  });
});

describe('a destination no environment declares', () => {
  it('under unknownEnvironment: deny is refused once, up front (exit 3), naming the nearest declared location', async () => {
    const dir = tempDir('api-env');
    const config = {
      config: parseConfig(`environments:
  lab: { locations: ["${dir}/lab"] }
  cloud: { kind: cloud, locations: ["${dir}/cloud-data"] }
policy:
  environments:
    cloud: { maxLevel: confidential }
`),
      remotes: RemoteSet.empty(),
    };
    const err = await prepareTransfer({ mode: 'sync', src: join(dir, 'lab'), dst: join(dir, 'cloud-dta'), config, statePath: join(dir, 's.db'), env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyDeniedError);
    expect((err as Error).message).toMatch(/cloud-dta is in no declared environment and policy.unknownEnvironment is deny: every file would be denied, so nothing was sent/);
    expect((err as { hint: string }).hint).toMatch(new RegExp(`did you mean ${dir}/cloud-data\\?`));
    // a declared destination is not refused
    const ok = await prepareTransfer({ mode: 'sync', src: join(dir, 'lab'), dst: join(dir, 'cloud-data'), config, statePath: join(dir, 's.db'), env: {} });
    await ok.close();
  });
});
