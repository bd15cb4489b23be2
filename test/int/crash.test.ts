/**
 * Crash safety: SIGKILL the CLI mid-sync several times, rerun, and check what a user
 * would: the destination matches the source byte for byte, no multipart upload is left
 * open, a large upload resumed from its completed parts, and no partial file is visible
 * at a local destination.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, listAll, openUploads, testClient } from '../helpers/s3.js';
import { randomFile, tempDir, treeHashes } from '../helpers/fs.js';
import { events, runCli, spawnCli } from '../helpers/cli.js';
import { journaledChunks } from '../helpers/state.js';

let client: S3Client;
let bucket: string;
/** What the first test uploaded to c/: relative path -> MD5. */
let uploaded = new Map<string, string>();
beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'crash');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});


async function killWhen(args: string[], env: NodeJS.ProcessEnv, ready: () => boolean, maxMs: number): Promise<void> {
  const child = spawnCli(args, env);
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const start = Date.now();
  while (!ready() && Date.now() - start < maxMs) await sleep(50);
  child.kill('SIGKILL');
  await exited;
}

describe('SIGKILL at any point, then rerun', () => {
  it('local -> S3: finishes without re-sending completed work; no open multipart uploads', async () => {
    const src = tempDir('crash-src');
    for (let i = 0; i < 3; i++) randomFile(src, `models/ckpt-${i}.pt`, 40 * 1024 * 1024 + i);
    for (let i = 0; i < 150; i++) randomFile(src, `shards/s-${String(i).padStart(4, '0')}.bin`, 10_000 + i);
    const stateDir = tempDir('crash-state');
    const stateFile = join(stateDir, 'state.db');
    const env = { HYBRIDSYNC_STATE_DIR: stateDir };
    const dst = `s3://${bucket}/c`;
    const slow = ['sync', src, dst, '--bwlimit', '12M', '--transfers', '4', '--no-progress'];

    // 1: kill as soon as a multipart part is journaled
    await killWhen(slow, env, () => journaledChunks(stateFile) > 0, 60_000);
    expect(journaledChunks(stateFile)).toBeGreaterThan(0);
    // 2, 3: kill at arbitrary moments
    for (const ms of [1300, 2100]) await killWhen(slow, env, () => false, ms);

    const final = await runCli(['sync', src, dst, '--json'], { env });
    expect(final.code, final.stderr).toBe(0);
    const summary = events(final.stdout).find((e) => e.type === 'summary')!.summary as Record<string, number>;
    expect(summary.bytesResumed).toBeGreaterThan(0); // a multipart upload continued from its parts
    expect(summary.transferred).toBeLessThan(153); // completed files were not sent again

    const want = treeHashes(src);
    uploaded = want;
    const objs = await listAll(client, bucket, 'c/');
    expect(objs.map((o) => o.key.slice(2)).sort()).toEqual([...want.keys()].sort());
    for (const o of objs.filter((x) => x.key.includes('models/'))) {
      expect(await getObjectMd5(client, bucket, o.key)).toBe(want.get(o.key.slice(2)));
    }
    expect(await openUploads(client, bucket)).toEqual([]);
    expect(journaledChunks(stateFile)).toBe(0);
    const check = await runCli(['check', src, dst], { env });
    expect(check.code, check.stdout).toBe(0);
  });

  it('S3 -> local: no partial file is ever left visible', async () => {
    const dstDir = tempDir('crash-dst');
    const stateDir = tempDir('crash-state2');
    const env = { HYBRIDSYNC_STATE_DIR: stateDir };
    const src = `s3://${bucket}/c`;
    expect(uploaded.size).toBe(153);
    const complete: number[] = [];
    // kill once files have landed (not at fixed times: a cold start can take longer than any guess)
    const landed = (): number => readdirSync(dstDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && !d.name.startsWith('.hybridsync-')).length;
    for (const want of [1, 40]) {
      let n = 0;
      await killWhen(['sync', src, dstDir, '--bwlimit', '20M', '--no-progress'], env, () => landed() >= want, 60_000);
      const ms = `${want} landed`;
      // right after the kill: every file under its final name holds the whole source object;
      // bytes in flight exist only under a hidden temp name
      for (const [rel, hash] of treeHashes(dstDir)) {
        if (/^\.hybridsync-\d+-[0-9a-f]{8}\.tmp-/.test(rel.split('/').at(-1)!)) continue;
        expect(uploaded.get(rel), `${rel} after SIGKILL at ${ms} ms`).toBe(hash);
        n++;
      }
      complete.push(n);
    }
    expect(Math.max(...complete)).toBeGreaterThan(0); // files had landed before a kill
    expect(complete.at(-1)).toBeLessThan(153); // and the last kill came before the copy was done
    const final = await runCli(['sync', src, dstDir], { env });
    expect(final.code, final.stderr).toBe(0);
    const hashes = treeHashes(dstDir); // walks hidden files too: a leftover temp file would show
    expect([...hashes.keys()].filter((k) => k.includes('.hybridsync-'))).toEqual([]);
    expect(hashes).toEqual(uploaded);
    const check = await runCli(['check', src, dstDir, '--download'], { env });
    expect(check.code, check.stdout).toBe(0);
  });
});
