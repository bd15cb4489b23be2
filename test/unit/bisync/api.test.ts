/** The library call on two local trees: --conflict ssot from the config's environments, and its refusal when undecidable. */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bisync } from '../../../src/api/bisync.js';
import { loadConfig } from '../../../src/config/load.js';
import { tempDir, writeFile } from '../../helpers/fs.js';

function setup(ssot?: string, datasets = '') {
  const root = tempDir('bisync-api');
  const onprem = join(root, 'onprem');
  const cloud = join(root, 'cloud');
  mkdirSync(onprem);
  mkdirSync(cloud);
  const cfg = join(root, 'hybridsync.yaml');
  writeFileSync(
    cfg,
    `environments:
  dc1: { kind: onprem, locations: ["${onprem}"] }
  aws: { kind: cloud, locations: ["${cloud}"] }
${ssot ? `bisync:\n  ssot: ${ssot}\n` : ''}${datasets.replaceAll('ONPREM', onprem).replaceAll('CLOUD', cloud)}audit:
  enabled: false
`,
  );
  return { onprem, cloud, config: loadConfig(cfg, {}), statePath: join(root, 'state.db') };
}

describe('bisync --conflict ssot', () => {
  it('the side in the source-of-truth environment wins; the other version is replaced, and the conflict is reported', async () => {
    const t = setup('cloud');
    writeFile(t.onprem, 'labels.csv', 'v0');
    await bisync(t.onprem, t.cloud, { config: t.config, statePath: t.statePath });
    writeFile(t.onprem, 'labels.csv', 'onprem edit');
    writeFile(t.cloud, 'labels.csv', 'cloud edit, longer');
    const events: string[] = [];
    const s = await bisync(t.onprem, t.cloud, { config: t.config, statePath: t.statePath, bisync: { conflict: 'ssot' }, onEvent: (e) => void (e.type === 'conflict' && events.push(`${e.key}:${e.winner}:${e.policy}`)) });
    expect(s).toMatchObject({ conflicts: 1, copiedTo1: 1, status: 'ok' });
    expect(events).toEqual(['labels.csv:path2:ssot']);
    expect(readFileSync(join(t.onprem, 'labels.csv'), 'utf8')).toBe('cloud edit, longer');
    expect(readdirSync(t.onprem)).toEqual(['labels.csv']);
  });

  it("a dataset's ssot decides for its locations, before bisync.ssot; two datasets that disagree are refused up front", async () => {
    const t = setup('cloud', 'datasets:\n  labels:\n    locations: ["ONPREM", "CLOUD"]\n    ssot: onprem\n');
    writeFile(t.onprem, 'labels.csv', 'v0');
    await bisync(t.onprem, t.cloud, { config: t.config, statePath: t.statePath });
    writeFile(t.onprem, 'labels.csv', 'onprem edit');
    writeFile(t.cloud, 'labels.csv', 'cloud edit, longer');
    const s = await bisync(t.onprem, t.cloud, { config: t.config, statePath: t.statePath, bisync: { conflict: 'ssot' } });
    expect(s).toMatchObject({ conflicts: 1, copiedTo2: 1 });
    expect(readFileSync(join(t.cloud, 'labels.csv'), 'utf8')).toBe('onprem edit');

    const split = setup(undefined, 'datasets:\n  a: { locations: ["ONPREM"], ssot: onprem }\n  b: { locations: ["CLOUD"], ssot: cloud }\n');
    await expect(bisync(split.onprem, split.cloud, { config: split.config, statePath: split.statePath, bisync: { conflict: 'ssot' } })).rejects.toThrow(/dataset a \(ssot onprem\).*dataset b \(ssot cloud\): their sources of truth disagree/);
  });

  it('refuses up front, naming the fix, when no source of truth is declared', async () => {
    const t = setup();
    await expect(bisync(t.onprem, t.cloud, { config: t.config, statePath: t.statePath, bisync: { conflict: 'ssot' } })).rejects.toThrow(/declares no source of truth \(bisync\.ssot: cloud or onprem\)/);
  });

  it('refuses an unknown --conflict policy and the same location twice', async () => {
    const t = setup();
    await expect(bisync(t.onprem, t.cloud, { config: t.config, statePath: t.statePath, bisync: { conflict: 'mine' } })).rejects.toThrow(/--conflict mine: not a conflict policy/);
    await expect(bisync(t.onprem, t.onprem, { config: t.config, statePath: t.statePath })).rejects.toThrow(/path1 and path2 are the same location/);
  });
});
