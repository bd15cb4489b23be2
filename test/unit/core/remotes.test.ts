import { describe, expect, it } from 'vitest';
import { resolveLocation, splitRemote } from '../../../src/backends/registry.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { RemoteSet, remotesFromEnv } from '../../../src/config/remotes.js';
import { listRemotes, showRemote } from '../../../src/api/remotes.js';

const SECRET = 'sekr1t-value-that-must-never-show-up-anywhere';

describe('location specs', () => {
  it('splits NAME:rest but not URLs, absolute or ./ paths', () => {
    expect(splitRemote('onprem:bucket/x')).toEqual({ name: 'onprem', rest: 'bucket/x' });
    expect(splitRemote('local:')).toEqual({ name: 'local', rest: '' });
    expect(splitRemote('s3://bucket/x')).toBeUndefined();
    expect(splitRemote('/data/a:b')).toBeUndefined();
    expect(splitRemote('./a:b')).toBeUndefined();
  });

  it('gives every form one Location: remote, container, prefix, endpoint, account and canonical ids', () => {
    const remotes = RemoteSet.load(
      {
        onprem: { type: 's3', endpoint: 'http://127.0.0.1:7480', accessKeyIdEnv: 'ONPREM_KEY', secretAccessKeyEnv: 'ONPREM_SECRET' },
        cloud: { type: 's3', region: 'eu-west-1', profile: 'ml' },
        scratch: { type: 'local', root: '/mnt/scratch' },
      },
      {},
    );
    const env = { ONPREM_KEY: 'AKIAONPREM', ONPREM_SECRET: SECRET, AWS_ENDPOINT_URL: 'http://127.0.0.1:9999' };
    const on = resolveLocation('onprem:training/v3', { remotes, env }).location;
    expect(on).toMatchObject({
      type: 's3',
      remote: 'onprem',
      container: 'training',
      path: 'v3/',
      endpoint: 'http://127.0.0.1:7480',
      account: 'AKIAONPREM',
      uri: 's3://training/v3/',
      id: 'http://127.0.0.1:7480/training/v3/',
      display: 'onprem:training/v3',
    });
    // a named remote without an endpoint is AWS in its region, whatever AWS_ENDPOINT_URL says (that is s3:// only)
    const cloud = resolveLocation('cloud:ml-data', { remotes, env }).location;
    expect(cloud).toMatchObject({ endpoint: 'https://s3.eu-west-1.amazonaws.com', account: 'profile:ml', id: 'https://s3.eu-west-1.amazonaws.com/ml-data/' });
    expect(resolveLocation('s3://ml-data/a', { remotes, env }).location.endpoint).toBe('http://127.0.0.1:9999');
    expect(resolveLocation('scratch:runs/7', { remotes, env }).location).toMatchObject({ type: 'local', remote: 'scratch', path: '/mnt/scratch/runs/7', id: 'file:///mnt/scratch/runs/7/' });
    expect(resolveLocation('/data/x/', { env }).location).toMatchObject({ type: 'local', path: '/data/x', uri: 'file:///data/x/', id: 'file:///data/x/' });
    expect(resolveLocation('file:///', { env }).location.id).toBe('file:///');
    // no location field holds the secret
    expect(JSON.stringify(on)).not.toContain(SECRET);
  });

  it('reads URL schemes case-insensitively (S3://, AZ://, File://) and keeps bucket names as written', () => {
    const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:9999', AWS_ACCESS_KEY_ID: 'AKIATEST', AWS_SECRET_ACCESS_KEY: SECRET, AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from(SECRET).toString('base64')};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;` };
    const same = (upper: string, lower: string): void => {
      const { display, ...a } = resolveLocation(upper, { env }).location;
      const { display: _d, ...b } = resolveLocation(lower, { env }).location;
      expect(a).toEqual(b);
      expect(display).toBe(upper); // messages show what the user wrote
    };
    same('S3://ml-data/train', 's3://ml-data/train');
    same('AZ://models/v1', 'az://models/v1');
    same('Az://models', 'az://models');
    same('File:///data/x', 'file:///data/x');
    same('FILE:///data/x', '/data/x');
    expect(resolveLocation('S3://ml-data/train', { env }).location).toMatchObject({ type: 's3', container: 'ml-data', path: 'train/', uri: 's3://ml-data/train/' });
    // only the scheme is case-insensitive: S3 bucket names are lowercase, and an uppercase one is still refused
    expect(() => resolveLocation('S3://ML-Data/train', { env })).toThrow(/invalid bucket name "ML-Data"/);
    expect(() => resolveLocation('S4://bucket', { env })).toThrow(/unknown scheme "s4:\/\/"/);
  });

  it('names the fix for an unknown remote, a remote without a bucket and a bad bucket name', () => {
    const remotes = RemoteSet.load({ onprem: { type: 's3', endpoint: 'http://127.0.0.1:7480' } }, {});
    expect(() => resolveLocation('onprme:bucket', { remotes, env: {} })).toThrow(/unknown remote "onprme" in onprme:bucket/);
    try {
      resolveLocation('onprme:bucket', { remotes, env: {} });
    } catch (e) {
      expect((e as { hint: string }).hint).toMatch(/remotes are onprem; .*HYBRIDSYNC_REMOTE_ONPRME_TYPE.*\.\/onprme:bucket/);
    }
    expect(() => resolveLocation('onprem:', { remotes, env: {} })).toThrow(/name a bucket/);
    expect(() => resolveLocation('onprem:B_ad', { remotes, env: {} })).toThrow(/invalid bucket name/);
    expect(() => resolveLocation('onprem:bucket', { remotes: RemoteSet.load({ onprem: { type: 's3', accessKeyIdEnv: 'UNSET_KEY', secretAccessKeyEnv: 'UNSET_SECRET' } }, {}), env: {} })).toThrow(
      /names the environment variable UNSET_KEY, which is not set/,
    );
  });
});

describe('remotes from the environment', () => {
  it('reads HYBRIDSYNC_REMOTE_<NAME>_<KEY>, keeps secrets as references to their variables, and overrides the file key by key', () => {
    const env = {
      HYBRIDSYNC_REMOTE_CLOUD_TYPE: 's3',
      HYBRIDSYNC_REMOTE_CLOUD_ENDPOINT: 'https://s3.example.com',
      HYBRIDSYNC_REMOTE_CLOUD_PATH_STYLE: 'true',
      HYBRIDSYNC_REMOTE_CLOUD_ACCESS_KEY_ID: 'AKIACLOUD',
      HYBRIDSYNC_REMOTE_CLOUD_SECRET_ACCESS_KEY: SECRET,
      HYBRIDSYNC_REMOTE_MY_LAB_TYPE: 'local',
      HYBRIDSYNC_REMOTE_MY_LAB_ROOT: '/lab',
      HYBRIDSYNC_REMOTE_ONPREM_REGION: 'dc1',
    };
    expect(remotesFromEnv(env).cloud).toEqual({
      type: 's3',
      endpoint: 'https://s3.example.com',
      pathStyle: true,
      accessKeyIdEnv: 'HYBRIDSYNC_REMOTE_CLOUD_ACCESS_KEY_ID',
      secretAccessKeyEnv: 'HYBRIDSYNC_REMOTE_CLOUD_SECRET_ACCESS_KEY',
    });
    const set = RemoteSet.load({ onprem: { type: 's3', endpoint: 'http://127.0.0.1:7480', region: 'us-east-1' } }, env);
    expect(set.names()).toEqual(['cloud', 'my_lab', 'onprem']);
    expect(set.get('onprem')).toMatchObject({ endpoint: 'http://127.0.0.1:7480', region: 'dc1' });
    expect(set.origin('onprem')).toBe('file+env');
    expect(set.origin('cloud')).toBe('env');
    const loc = resolveLocation('cloud:bucket/p', { remotes: set, env }).location;
    expect(loc).toMatchObject({ endpoint: 'https://s3.example.com', account: 'AKIACLOUD' });
    // show/list print the definition: the secret's variable name, never its value
    const loaded = { config: undefined, remotes: set };
    const shown = JSON.stringify([showRemote(loaded, 'cloud', env), ...listRemotes(loaded, env)]);
    expect(shown).toContain('HYBRIDSYNC_REMOTE_CLOUD_SECRET_ACCESS_KEY');
    expect(shown).not.toContain(SECRET);
  });

  it('rejects unknown keys and bad values with the variable named', () => {
    expect(() => remotesFromEnv({ HYBRIDSYNC_REMOTE_X_COLOUR: 'red' })).toThrow(/unknown remote setting HYBRIDSYNC_REMOTE_X_COLOUR/);
    expect(() => remotesFromEnv({ HYBRIDSYNC_REMOTE_X_ALLOW_HTTP: 'maybe' })).toThrow(/HYBRIDSYNC_REMOTE_X_ALLOW_HTTP="maybe" is not a boolean/);
    expect(() => RemoteSet.load(undefined, { HYBRIDSYNC_REMOTE_X_ENDPOINT: 'http://h' })).toThrow(/remote "x" \(HYBRIDSYNC_REMOTE_X_\*\)/);
  });
});

describe('remotes in hybridsync.yaml', () => {
  it('refuses a secret written into the file, naming the reference to use', () => {
    expect(() => parseConfig(`remotes:\n  cloud:\n    type: s3\n    secretAccessKey: ${SECRET}\n`)).toThrow(/remotes.cloud.secretAccessKey: credentials are never written in the config: use secretAccessKeyEnv/);
    expect(() => parseConfig(`remotes:\n  az:\n    type: azureblob\n    connectionString: x\n`)).toThrow(/connectionStringEnv/);
  });

  it('refuses a secret pasted where the name of its variable belongs, without echoing it', () => {
    const pasted = 'Xq3L9pZk2VbN7mR4tY6wE8uI0oP1aS5dF2gH4jK6';
    for (const load of [
      () => parseConfig(`remotes:\n  onprem:\n    type: s3\n    secretAccessKeyEnv: ${pasted}\n    accessKeyIdEnv: KEY\n`),
      () => RemoteSet.load(undefined, { HYBRIDSYNC_REMOTE_ONPREM_TYPE: 's3', HYBRIDSYNC_REMOTE_ONPREM_SECRET_ACCESS_KEY_ENV: pasted }),
      () => parseConfig('remotes:\n  onprem:\n    type: s3\n    secretAccessKeyEnv: "ab/cd+ef=="\n'),
    ]) {
      let message = '';
      try {
        load();
      } catch (e) {
        message = `${(e as Error).message} ${(e as { hint?: string }).hint ?? ''}`;
      }
      expect(message).toMatch(/secretAccessKeyEnv: .*(looks like the secret itself|not an environment variable name)/);
      expect(message).not.toContain(pasted);
      expect(message).not.toContain('ab/cd+ef');
    }
    // ordinary variable names pass
    expect(() => RemoteSet.load({ onprem: { type: 's3', secretAccessKeyEnv: 'CEPH_SECRET_ACCESS_KEY', accessKeyIdEnv: 'CephKey1' } }, {})).not.toThrow();
  });

  it('checks that environments name defined remotes, with the position', () => {
    const dir = mkdtempSync(join(tmpdir(), 'remotes-'));
    try {
      const file = join(dir, 'hybridsync.yaml');
      writeFileSync(file, 'remotes:\n  onprem: { type: s3, endpoint: "http://127.0.0.1:7480" }\nenvironments:\n  dc1: { remotes: [onprme] }\n');
      expect(() => loadConfig(file, {})).toThrow(/hybridsync.yaml:4:\d+: environments\.dc1\.remotes#1: unknown remote "onprme"; remotes are onprem/);
      // a remote defined only in the environment counts too
      expect(loadConfig(file, { HYBRIDSYNC_REMOTE_ONPRME_TYPE: 'local', HYBRIDSYNC_REMOTE_ONPRME_ROOT: '/x' }).remotes.names()).toEqual(['onprem', 'onprme']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
