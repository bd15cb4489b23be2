import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crossCheckWorkerTrail } from '../../../src/governance/audit/cross-check.js';
import { checkForwardedBatch } from '../../../src/governance/audit/forwarded.js';
import { AuditLog, type WrittenBatch } from '../../../src/governance/audit/log.js';
import { loadOrCreateSigner, publicKeyPath, readPublicKey } from '../../../src/governance/audit/signing.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gov-forward-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Two writers on one log (as two shards of a worker): only the first one's batches are seen. */
function interleavedLog(): { batches: WrittenBatch[]; keyFile: string; file: string } {
  const keyFile = join(dir, 'key.pem');
  const file = join(dir, 'audit.jsonl');
  const batches: WrittenBatch[] = [];
  const signer = loadOrCreateSigner(keyFile);
  const seen = new AuditLog({ file, signer, checkpointEvery: 1000, flushIntervalMs: 0, onBatch: (b) => batches.push(b), signEveryBatch: true });
  const other = new AuditLog({ file, signer, checkpointEvery: 1000, flushIntervalMs: 0 });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 5; i++) seen.append({ type: 'transfer', key: `seen/${round}-${i}` });
    seen.flush();
    for (let i = 0; i < 3; i++) other.append({ type: 'transfer', key: `other/${round}-${i}` });
    other.flush();
  }
  return { batches, keyFile, file };
}

describe('forwarded audit batches', () => {
  it('a batch seen away from its log verifies with the writer key, records at their places in the log, each batch ending in a checkpoint', () => {
    const { batches, keyFile, file } = interleavedLog();
    const key = readPublicKey(publicKeyPath(keyFile));
    const logLines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(batches).toHaveLength(3);
    const keys: string[] = [];
    for (const b of batches) {
      const c = checkForwardedBatch(b, key);
      expect(c.ok, c.ok ? '' : c.problem).toBe(true);
      if (!c.ok) continue;
      for (const r of c.records) {
        keys.push(r.key as string);
        expect(JSON.parse(logLines[r.seq]!).hash).toBe(r.hash); // the same leaf in the writer's own trail
      }
      expect(c.checkpoint.treeSize).toBe(b.size + b.lines.length - 1);
    }
    expect(keys).toEqual([0, 1, 2].flatMap((round) => [0, 1, 2, 3, 4].map((i) => `seen/${round}-${i}`)));
  });

  it('an altered record, a frontier from elsewhere, another key or a batch without its checkpoint is refused with the reason', () => {
    const { batches, keyFile } = interleavedLog();
    const key = readPublicKey(publicKeyPath(keyFile));
    const b = batches[1]!;
    const altered = { ...b, lines: b.lines.map((l, i) => (i === 0 ? l.replace('seen/1-0', 'seen/1-X') : l)) };
    expect(checkForwardedBatch(altered, key)).toMatchObject({ ok: false, problem: expect.stringContaining('modified') });
    const frontier = { ...b, frontier: batches[0]!.frontier, size: batches[0]!.size };
    expect(checkForwardedBatch(frontier, key)).toMatchObject({ ok: false });
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(checkForwardedBatch(b, other)).toMatchObject({ ok: false, problem: expect.stringContaining('not by the registered key') });
    expect(checkForwardedBatch({ ...b, lines: b.lines.slice(0, -1) }, key)).toMatchObject({ ok: false, problem: expect.stringContaining('does not end with a signed checkpoint') });
  });
});

describe('cross-checking a worker trail against the coordinator trail', () => {
  async function coordinatorWith(records: Array<{ seq: number; hash: string; logId: string }>): Promise<string> {
    const file = join(dir, 'coord', 'audit.jsonl');
    const log = new AuditLog({ file, signer: loadOrCreateSigner(join(dir, 'coord', 'key.pem')), checkpointEvery: 1000, flushIntervalMs: 0 });
    for (const r of records) log.append({ type: 'transfer', worker: 'w1', workerLogId: r.logId, workerSeq: r.seq, workerHash: r.hash });
    await log.close();
    return file;
  }

  it('passes when every merged record has the hash of the worker record at its place, and names the first that does not', async () => {
    const { batches, keyFile, file } = interleavedLog();
    const key = readPublicKey(publicKeyPath(keyFile));
    const merged = batches.flatMap((b) => {
      const c = checkForwardedBatch(b, key);
      return c.ok ? c.records.map((r) => ({ seq: r.seq, hash: r.hash, logId: b.logId })) : [];
    });
    const good = await crossCheckWorkerTrail({ coordinatorLog: await coordinatorWith(merged), workerLog: file, workerPublicKey: key });
    expect(good).toMatchObject({ ok: true, merged: 15, matched: 15 });
    rmSync(join(dir, 'coord'), { recursive: true });
    const altered = merged.map((m, i) => (i === 7 ? { ...m, hash: 'f'.repeat(64) } : m));
    const bad = await crossCheckWorkerTrail({ coordinatorLog: await coordinatorWith(altered), workerLog: file, workerPublicKey: key });
    expect(bad).toMatchObject({ ok: false, matched: 14, firstMismatch: { seq: merged[7]!.seq } });
  });
});
