/**
 * End-to-end sync/copy/check through the built CLI against a real Ceph RGW, with
 * outcomes a user checks: objects in the bucket, their hashes, exit codes, and an
 * independent checker (Debian's rclone) agreeing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, utimesSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteBucketPolicyCommand, HeadObjectCommand, PutBucketPolicyCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, listAll, openUploads, rcloneEnv, s3Env, testClient } from '../helpers/s3.js';
import { md5, randomFile, tempDir, treeHashes, writeFile } from '../helpers/fs.js';
import { events, ROOT, runCli } from '../helpers/cli.js';
import { countingProxy } from '../helpers/gateway.js';
import { openLocation } from '../../src/backends/registry.js';
import { LocalBackend } from '../../src/backends/local/index.js';
import { S3Backend } from '../../src/backends/s3/index.js';
import { runSync } from '../../src/sync/execute.js';
import type { SyncEvent } from '../../src/sync/events.js';
import { StateDb } from '../../src/sync/state.js';

let client: S3Client;
let bucket: string;
let stateDir: string;
const env = (): NodeJS.ProcessEnv => ({ HYBRIDSYNC_STATE_DIR: stateDir });

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'sync');
  stateDir = tempDir('state');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});

function makeTree(): string {
  const src = tempDir('src');
  randomFile(src, 'training/shard-000.bin', 200_000);
  randomFile(src, 'training/shard-001.bin', 300_000);
  randomFile(src, 'models/ckpt.pt', 20 * 1024 * 1024 + 17); // multipart at the 16M default
  writeFile(src, 'experiments/exp-1/metrics.json', '{"acc":0.91}');
  writeFile(src, 'experiments/exp-1/notes ünïcode.txt', 'hello');
  writeFile(src, 'a-b.txt', 'dash sorts before slash');
  writeFile(src, 'a/b.txt', 'slash');
  return src;
}

async function bucketHashes(prefix: string, b = bucket): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const o of await listAll(client, b, prefix)) out.set(o.key.slice(prefix.length), await getObjectMd5(client, b, o.key));
  return out;
}

describe('local -> S3 -> local', () => {
  const src = makeTree();
  let dst = '';
  beforeAll(() => {
    dst = `s3://${bucket}/t1`;
  });

  it('sync uploads every file byte for byte and reports a summary', async () => {
    const r = await runCli(['sync', src, dst, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const summary = events(r.stdout).find((e) => e.type === 'summary')!.summary as Record<string, number>;
    expect(summary.transferred).toBe(7);
    expect(summary.failed).toBe(0);
    expect(await bucketHashes('t1/')).toEqual(treeHashes(src));
    expect(await openUploads(client, bucket)).toEqual([]);
  });

  it('stores objects with the Content-Type of their names (a .csv is text/csv, not binary/octet-stream)', async () => {
    const typed = tempDir('typed');
    writeFile(typed, 'features/part-0.csv', 'a,b\n1,2\n');
    writeFile(typed, 'runs/metrics.json', '{"acc":0.5}\n');
    writeFile(typed, 'logs/infer.jsonl', '{"q":1}\n');
    writeFile(typed, 'weights.bin', 'xx');
    const r = await runCli(['copy', typed, `s3://${bucket}/typed`], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const type = async (k: string) => (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `typed/${k}` }))).ContentType;
    expect(await type('features/part-0.csv')).toBe('text/csv');
    expect(await type('runs/metrics.json')).toBe('application/json');
    expect(await type('logs/infer.jsonl')).toBe('application/x-ndjson');
    expect(await type('weights.bin')).toBe('binary/octet-stream'); // an unknown name gets none: the store's default
  });

  it('stores mtime (to the nanosecond) and MD5 as metadata that rclone understands: rclone check agrees, and rclone copy finds no mtime to update', () => {
    const env = rcloneEnv();
    // rclone exits non-zero (execFileSync throws) on any difference; --one-way: src side only
    const out = execFileSync('rclone', ['check', src, `ceph:${bucket}/t1`], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    void out;
    // rclone compares mtimes to the nanosecond: with the mtime written to the ms it would
    // rewrite every object's metadata once ("Skipped update modification time" in a dry run)
    const copy = spawnSync('rclone', ['copy', src, `ceph:${bucket}/t1`, '--dry-run', '-v'], { env, encoding: 'utf8' });
    expect(copy.status, copy.stderr).toBe(0);
    expect(copy.stderr).not.toMatch(/modification time/);
    expect(copy.stderr).toMatch(/There was nothing to transfer/);
    const lsl = execFileSync('rclone', ['lsl', `ceph:${bucket}/t1/models`], { env, encoding: 'utf8' });
    const mtime = statSync(join(src, 'models/ckpt.pt')).mtime;
    expect(lsl).toContain(mtime.toISOString().slice(0, 19).replace('T', ' '));
  });

  it('re-sync of an unchanged tree transfers nothing', async () => {
    const r = await runCli(['sync', src, dst, '--json'], { env: env() });
    expect(r.code).toBe(0);
    const s = events(r.stdout).find((e) => e.type === 'summary')!.summary as Record<string, number>;
    expect(s.transferred).toBe(0);
    expect(s.skipped).toBe(7);
  });

  it('detects a same-size edit (mtime changed) and with --checksum even when mtime was kept', async () => {
    const p = join(src, 'experiments/exp-1/metrics.json');
    const st = statSync(p);
    writeFileSync(p, '{"acc":0.92}'); // same size
    const r1 = await runCli(['sync', src, dst, '--json'], { env: env() });
    expect(events(r1.stdout).filter((e) => e.type === 'transfer').map((e) => e.key)).toEqual(['experiments/exp-1/metrics.json']);
    // now an edit that keeps size AND mtime: only content comparison finds it
    const st2 = statSync(p);
    writeFileSync(p, '{"acc":0.93}');
    utimesSync(p, st2.atime, st2.mtime);
    const r2 = await runCli(['sync', src, dst, '--json'], { env: env() });
    expect(events(r2.stdout).filter((e) => e.type === 'transfer')).toEqual([]);
    const r3 = await runCli(['sync', src, dst, '--checksum', '--json'], { env: env() });
    expect(events(r3.stdout).filter((e) => e.type === 'transfer').map((e) => e.key)).toEqual(['experiments/exp-1/metrics.json']);
    expect(await getObjectMd5(client, bucket, 't1/experiments/exp-1/metrics.json')).toBe(md5('{"acc":0.93}'));
    void st;
  });

  it('--checksum never compares a multipart ETag with an MD5: the big multipart object is not re-sent', async () => {
    const objs = await listAll(client, bucket, 't1/models/');
    expect(objs[0]!.etag).toMatch(/-\d+$/);
    const r = await runCli(['sync', src, dst, '--checksum', '--json'], { env: { HYBRIDSYNC_STATE_DIR: tempDir('fresh-state') } });
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout).filter((e) => e.type === 'transfer')).toEqual([]);
  });

  it('check reports nothing when equal, and a difference with exit 1', async () => {
    const ok = await runCli(['check', src, dst], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    writeFile(src, 'training/new.bin', 'not uploaded yet');
    const diff = await runCli(['check', src, dst], { env: env() });
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('missing-on-dst: training/new.bin');
  });

  it('--dry-run prints exactly what would be done and changes nothing', async () => {
    const before = (await listAll(client, bucket, 't1/')).map((o) => o.key);
    rmSync(join(src, 'a-b.txt'));
    const r = await runCli(['sync', src, dst, '--dry-run'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('would copy training/new.bin');
    expect(r.stdout).toContain('would delete a-b.txt');
    expect((await listAll(client, bucket, 't1/')).map((o) => o.key)).toEqual(before);
  });

  it('--max-delete holds back every deletion when there are more than allowed', async () => {
    rmSync(join(src, 'a/b.txt'));
    const r = await runCli(['sync', src, dst, '--max-delete', '1'], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/more than --max-delete 1; nothing was deleted/);
    const keys = (await listAll(client, bucket, 't1/')).map((o) => o.key);
    expect(keys).toContain('t1/a-b.txt');
    expect(keys).toContain('t1/a/b.txt');
    expect(keys).toContain('t1/training/new.bin'); // transfers still happened
    const r2 = await runCli(['sync', src, dst], { env: env() });
    expect(r2.code).toBe(0);
    const keys2 = (await listAll(client, bucket, 't1/')).map((o) => o.key);
    expect(keys2).not.toContain('t1/a-b.txt');
    expect(await bucketHashes('t1/')).toEqual(treeHashes(src));
  });

  it('S3 -> local download matches byte for byte and keeps mtimes', async () => {
    const out = tempDir('down');
    const r = await runCli(['sync', dst, out], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(treeHashes(out)).toEqual(treeHashes(src));
    const a = statSync(join(src, 'models/ckpt.pt')).mtimeMs;
    const b = statSync(join(out, 'models/ckpt.pt')).mtimeMs;
    expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
    const again = await runCli(['check', dst, out, '--download'], { env: env() });
    expect(again.code, again.stdout).toBe(0);
  });

  it('S3 -> S3 on one endpoint and account copies server-side; to another endpoint it streams, verified', async () => {
    const r = await runCli(['copy', dst, `s3://${bucket}/t2`, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const t = events(r.stdout).filter((e) => e.type === 'transfer');
    expect(t.length).toBeGreaterThan(0);
    expect(t.every((e) => e.method === 'server-copy')).toBe(true);
    expect(await bucketHashes('t2/')).toEqual(treeHashes(src));
    // "localhost" vs "127.0.0.1" are different endpoints as far as hybridsync knows: a
    // remote on the other name gets the bytes streamed, not copied server-side
    const other = s3Env().endpoint.replace('127.0.0.1', 'localhost');
    const bucket2 = await createTestBucket(client, 'sync2');
    try {
      const remote = {
        HYBRIDSYNC_REMOTE_OTHER_TYPE: 's3',
        HYBRIDSYNC_REMOTE_OTHER_ENDPOINT: other,
        HYBRIDSYNC_REMOTE_OTHER_ACCESS_KEY_ID: s3Env().accessKeyId,
        HYBRIDSYNC_REMOTE_OTHER_SECRET_ACCESS_KEY: s3Env().secretAccessKey,
      };
      const r2 = await runCli(['copy', dst, `other:${bucket2}/x`, '--json'], { env: { ...env(), ...remote } });
      expect(r2.code, r2.stderr).toBe(0);
      const t2 = events(r2.stdout).filter((e) => e.type === 'transfer');
      expect(t2).toHaveLength(t.length);
      expect(t2.every((e) => e.method === 'stream')).toBe(true);
      expect(await bucketHashes('x/', bucket2)).toEqual(treeHashes(src));
    } finally {
      await deleteBucket(client, bucket2);
    }
  });

  it('copy never deletes', async () => {
    writeFile(src, 'only-in-src.txt', 'x');
    const before = (await listAll(client, bucket, 't2/')).length;
    rmSync(join(src, 'training/new.bin'));
    const r = await runCli(['copy', src, `s3://${bucket}/t2`], { env: env() });
    expect(r.code).toBe(0);
    const keys = (await listAll(client, bucket, 't2/')).map((o) => o.key);
    expect(keys).toContain('t2/training/new.bin');
    expect(keys.length).toBe(before + 1);
  });
});

describe('an object too large for its MD5 to be added after the upload (over the 5 GiB CopyObject limit)', () => {
  // the limit is lowered to 5 MiB so a 13 MiB file takes the path a 6 GiB one takes
  const MiB = 1024 * 1024;
  const s3At = (prefix: string): S3Backend => {
    const s = openLocation(`s3://${bucket}/${prefix}`) as S3Backend;
    return new S3Backend(s.location, { endpoint: process.env.AWS_ENDPOINT_URL!, region: 'us-east-1', forcePathStyle: true }, { retries: 3, singleCopyLimit: 5 * MiB });
  };

  it('is hashed before its multipart upload and carries its MD5 from the start, so a check with an empty state database verifies it from the bucket alone', async () => {
    const local = tempDir('md5-first');
    randomFile(local, 'weights.safetensors', 13 * MiB + 5);
    const want = md5(readFileSync(join(local, 'weights.safetensors')));
    const state = new StateDb(join(tempDir('md5-first-state'), 'state.db'));
    const up = await runSync({ mode: 'copy', src: new LocalBackend(local, local), dst: s3At('md5first'), state, chunking: { threshold: 5 * MiB, chunkSize: 6 * MiB, concurrency: 2 } });
    state.close();
    expect(up).toMatchObject({ transferred: 1, failed: 0, status: 'ok' });
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'md5first/weights.safetensors' }));
    expect(head.ETag).toMatch(/-3"$/); // three parts: a multipart object, whose ETag is no MD5
    expect(Buffer.from(head.Metadata!.md5chksum!, 'base64').toString('hex')).toBe(want);
    expect(await getObjectMd5(client, bucket, 'md5first/weights.safetensors')).toBe(want);

    const auditor = new StateDb(join(tempDir('md5-first-auditor'), 'state.db'));
    const seen: SyncEvent[] = [];
    const check = await runSync({ mode: 'check', compare: 'checksum', src: new LocalBackend(local, local), dst: s3At('md5first'), state: auditor, onEvent: (e) => void seen.push(e) });
    auditor.close();
    expect(check).toMatchObject({ differences: 0, failed: 0, status: 'ok' });
    expect(seen.filter((e) => e.type === 'unverified')).toEqual([]);
  });
});

describe('filters', () => {
  it('--include/--exclude/--exclude-from/--min-size/--max-size/--max-age select files', async () => {
    const src = tempDir('filt');
    writeFile(src, 'keep/a.bin', 'x'.repeat(2000));
    writeFile(src, 'keep/small.bin', 'x');
    writeFile(src, 'keep/b.tmp', 'x'.repeat(2000));
    writeFile(src, 'logs/old.bin', 'x'.repeat(2000), new Date('2020-01-01'));
    writeFile(src, 'skipme/c.bin', 'x'.repeat(2000));
    const exFile = join(tempDir('ex'), 'excludes.txt');
    writeFileSync(exFile, '# comment\nskipme/\n');
    const r = await runCli(
      ['copy', src, `s3://${bucket}/filt`, '--include', '**/*.bin', '--exclude', '*.tmp', '--exclude-from', exFile, '--min-size', '1K', '--max-size', '1M', '--max-age', '30d'],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect((await listAll(client, bucket, 'filt/')).map((o) => o.key)).toEqual(['filt/keep/a.bin']);
  });
});

describe('a source that looks missing never wipes the destination', () => {
  it('sync from an empty directory exits 1, says why, and every object is still there', async () => {
    const src = makeTree();
    const dst = `s3://${bucket}/guard`;
    const first = await runCli(['sync', src, dst], { env: env() });
    expect(first.code, first.stderr).toBe(0);
    const before = await bucketHashes('guard/');
    expect(before.size).toBe(7);
    const empty = tempDir('empty'); // an unmounted mount point
    const r = await runCli(['sync', empty, dst], { env: env() });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/lists no files, so syncing would delete 7 of the 7 files at s3:\/\/.*; nothing was deleted/);
    expect(r.stderr).toMatch(/--allow-empty-source/);
    const all = await runCli(['sync', empty, dst, '--max-delete', '100%'], { env: env() });
    expect(all.code, all.stderr).toBe(1);
    expect(await bucketHashes('guard/')).toEqual(before);
    rmSync(join(src, 'training'), { recursive: true });
    rmSync(join(src, 'experiments'), { recursive: true }); // 4 of the 7 files: over the default 50%
    const most = await runCli(['sync', src, dst], { env: env() });
    expect(most.code).toBe(1);
    expect(most.stderr).toMatch(/4 of the 7 files at .* \(57%\) would be deleted, more than --max-delete 50%; nothing was deleted/);
    expect(await bucketHashes('guard/')).toEqual(before);
    const allowed = await runCli(['sync', src, dst, '--max-delete', '60%'], { env: env() });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(await bucketHashes('guard/')).toEqual(treeHashes(src));
  });
});

describe('bad input gets a clear error and loses nothing', () => {
  it('unknown scheme, malformed URL, bad flag value: exit 2 naming the thing', async () => {
    const src = tempDir('bad');
    const r1 = await runCli(['sync', src, 'gs://bucket/x'], { env: env() });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/unknown scheme "gs:\/\/"/);
    const r2 = await runCli(['sync', src, 's3://'], { env: env() });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/malformed S3 URL/);
    const r3 = await runCli(['sync', src, `s3://${bucket}/x`, '--transfers', 'many'], { env: env() });
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/--transfers must be an integer/);
    const r4 = await runCli(['sync', src, `s3://${bucket}/x`, '--bwlimit', '08:00,fast'], { env: env() });
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/bwlimit/);
  });

  it('a large file that changes during its multipart upload: that file fails by name, no object and no open upload are left; the next run sends the new bytes', async () => {
    const src = tempDir('chg');
    const file = randomFile(src, 'ckpt.pt', 24 * 1024 * 1024);
    const args = ['sync', src, `s3://${bucket}/chg`, '--bwlimit', '4M', '--part-size', '5M', '--multipart-threshold', '5M', '--no-progress'];
    const running = runCli(args, { env: env() });
    // change the file once its upload has begun (the paced upload takes ~6 s)
    while ((await openUploads(client, bucket)).every((u) => !u.key.startsWith('chg/'))) await new Promise((r) => setTimeout(r, 50));
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('appended while uploading')]));
    const r = await running;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ckpt\.pt changed while it was being read/);
    expect(await listAll(client, bucket, 'chg/')).toEqual([]);
    expect((await openUploads(client, bucket)).filter((u) => u.key.startsWith('chg/'))).toEqual([]);
    const again = await runCli(args.filter((a, i) => a !== '--bwlimit' && args[i - 1] !== '--bwlimit'), { env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(await getObjectMd5(client, bucket, 'chg/ckpt.pt')).toBe(md5(readFileSync(file)));
  });

  it('missing bucket: exit 2 with the fix, nothing created', async () => {
    const src = tempDir('nob');
    writeFile(src, 'f.txt', 'x');
    const r = await runCli(['sync', src, 's3://no-such-bucket-hs-test/x'], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bucket does not exist/);
    expect(r.stderr).toMatch(/fix:/);
  });

  it('missing credentials and unreachable endpoint: exit 2 with the fix', async () => {
    const src = tempDir('cred');
    writeFile(src, 'f.txt', 'x');
    const noCreds = await runCli(['sync', src, `s3://${bucket}/c`], {
      env: { ...env(), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' },
    });
    expect(noCreds.code, noCreds.stderr).toBe(2);
    expect(noCreds.stderr).toMatch(/credentials/);
    const wrong = await runCli(['sync', src, `s3://${bucket}/c`], { env: { ...env(), AWS_SECRET_ACCESS_KEY: 'wrong-secret-000000000000000000000000000' } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/rejected the credentials/);
    expect(wrong.stderr).not.toContain('wrong-secret');
    const down = await runCli(['sync', src, `s3://${bucket}/c`, '--retries', '1', '--s3-endpoint', 'http://127.0.0.1:9'], { env: env() });
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/cannot reach S3 endpoint/);
    expect(await listAll(client, bucket, 'c/')).toEqual([]);
  });

  it('refuses plain http to a non-loopback host unless allowed', async () => {
    const r = await runCli(['ls', 's3://bucket1/x', '--s3-endpoint', 'http://s3.example.com'], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing plain http/);
  });

  it('a key over 1024 bytes and a non-UTF-8 name are reported by path; the other files still sync', async () => {
    const src = tempDir('names');
    writeFile(src, 'good.txt', 'ok');
    const deep = Array.from({ length: 9 }, (_, i) => `${'d'.repeat(120)}${i}`).join('/');
    writeFile(src, `${deep}/long.txt`, 'too long for S3');
    const bad = Buffer.concat([Buffer.from(join(src, 'caf')), Buffer.from([0xe9]), Buffer.from('.txt')]);
    writeFileSync(bad, 'latin1 name');
    const r = await runCli(['sync', src, `s3://${bucket}/names`], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/long\.txt: name is \d+ bytes, over the destination's 1024-byte key limit/);
    expect(r.stderr).toMatch(/not valid UTF-8: .*caf/);
    expect(r.stderr).toMatch(/rename it to valid UTF-8/);
    expect((await listAll(client, bucket, 'names/')).map((o) => o.key)).toEqual(['names/good.txt']);
  });

  it('an unreadable local file is reported; the others continue; nothing is deleted', async (ctx) => {
    // root reads anything: run the CLI as an unprivileged user to get a real EACCES
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if ('uid' in asUser && spawnSync(process.execPath, [join(ROOT, 'bin', 'hybridsync.js'), '--version'], asUser).status !== 0) {
      return ctx.skip('the checkout is not readable by an unprivileged user, so EACCES cannot be produced as root here');
    }
    const src = tempDir('perm');
    writeFile(src, 'a.txt', 'a');
    writeFile(src, 'secret.txt', 's');
    writeFile(src, 'z.txt', 'z');
    const p = join(src, 'secret.txt');
    execFileSync('chmod', ['000', p]);
    execFileSync('chmod', ['a+rx', src]);
    const userState = tempDir('perm-state');
    execFileSync('chmod', ['a+rwx', userState]);
    const home = tempDir('home');
    execFileSync('chmod', ['a+rwx', home]);
    const r = await runCli(['copy', src, `s3://${bucket}/perm`], { env: { HYBRIDSYNC_STATE_DIR: userState, HOME: home }, ...asUser });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/secret\.txt: .*permission denied/);
    expect((await listAll(client, bucket, 'perm/')).map((o) => o.key)).toEqual(['perm/a.txt', 'perm/z.txt']);
  });
});

describe('deletions in batches where the store takes them (S3 DeleteObjects)', () => {
  it('sync deletes 1,100 extraneous objects in two DeleteObjects requests and no single DELETE, after --max-delete allows it; a key a bucket policy protects is reported by name and stays', async () => {
    const src = tempDir('batch-src');
    for (const k of ['keep/a.bin', 'keep/b.bin', 'keep/c.bin']) randomFile(src, k, 1000);
    const extra = Array.from({ length: 1100 }, (_, i) => `old/o-${String(i).padStart(4, '0')}.bin`);
    for (let i = 0; i < extra.length; i += 50) {
      await Promise.all(extra.slice(i, i + 50).map((k) => client.send(new PutObjectCommand({ Bucket: bucket, Key: `batch/${k}`, Body: 'old' }))));
    }
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'batch/locked/l.bin', Body: 'protected' }));
    const dst = `s3://${bucket}/batch`;
    const left = async (): Promise<number> => (await listAll(client, bucket, 'batch/')).length;

    const refused = await runCli(['sync', src, dst, '--max-delete', '1000', '--json'], { env: env() });
    expect(refused.code).toBe(1);
    expect(events(refused.stdout).find((e) => e.type === 'error')?.message).toMatch(/1101 files would be deleted at .*, more than --max-delete 1000; nothing was deleted/);
    expect(await left()).toBe(1104); // the 3 new files arrived, nothing went

    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${bucket}/batch/locked/*` }] };
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    const proxy = await countingProxy();
    try {
      const r = await runCli(['sync', src, dst, '--max-delete', '2000', '--json', '--s3-endpoint', proxy.url], { env: env() });
      expect(r.code, r.stderr).toBe(1);
      const ev = events(r.stdout);
      expect(ev.filter((e) => e.type === 'delete')).toHaveLength(1100);
      expect(ev.filter((e) => e.type === 'error')).toMatchObject([{ key: 'locked/l.bin', kind: 'permission' }]);
      expect(ev.find((e) => e.type === 'summary')!.summary).toMatchObject({ deleted: 1100, failed: 1, status: 'failed' });
      const deletes = proxy.seen.filter((q) => q.method === 'DELETE');
      const batches = proxy.seen.filter((q) => q.method === 'POST' && /[?&]delete(=|&|$)/.test(q.path));
      expect(deletes).toEqual([]);
      expect(batches).toHaveLength(2); // 1000 + 101 keys
    } finally {
      await proxy.close();
      await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    }
    expect((await listAll(client, bucket, 'batch/')).map((o) => o.key).sort()).toEqual(['batch/keep/a.bin', 'batch/keep/b.bin', 'batch/keep/c.bin', 'batch/locked/l.bin']);
  });
});

describe('local -> local', () => {
  it('sync writes through temp files, preserves mtimes, deletes extraneous files', async () => {
    const src = makeTree();
    const dst = tempDir('ll');
    writeFile(dst, 'extraneous.txt', 'delete me');
    writeFile(dst, 'a/b.txt', 'stale, replaced'); // 1 of the 2 files at the destination goes: within the default --max-delete 50%
    const r = await runCli(['sync', src, dst], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dst, 'extraneous.txt'))).toBe(false);
    expect(treeHashes(dst)).toEqual(treeHashes(src));
    expect(readFileSync(join(dst, 'a-b.txt'), 'utf8')).toBe('dash sorts before slash');
  });
});
