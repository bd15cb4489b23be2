/**
 * Classification policy enforced in real runs of the CLI against a real Ceph RGW:
 * restricted data toward a cloud environment never arrives, the denial is audited, the
 * exit code says so; allowed data carries its classification as an S3 tag and metadata;
 * confidential data arrives scrubbed; an S3 source's tags classify it.
 */
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, deleteBucket, listAll, s3Env, testClient } from '../helpers/s3.js';
import { readJsonl, tempDir, writeFile } from '../helpers/fs.js';
import { events, runCli } from '../helpers/cli.js';

let client: S3Client;
let bucket: string;
let mirror: string;
let stateDir: string;
let config: string;
const env = (): NodeJS.ProcessEnv => ({ HYBRIDSYNC_STATE_DIR: stateDir });
const auditLog = (): Array<Record<string, unknown>> => readJsonl(join(stateDir, 'audit', 'audit.jsonl'));

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'gov');
  mirror = await createTestBucket(client, 'gov-audit');
  stateDir = tempDir('gov-state');
  config = join(stateDir, 'hybridsync.yaml');
  writeFileSync(
    config,
    `environments:
  onprem:
    kind: onprem
    locations: [/tmp, ${stateDir}]
  cloud:
    kind: cloud
    locations: ["s3://${bucket}"]
classification:
  rules:
    - path: "restricted/**"
      level: restricted
    - path: "public/**"
      level: public
policy:
  environments:
    onprem:
      maxLevel: internal
    cloud:
      maxLevel: confidential
      require:
        confidential: [pii-scrub]
audit:
  checkpointEvery: 4
  mirrors: ["s3://${mirror}/checkpoints"]
`,
  );
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  await deleteBucket(client, mirror);
  client.destroy();
});

describe('restricted data toward a cloud environment', () => {
  it('sends nothing, audits every denial, and exits with code 3', async () => {
    const src = tempDir('gov-src');
    writeFile(src, 'restricted/payroll-2024.csv', 'name,salary\nAda,100\n');
    writeFile(src, 'restricted/keys/deploy.pem', '-----BEGIN KEY-----\n');
    writeFile(src, 'vault/.hybridsync-classification', 'restricted\n');
    writeFile(src, 'vault/model-weights.bin', 'weights');
    writeFile(src, 'labelled/board-minutes.txt', 'minutes');
    const label = await runCli(['classify', 'set', join(src, 'labelled'), 'restricted'], { env: env() });
    expect(label.code).toBe(0);

    const r = await runCli(['sync', src, `s3://${bucket}/datasets`, '--config', config, '--json'], { env: env() });
    expect(r.code).toBe(3);
    expect(await listAll(client, bucket)).toEqual([]);

    const ev = events(r.stdout);
    const denied = ev.filter((e) => e.type === 'denied');
    expect(denied.map((e) => e.key).sort()).toEqual(['labelled/board-minutes.txt', 'restricted/keys/deploy.pem', 'restricted/payroll-2024.csv', 'vault/.hybridsync-classification', 'vault/model-weights.bin']);
    expect(denied.every((e) => e.classification === 'restricted')).toBe(true);
    expect(ev.find((e) => e.type === 'summary')).toMatchObject({ summary: { denied: 5, transferred: 0 } });

    const records = auditLog();
    const run = records.filter((x) => x.type === 'run-start').at(-1)!.run;
    const deniedRecords = records.filter((x) => x.run === run && x.type === 'denied');
    expect(deniedRecords).toHaveLength(5);
    expect(deniedRecords.find((x) => x.key === 'vault/model-weights.bin')).toMatchObject({
      // full canonical URIs: the endpoint is part of where the object is
      src: `file://${src}/vault/model-weights.bin`,
      dst: `${s3Env().endpoint}/${bucket}/datasets/vault/model-weights.bin`,
      srcEnv: 'onprem',
      dstEnv: 'cloud',
      classification: 'restricted',
      decision: 'deny',
      rule: `sidecar ${src}/vault/.hybridsync-classification`,
    });
    expect(deniedRecords.find((x) => x.key === 'labelled/board-minutes.txt')?.rule).toMatch(/^label on file:\/\/.*\/labelled\//);
    expect(records.at(-1)).toMatchObject({ type: 'checkpoint' });
    expect(records.some((x) => x.type === 'label-set')).toBe(true);

    // the audit trail verifies, including against the checkpoint copies in the mirror bucket
    const mirrored = await listAll(client, mirror, 'checkpoints/');
    expect(mirrored.length).toBeGreaterThan(0);
    const v = await runCli(['audit', 'verify', '--config', config, '--json'], { env: env() });
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, mirrors: [{ uri: `s3://${mirror}/checkpoints`, checkpoints: mirrored.length }] });
  });

  it('a typo in the destination bucket is one clear error, not a denial per file', async () => {
    const typo = `${bucket.slice(0, -1)}x-typo`;
    const src = tempDir('gov-src');
    writeFile(src, 'a.txt', 'a');
    const r = await runCli(['sync', src, `s3://${typo}/datasets`, '--config', config, '--json'], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`bucket does not exist: s3://${typo}`));
    expect(events(r.stdout).filter((e) => e.type === 'denied')).toEqual([]);
  });

  it('denies in a dry run and in policy check as well, without writing', async () => {
    const src = tempDir('gov-src');
    writeFile(src, 'restricted/a.txt', 'a');
    writeFile(src, 'public/b.txt', 'b');
    const dry = await runCli(['copy', src, `s3://${bucket}/dry`, '--config', config, '--dry-run'], { env: env() });
    expect(dry.code).toBe(3);
    expect(dry.stderr).toMatch(/denied by policy: 1 file\(s\)[\s\S]*restricted\s+restricted\/a\.txt/);
    const check = await runCli(['policy', 'check', src, `s3://${bucket}/dry`, '--config', config], { env: env() });
    expect(check.code).toBe(3);
    expect(check.stdout).toMatch(/DENY\s+restricted\s+restricted\/a\.txt/);
    expect(check.stdout).toMatch(/ALLOW\s+public\s+public\/b\.txt/);
    expect(await listAll(client, bucket, 'dry/')).toEqual([]);
  });
});

describe('allowed data', () => {
  it('carries its classification as tag and metadata; confidential data arrives scrubbed; transfers are audited with hashes', async () => {
    const src = tempDir('gov-src');
    writeFile(src, 'public/readme.md', '# open data\n');
    writeFile(src, 'notes/plan.txt', 'quarterly plan, nothing personal\n');
    writeFile(src, 'crm/contacts.csv', 'name,email,score\nAda Lovelace,ada@example.com,9\nAlan Turing,alan@example.org,8\n');
    writeFile(src, 'restricted/secret.txt', 'x');
    const r = await runCli(['copy', src, `s3://${bucket}/ok`, '--config', config, '--json'], { env: env() });
    expect(r.code).toBe(3); // one file denied, the rest copied
    const keys = (await listAll(client, bucket, 'ok/')).map((o) => o.key).sort();
    expect(keys).toEqual(['ok/crm/contacts.csv', 'ok/notes/plan.txt', 'ok/public/readme.md']);

    const tags = async (key: string) => (await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet;
    expect(await tags('ok/public/readme.md')).toEqual([{ Key: 'classification', Value: 'public' }]);
    expect(await tags('ok/notes/plan.txt')).toEqual([{ Key: 'classification', Value: 'internal' }]);
    expect(await tags('ok/crm/contacts.csv')).toEqual([{ Key: 'classification', Value: 'confidential' }]);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ok/crm/contacts.csv' }));
    expect(head.Metadata).toMatchObject({ classification: 'confidential', 'classification-source': 'content', 'hybridsync-transforms': 'pii-scrub' });
    const body = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'ok/crm/contacts.csv' }))).Body!.transformToString();
    expect(body).not.toMatch(/ada@example\.com|alan@example\.org|Lovelace|Turing/);
    expect(body.split('\n')[0]).toBe('name,email,score');

    const records = auditLog();
    const run = records.filter((x) => x.type === 'run-start').at(-1)!.run;
    const transfer = records.find((x) => x.run === run && x.type === 'transfer' && x.key === 'crm/contacts.csv')!;
    expect(transfer).toMatchObject({ classification: 'confidential', decision: 'allow', dstEnv: 'cloud', transforms: [{ name: 'pii-scrub' }] });
    expect(transfer.hashBefore).not.toBe(transfer.hashAfter);
    expect(JSON.stringify(records)).not.toMatch(/ada@example\.com|alan@example\.org/);

    const ocsf = await runCli(['audit', 'export', '--format', 'ocsf', '--config', config, '--classification', 'confidential+'], { env: env() });
    expect(ocsf.code).toBe(0);
    const upload = ocsf.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(upload.find((e) => e.activity_id === 1 && e.status_id === 1)).toMatchObject({ class_uid: 6006, type_uid: 600601, file: { confidentiality: 'confidential' }, file_result: { path: `${s3Env().endpoint}/${bucket}/ok/crm/contacts.csv` } });
    expect(upload.find((e) => e.status_id === 2)).toMatchObject({ class_uid: 6006, status: 'Failure', file: { confidentiality: 'restricted' } });
    const out = join(stateDir, 'report.html');
    const report = await runCli(['audit', 'report', '--config', config, '--out', out], { env: env() });
    expect(report.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('The log verifies');
  });

  it('an S3 source is classified by its object tags', async () => {
    for (const [key, level] of [['from-s3/model.bin', 'restricted'], ['from-s3/stats.json', 'internal']] as const) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', Tagging: `classification=${level}` }));
    }
    const dst = join(stateDir, 'pulled'); // in onprem, whose maximum is internal
    const r = await runCli(['copy', `s3://${bucket}/from-s3`, dst, '--config', config, '--json'], { env: env() });
    expect(r.code).toBe(3);
    const denied = events(r.stdout).filter((e) => e.type === 'denied');
    expect(denied).toEqual([expect.objectContaining({ key: 'model.bin', classification: 'restricted', rule: 'object tag classification=restricted' })]);
    expect(readFileSync(join(dst, 'stats.json'), 'utf8')).toBe('x');
  });
});

describe('check verifies what a governed sync did, from the destination alone (issue 9.4)', () => {
  const contacts = 'name,email,score\nAda Lovelace,ada@example.com,9\nAlan Turing,alan@example.org,8\n';
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

  it('a scrubbed file verifies against its source on a second machine; a policy-denied file is reported denied, never missing; known denials end with status known-denials and exit 0', async () => {
    const src = tempDir('gov-verify-src');
    writeFile(src, 'crm/contacts.csv', contacts);
    writeFile(src, 'notes/plan.txt', 'quarterly plan, nothing personal\n');
    writeFile(src, 'restricted/secret.txt', 'the secret');
    const dst = `s3://${bucket}/verify`;

    const first = await runCli(['sync', src, dst, '--config', config, '--json'], { env: env() });
    expect(first.code).toBe(3); // a new denial
    expect(events(first.stdout).find((e) => e.type === 'summary')!.summary).toMatchObject({ status: 'denied', denied: 1, deniedKnown: 0, transferred: 2 });
    // the scrubbed object records the source version it was made from
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'verify/crm/contacts.csv' }));
    expect(head.Metadata).toMatchObject({ 'hybridsync-source-md5': md5(contacts), 'hybridsync-source-size': String(contacts.length), 'hybridsync-transforms': 'pii-scrub' });
    expect(head.ContentLength).not.toBe(contacts.length);

    // the next night: nothing changed, so the denial is known, not news
    const second = await runCli(['sync', src, dst, '--config', config, '--json'], { env: env() });
    expect(second.code).toBe(0);
    const ev2 = events(second.stdout);
    expect(ev2.find((e) => e.type === 'summary')!.summary).toMatchObject({ status: 'known-denials', denied: 1, deniedKnown: 1, transferred: 0, derived: 1 });
    expect(ev2.find((e) => e.type === 'denied')).toMatchObject({ key: 'restricted/secret.txt', knownSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    const human = await runCli(['sync', src, dst, '--config', config], { env: env() });
    expect(human.code).toBe(0);
    expect(human.stderr).toContain('held back by policy: 1 file(s), denied in earlier runs and unchanged since');

    // an auditor with an empty state database and the same config: everything verifies
    const auditorState = tempDir('gov-auditor');
    const auditorEnv = { HYBRIDSYNC_STATE_DIR: auditorState };
    const check = await runCli(['check', src, dst, '--config', config, '--json'], { env: auditorEnv });
    const evc = events(check.stdout);
    expect(evc.filter((e) => e.type === 'differ')).toEqual([]);
    expect(evc.find((e) => e.type === 'denied')).toMatchObject({ key: 'restricted/secret.txt', classification: 'restricted' });
    expect(evc.find((e) => e.type === 'summary')!.summary).toMatchObject({ status: 'known-denials', differences: 0, derived: 1, denied: 1 });
    expect(check.code).toBe(0);
    const trail = readJsonl(join(auditorState, 'audit', 'audit.jsonl'));
    expect(trail.find((x) => x.key === 'restricted/secret.txt')).toMatchObject({ type: 'verification', result: 'denied', classification: 'restricted' });
    expect(trail.some((x) => x.type === 'denied')).toBe(false); // a check transfers nothing, so it denies nothing
    // without the policy nobody can tell a denial from a loss; the scrubbed file still verifies
    const bare = await runCli(['check', src, dst, '--json'], { env: auditorEnv });
    expect(bare.code).toBe(1);
    expect(events(bare.stdout).filter((e) => e.type === 'differ')).toEqual([expect.objectContaining({ key: 'restricted/secret.txt', reason: 'missing-on-dst' })]);

    // a same-size edit of the scrubbed file's source is a difference, even with its mtime put back
    const file = join(src, 'crm/contacts.csv');
    const { atime, mtime } = statSync(file);
    writeFileSync(file, contacts.replace('9\n', '7\n'));
    utimesSync(file, atime, mtime);
    const stale = await runCli(['check', src, dst, '--config', config, '--json'], { env: auditorEnv });
    expect(stale.code).toBe(1);
    expect(events(stale.stdout).filter((e) => e.type === 'differ')).toEqual([expect.objectContaining({ key: 'crm/contacts.csv', reason: 'content' })]);

    // a changed denied file is a new denial again
    writeFile(src, 'restricted/secret.txt', 'the new secret');
    const changed = await runCli(['sync', src, dst, '--config', config, '--json'], { env: env() });
    expect(changed.code).toBe(3);
    expect(events(changed.stdout).find((e) => e.type === 'denied')).not.toHaveProperty('knownSince');
  });
});
