import { describe, expect, it } from 'vitest';
import { LevelScale } from '../../../src/governance/classify/levels.js';
import { compileEnvironments, decideTransfer, environmentOf } from '../../../src/governance/policy/policy.js';
import type { PolicyConfig } from '../../../src/config/governance.js';
import { resolveLocation } from '../../../src/backends/registry.js';
import { RemoteSet } from '../../../src/config/remotes.js';

const scale = new LevelScale(['public', 'internal', 'confidential', 'restricted']);

describe('environments', () => {
  const envs = compileEnvironments({
    'onprem-dc1': { locations: ['/data', 'file:///mnt/nfs/**'] },
    'onprem-hr': { locations: ['/data/hr'] },
    'ceph-dc1': { locations: ['s3://ml-*'], endpoint: 'https://s3.dc1.example:9000' },
    'aws-us-east-1': { kind: 'cloud', locations: ['s3://ml-*', 's3://exports/eu'] },
  });
  /** Where `spec` is when s3:// goes to `endpoint` (AWS when undefined). */
  const env = (spec: string, endpoint?: string) => environmentOf(envs, resolveLocation(spec, { s3: endpoint ? { endpoint } : {}, env: {} }).location)?.id;

  it('places a location in the environment of its most specific pattern', () => {
    expect(env('/data/images/')).toBe('onprem-dc1');
    expect(env('file:///data/hr/2024/')).toBe('onprem-hr');
    expect(env('/data-old/')).toBeUndefined();
    expect(env('/mnt/nfs/x/')).toBe('onprem-dc1');
    expect(env('s3://exports/eu/2024/')).toBe('aws-us-east-1');
    expect(env('s3://exports/us/')).toBeUndefined();
  });

  it('reads schemes in location patterns case-insensitively, as locations are (S3://, FILE://)', () => {
    const upper = compileEnvironments({ up: { kind: 'cloud', locations: ['S3://exports/eu'] }, disk: { locations: ['FILE:///mnt/raw'] } });
    const where = (spec: string) => environmentOf(upper, resolveLocation(spec, { s3: {}, env: {} }).location)?.id;
    expect(where('s3://exports/eu/2024/')).toBe('up');
    expect(where('/mnt/raw/a')).toBe('disk');
  });

  it('tells the same bucket name apart by endpoint', () => {
    expect(env('s3://ml-train/', 'https://s3.dc1.example:9000')).toBe('ceph-dc1');
    expect(env('s3://ml-train/')).toBe('aws-us-east-1');
  });

  it('rejects relative locations', () => {
    expect(() => compileEnvironments({ x: { locations: ['data/x'] } })).toThrow(/absolute path, a URL or REMOTE/);
  });

  it('places named-remote locations by remote name, by REMOTE:bucket pattern, and s3:// URLs by the remote endpoint', () => {
    const remotes = RemoteSet.load({
      onprem: { type: 's3', endpoint: 'https://ceph.dc1.example:7480' },
      cloud: { type: 's3', region: 'eu-west-1' },
    });
    const byRemote = compileEnvironments(
      {
        dc1: { kind: 'onprem', remotes: ['onprem'] },
        'dc1-hr': { locations: ['onprem:hr-data/**'] },
        aws: { kind: 'cloud', remotes: ['cloud'] },
      },
      (name) => {
        const h = resolveLocation(`${name}:probe-endpoint`, { remotes, env: {} });
        return { type: h.location.type, endpoint: h.location.endpoint };
      },
    );
    const where = (spec: string, s3?: { endpoint: string }) => environmentOf(byRemote, resolveLocation(spec, { remotes, ...(s3 ? { s3 } : {}), env: {} }).location)?.id;
    expect(where('onprem:training/v3')).toBe('dc1');
    expect(where('onprem:hr-data/payroll')).toBe('dc1-hr'); // the more specific pattern wins
    expect(where('cloud:ml-data/x')).toBe('aws');
    // the same endpoint reached without the remote's name is the same place
    expect(where('s3://training/v3', { endpoint: 'https://ceph.dc1.example:7480' })).toBe('dc1');
    expect(where('s3://training/v3', { endpoint: 'https://elsewhere.example' })).toBeUndefined();
  });
});

describe('decideTransfer', () => {
  const policy: PolicyConfig = {
    unknownEnvironment: 'deny',
    environments: {
      cloud: { maxLevel: 'confidential', require: { confidential: ['pii-scrub'] } },
      partner: { maxLevel: 'internal', require: {} },
      vault: { maxLevel: 'restricted', require: { internal: ['pii-scrub'] } },
    },
  };
  const all = new Set(['pii-scrub'] as const);
  const ask = (level: string, dstEnv: string | undefined, available: ReadonlySet<'pii-scrub'> = all, p: PolicyConfig | undefined = policy) =>
    decideTransfer({ level, scale, dstEnv, policy: p, available });

  it('allows up to the environment maximum and denies above it', () => {
    expect(ask('internal', 'partner')).toMatchObject({ allow: true, transforms: [] });
    expect(ask('confidential', 'partner')).toMatchObject({ allow: false, reason: expect.stringContaining('highest allowed level is internal') });
    expect(ask('restricted', 'cloud').allow).toBe(false);
  });

  it('requires transforms for a level and every level above it', () => {
    expect(ask('confidential', 'cloud')).toMatchObject({ allow: true, transforms: ['pii-scrub'] });
    expect(ask('internal', 'cloud')).toMatchObject({ allow: true, transforms: [] });
    expect(ask('restricted', 'vault')).toMatchObject({ allow: true, transforms: ['pii-scrub'] });
    expect(ask('public', 'vault')).toMatchObject({ allow: true, transforms: [] });
  });

  it('denies when a required transform is not available', () => {
    expect(ask('confidential', 'cloud', new Set())).toMatchObject({ allow: false, reason: expect.stringContaining('only after pii-scrub') });
  });

  it('an unknown destination follows policy.unknownEnvironment; no policy allows everything', () => {
    expect(ask('public', undefined)).toMatchObject({ allow: false, reason: expect.stringContaining('no declared environment') });
    expect(ask('public', 'elsewhere')).toMatchObject({ allow: false, reason: expect.stringContaining('has no policy') });
    expect(ask('restricted', undefined, all, { ...policy, unknownEnvironment: 'allow' }).allow).toBe(true);
    expect(decideTransfer({ level: 'restricted', scale, dstEnv: 'cloud', policy: undefined, available: all })).toMatchObject({ allow: true, transforms: [] });
  });
});
