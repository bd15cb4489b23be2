import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { resolveOperations } from '../../../src/ops/jobs.js';
import { tierJobSummary } from '../../../src/ops/tier-job.js';
import { exitCodeForSummary } from '../../../src/cli/exit.js';
import { tempDir } from '../../helpers/fs.js';

const ENV = { HYBRIDSYNC_REMOTE_CLOUD_TYPE: 's3', HYBRIDSYNC_REMOTE_BLOB_TYPE: 'azureblob', HYBRIDSYNC_REMOTE_BLOB_ACCOUNT: 'acct', HYBRIDSYNC_REMOTE_NAS_TYPE: 'local', HYBRIDSYNC_REMOTE_NAS_ROOT: '/nas' };

function load(yaml: string): () => unknown {
  const dir = tempDir('tier-cfg');
  const file = join(dir, 'hybridsync.yaml');
  writeFileSync(file, yaml);
  return () => loadConfig(file, ENV, dir);
}

const GOOD = `
tier:
  gateways:
    - cache: /var/cache/gw
      upstream: cloud:ml-data
  rules:
    - name: cold-checkpoints
      location: cloud:ml-data/checkpoints/
      include: ["**/*.pt"]
      minSize: 128K
      olderThan: 90d
      notAccessedFor: 30d
      storageClass: GLACIER
    - name: archive-logs
      location: blob:logs/
      olderThan: 1d
      storageClass: archive
`;

describe('the tier: section', () => {
  it('accepts rules on S3 and Azure locations with ages, globs, sizes and gateways', () => {
    const c = (load(GOOD)() as ReturnType<typeof loadConfig>).config!;
    expect(c.tier?.rules.map((r) => [r.name, r.storageClass])).toEqual([
      ['cold-checkpoints', 'GLACIER'],
      ['archive-logs', 'archive'],
    ]);
  });

  it('reports an unknown key at its line and column with the key it is probably a typo of', () => {
    expect(load(GOOD.replace('olderThan: 90d', 'olderThen: 90d'))).toThrow(/hybridsync\.yaml:11:7: tier\.rules#1\.olderThen: unknown key; did you mean "olderThan"\?/);
  });

  it('refuses a rule without an age, a bad duration, and a class the store has not, naming the rule and the allowed classes', () => {
    expect(() => parseConfig('tier:\n  rules:\n    - name: x\n      location: s3://b/\n      storageClass: GLACIER\n')).toThrow(/tier\.rules#1: a rule needs olderThan, notAccessedFor or both/);
    expect(() => parseConfig('tier:\n  rules:\n    - name: x\n      location: s3://b/\n      olderThan: soon\n      storageClass: GLACIER\n')).toThrow(/tier\.rules#1\.olderThan: not a duration/);
    expect(load(GOOD.replace('storageClass: GLACIER', 'storageClass: Archive'))).toThrow(/:13:21: tier\.rules#1\.storageClass: "Archive" is no S3 storage class a rule can move to; use one of INTELLIGENT_TIERING, STANDARD_IA, ONEZONE_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE/);
    expect(load(GOOD.replace('storageClass: archive', 'storageClass: GLACIER'))).toThrow(/tier\.rules#2\.storageClass: "GLACIER" is no Azure access tier a rule can move to; use one of Cool, Cold, Archive/);
  });

  it('refuses duplicate rule names, local locations and unknown remotes', () => {
    expect(load(GOOD.replace('name: archive-logs', 'name: cold-checkpoints'))).toThrow(/tier\.rules#2\.name: the rule name "cold-checkpoints" is used twice/);
    expect(load(GOOD.replace('location: blob:logs/', 'location: nas:logs/'))).toThrow(/tier\.rules#2\.location: "nas:logs\/" is not an object store/);
    expect(load(GOOD.replace('location: blob:logs/', 'location: /data/logs'))).toThrow(/"\/data\/logs" is not an object store/);
    expect(load(GOOD.replace('upstream: cloud:ml-data', 'upstream: clod:ml-data'))).toThrow(/tier\.gateways#1\.upstream: no remote named "clod"/);
  });
});

describe('jobs of kind tier', () => {
  const ops = (jobs: string) => () => resolveOperations(parseConfig(`${GOOD}jobs:\n${jobs}`), 'hybridsync.yaml', ':memory:');

  it('a tier job names rules of the tier section (or applies all) and has no source or destination', () => {
    const o = ops('  - name: weekly-tier\n    kind: tier\n    schedule: "0 3 * * 0"\n    tier: { rules: [cold-checkpoints] }\n')();
    expect(o.jobs[0]).toMatchObject({ kind: 'tier', tier: { rules: ['cold-checkpoints'] } });
    expect(ops('  - name: t\n    kind: tier\n    tier: { rules: [nope] }\n')).toThrow(/jobs\.t\.tier\.rules: no tier rule named "nope"/);
    expect(ops('  - name: t\n    kind: tier\n    source: /a\n')).toThrow(/a tier job applies the tier: rules, in place/);
    expect(ops('  - name: s\n    source: /a\n')).toThrow(/a sync job needs source and destination/);
    expect(ops('  - name: s\n    source: /a\n    destination: s3://b/x\n    tier: { rules: [cold-checkpoints] }\n')).toThrow(/tier applies to kind: tier only/);
  });

  it('its history records moves as transfers and kept objects as skipped; a failed move exits 1', () => {
    const s = tierJobSummary({ dryRun: false, objects: 10, transitioned: 3, bytes: 300, kept: 6, failed: 1, byClass: {}, durationMs: 5, status: 'failed' }, ['s3://b/']);
    expect(s).toMatchObject({ mode: 'tier', transferred: 3, skipped: 6, failed: 1, checks: 10, src: 's3://b/', status: 'failed' });
    expect(exitCodeForSummary(s)).toBe(1);
  });
});
