/**
 * Tampering with a real audit log — written by real CLI runs against Ceph RGW, its
 * checkpoints copied to a second bucket — is caught by `hybridsync audit verify` every
 * time: one byte edited, a record deleted, two swapped, the tail cut off, the last
 * checkpoint replaced by one signed with another key. The untouched log verifies.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRecord } from '../../src/governance/audit/format.js';
import { checkpointMessage } from '../../src/governance/audit/signing.js';
import { createTestBucket, deleteBucket, listAll, testClient } from '../helpers/s3.js';
import { tempDir, writeFile } from '../helpers/fs.js';
import { runCli } from '../helpers/cli.js';

let client: S3Client;
let bucket: string;
let mirror: string;
let stateDir: string;
let original: string[];
let publicKey: string;
const mirrorUri = (): string => `s3://${mirror}/audit`;

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'gov-tamper');
  mirror = await createTestBucket(client, 'gov-tamper-m');
  stateDir = tempDir('gov-tamper');
  const config = join(stateDir, 'hybridsync.yaml');
  writeFileSync(config, `audit:\n  checkpointEvery: 5\n  mirrors: ["${mirrorUri()}"]\n`);
  const src = tempDir('gov-tamper-src');
  for (let i = 0; i < 12; i++) writeFile(src, `shard-${String(i).padStart(2, '0')}.bin`, `data ${i}`);
  const env = { HYBRIDSYNC_STATE_DIR: stateDir };
  expect((await runCli(['sync', src, `s3://${bucket}/run1`, '--config', config], { env })).code).toBe(0);
  writeFile(src, 'shard-00.bin', 'changed');
  expect((await runCli(['sync', src, `s3://${bucket}/run1`, '--config', config], { env })).code).toBe(0);
  original = readFileSync(join(stateDir, 'audit', 'audit.jsonl'), 'utf8').trim().split('\n');
  publicKey = join(stateDir, 'trusted.pub.pem');
  const exported = await runCli(['audit', 'public-key', '--out', publicKey], { env });
  expect(exported.code).toBe(0);
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  await deleteBucket(client, mirror);
  client.destroy();
});

/** Writes a (tampered) copy of the log where the auditor keeps it and verifies it with the exported key and the mirror. */
async function verifyCopy(lines: string[], opts: { raw?: string } = {}): Promise<{ code: number | null; result: { ok: boolean; firstBad?: { line: number; seq: number; problem: string } } }> {
  const dir = tempDir('gov-copy');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'audit.jsonl');
  writeFileSync(file, opts.raw ?? `${lines.join('\n')}\n`);
  const r = await runCli(['audit', 'verify', '--log', file, '--public-key', publicKey, '--mirror', mirrorUri(), '--json'], { env: { HYBRIDSYNC_STATE_DIR: dir } });
  return { code: r.code, result: JSON.parse(r.stdout) as { ok: boolean; firstBad?: { line: number; seq: number; problem: string } } };
}

describe('audit verify on a real log', () => {
  it('the runs produced records, checkpoints and mirrored copies', async () => {
    const types = original.map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types.filter((t) => t === 'transfer')).toHaveLength(13);
    expect(types.filter((t) => t === 'skip')).toHaveLength(11);
    expect(types.filter((t) => t === 'checkpoint').length).toBeGreaterThanOrEqual(6);
    expect((await listAll(client, mirror, 'audit/')).length).toBe(types.filter((t) => t === 'checkpoint').length);
  });

  it('an untouched log verifies, in place and as a copy', async () => {
    const here = await runCli(['audit', 'verify', '--public-key', publicKey, '--mirror', mirrorUri()], { env: { HYBRIDSYNC_STATE_DIR: stateDir } });
    expect(here.code).toBe(0);
    expect(here.stdout).toMatch(/^OK /);
    const copy = await verifyCopy(original);
    expect(copy).toMatchObject({ code: 0, result: { ok: true } });
  });

  it('one byte edited: caught at that record, wherever it is', async () => {
    for (const target of [1, 7, Math.floor(original.length / 2), original.length - 2]) {
      const lines = [...original];
      const line = lines[target]!;
      const at = line.indexOf('"time":"') + 20; // inside the timestamp
      lines[target] = line.slice(0, at) + (line[at] === '3' ? '4' : '3') + line.slice(at + 1);
      const { code, result } = await verifyCopy(lines);
      expect(code).toBe(1);
      expect(result.firstBad).toMatchObject({ line: target + 1, seq: target });
    }
  });

  it('a record deleted', async () => {
    const { code, result } = await verifyCopy(original.filter((_, i) => i !== 9));
    expect(code).toBe(1);
    expect(result.firstBad).toMatchObject({ line: 10, seq: 9 });
  });

  it('two records swapped', async () => {
    const lines = [...original];
    [lines[4], lines[5]] = [lines[5]!, lines[4]!];
    const { code, result } = await verifyCopy(lines);
    expect(code).toBe(1);
    expect(result.firstBad).toMatchObject({ line: 5, seq: 4 });
  });

  it('the tail truncated, at a record boundary (even right after a checkpoint) and mid-record', async () => {
    const checkpoints = original.map((l, i) => ((JSON.parse(l) as { type: string }).type === 'checkpoint' ? i : -1)).filter((i) => i >= 0);
    const cut = checkpoints.at(-2)! + 1; // everything of the last run after a checkpoint: the chain alone looks whole
    const boundary = await verifyCopy(original.slice(0, cut));
    expect(boundary.code).toBe(1);
    expect(boundary.result.firstBad).toMatchObject({ line: cut + 1, seq: cut, problem: expect.stringContaining('cut off') });
    const mid = await verifyCopy([], { raw: `${original.slice(0, 6).join('\n')}\n${original[6]!.slice(0, 50)}` });
    expect(mid.code).toBe(1);
    expect(mid.result.firstBad).toMatchObject({ line: 7, seq: 6 });
  });

  it('the last checkpoint replaced by one signed with another key', async () => {
    const last = JSON.parse(original.at(-1)!) as { seq: number; time: string; prev: string; logId: string; treeSize: number; root: string; keyId: string };
    const attacker = generateKeyPairSync('ed25519');
    const sig = sign(null, checkpointMessage({ logId: last.logId, treeSize: last.treeSize, root: last.root, time: last.time }), attacker.privateKey).toString('base64');
    const forged = formatRecord(last.seq, last.time, last.prev, { type: 'checkpoint', logId: last.logId, treeSize: last.treeSize, root: last.root, keyId: last.keyId, sig }).line;
    const { code, result } = await verifyCopy([...original.slice(0, -1), forged]);
    expect(code).toBe(1);
    expect(result.firstBad).toMatchObject({ line: original.length, problem: expect.stringContaining('signature is not valid') });
  });

  it('the log verified against a different trusted key fails', async () => {
    const other = join(stateDir, 'other.pub.pem');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const file = join(tempDir('gov-copy'), 'audit.jsonl');
    copyFileSync(join(stateDir, 'audit', 'audit.jsonl'), file);
    const r = await runCli(['audit', 'verify', '--log', file, '--public-key', other], { env: { HYBRIDSYNC_STATE_DIR: stateDir } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED .*signed by another key/);
  });
});
