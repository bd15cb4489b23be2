import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatRecord, parseRecordLine } from '../../../src/governance/audit/format.js';
import { AuditLog, tailStatePath } from '../../../src/governance/audit/log.js';
import { BackendCheckpointMirror } from '../../../src/governance/audit/mirror.js';
import { checkpointMessage, loadOrCreateSigner, publicKeyPath, readPublicKey } from '../../../src/governance/audit/signing.js';
import { verifyAuditLog } from '../../../src/governance/audit/verify.js';
import { createFileAtomically } from '../../../src/lib/process.js';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import type { ListOptions, WriteOptions } from '../../../src/core/backend.js';
import { describeError, MissingRootError } from '../../../src/core/errors.js';
import type { Entry, WriteMeta, WriteResult } from '../../../src/core/entry.js';
import type { Readable } from 'node:stream';

/** A mirror whose bucket does not exist until `created`. */
class MissingBucket extends MemoryBackend {
  created = false;
  override async write(key: string, body: Readable, meta: WriteMeta, opts?: WriteOptions): Promise<WriteResult> {
    if (!this.created) throw new MissingRootError(`bucket does not exist: ${this.uri}`, { hint: 'check the bucket name, create it (aws s3 mb), or pass --create-bucket' });
    return super.write(key, body, meta, opts);
  }
  override async *list(opts?: ListOptions): AsyncIterable<Entry> {
    if (this.created) yield* super.list(opts);
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gov-audit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeLog(records: number, every = 4, mirror?: MemoryBackend): { file: string; keyFile: string; log: AuditLog } {
  const keyFile = join(dir, 'key.pem');
  const file = join(dir, 'audit.jsonl');
  const log = new AuditLog({
    file,
    signer: loadOrCreateSigner(keyFile),
    checkpointEvery: every,
    flushIntervalMs: 0,
    ...(mirror ? { mirrors: [new BackendCheckpointMirror(mirror)] } : {}),
  });
  for (let i = 0; i < records; i++) log.append({ type: 'transfer', key: `data/file-${i}.csv`, bytes: i });
  return { file, keyFile, log };
}

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const verify = (file: string, keyFile: string, mirror?: MemoryBackend) =>
  verifyAuditLog({ file, publicKey: readPublicKey(publicKeyPath(keyFile)), ...(mirror ? { mirrors: [new BackendCheckpointMirror(mirror)] } : {}) });

describe('record format', () => {
  it('hashes the exact bytes of a record and detects any change', () => {
    const { line } = formatRecord(3, '2026-01-01T00:00:00.000Z', 'a'.repeat(64), { type: 'x', key: 'k' });
    expect(parseRecordLine(line).ok).toBe(true);
    expect(parseRecordLine(line.replace('"k"', '"K"'))).toMatchObject({ ok: false, problem: expect.stringContaining('modified') });
    expect(() => formatRecord(0, 't', 'p', { type: 'x', seq: 1 })).toThrow(/may not set "seq"/);
  });
});

describe('AuditLog', () => {
  it('writes a chained, checkpointed log that verifies; checkpoints come every N records and at close', async () => {
    const { file, keyFile, log } = writeLog(10, 4);
    await log.close();
    const l = lines(file);
    const types = l.map((x) => JSON.parse(x).type);
    // log-start + 10 records, a checkpoint after every 4 records and one at close
    expect(types.filter((t) => t === 'checkpoint')).toHaveLength(3);
    expect(types.at(-1)).toBe('checkpoint');
    expect(types[0]).toBe('log-start');
    const v = await verify(file, keyFile);
    expect(v).toMatchObject({ ok: true, records: l.length, checkpoints: 3, unsigned: 0 });
  });

  it('creates the signing key with mode 0600 and flags one others can read', () => {
    const keyFile = join(dir, 'k', 'signing.pem');
    const warnings: string[] = [];
    const s = loadOrCreateSigner(keyFile, (w) => warnings.push(w));
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(publicKeyPath(keyFile), 'utf8')).toBe(s.publicKeyPem);
    expect(loadOrCreateSigner(keyFile, (w) => warnings.push(w)).keyId).toBe(s.keyId);
    expect(warnings).toEqual([]);
    chmodSync(keyFile, 0o644);
    expect(loadOrCreateSigner(keyFile, (w) => warnings.push(w)).keyId).toBe(s.keyId);
    expect(warnings).toEqual([expect.stringMatching(/accessible by other users \(mode 644\).*chmod 600/)]);
  });

  it('continues one chain across writers and runs, and across writers interleaving batches', async () => {
    const a = writeLog(3, 100);
    a.log.flush();
    const b = new AuditLog({ file: a.file, signer: loadOrCreateSigner(a.keyFile), checkpointEvery: 100, flushIntervalMs: 0 });
    b.append({ type: 'notice', message: 'b1' });
    b.flush();
    a.log.append({ type: 'notice', message: 'a2' });
    a.log.flush();
    b.append({ type: 'notice', message: 'b2' });
    await b.close();
    await a.log.close();
    expect(lines(a.file).map((l) => JSON.parse(l).seq)).toEqual([...Array(lines(a.file).length).keys()]);
    expect((await verify(a.file, a.keyFile)).ok).toBe(true);
  });

  it('rebuilds its tail from the log when the state file is missing, and drops a torn last line with a record saying so', async () => {
    const { file, keyFile, log } = writeLog(5, 100);
    await log.close();
    rmSync(tailStatePath(file));
    appendFileSync(file, '{"seq":99,"time":"cut sho');
    const again = new AuditLog({ file, signer: loadOrCreateSigner(keyFile), checkpointEvery: 100, flushIntervalMs: 0 });
    again.append({ type: 'notice', message: 'after crash' });
    await again.close();
    const recovered = lines(file).map((l) => JSON.parse(l)).find((r) => r.type === 'log-recovered');
    expect(recovered).toMatchObject({ discardedBytes: 25 });
    expect((await verify(file, keyFile)).ok).toBe(true);
  });

  it('takes over a lock left by a killed writer: one naming a dead pid at once, an empty one after two seconds, and never leaves an empty lock itself', async () => {
    const { file, keyFile, log } = writeLog(2, 100);
    await log.close();
    const lock = `${file}.lock`;
    const open = (): AuditLog => new AuditLog({ file, signer: loadOrCreateSigner(keyFile), checkpointEvery: 100, flushIntervalMs: 0, lockTimeoutMs: 5_000 });
    // a writer SIGKILLed inside its batch: the lock names it, and it is gone
    writeFileSync(lock, `999999999@${hostname()}`);
    const a = open();
    a.append({ type: 'notice', message: 'after a dead holder' });
    await a.close();
    expect(existsSync(lock)).toBe(false);
    // an empty lock (written by a version that created the file before writing its holder)
    writeFileSync(lock, '');
    utimesSync(lock, new Date(Date.now() - 3_000), new Date(Date.now() - 3_000));
    const b = open();
    b.append({ type: 'notice', message: 'after an empty lock' });
    await b.close();
    expect(existsSync(lock)).toBe(false);
    // a live holder is waited for, and named when the wait ends
    writeFileSync(lock, `${process.ppid}@${hostname()}`);
    const c = new AuditLog({ file, signer: loadOrCreateSigner(keyFile), checkpointEvery: 100, flushIntervalMs: 0, lockTimeoutMs: 50 });
    c.append({ type: 'notice', message: 'blocked' });
    expect(() => c.flush()).toThrow(new RegExp(`locked by ${process.ppid}@`));
    rmSync(lock);
    expect(readdirSync(dir).filter((n) => n.includes('.lock'))).toEqual([]);
    expect((await verify(file, keyFile)).ok).toBe(true);
  });

  it('creates a file with its content in one step, or reports that it exists', () => {
    const p = join(dir, 'x.lock');
    expect(createFileAtomically(p, 'first')).toBe(true);
    expect(createFileAtomically(p, 'second')).toBe(false);
    expect(readFileSync(p, 'utf8')).toBe('first');
    expect(readdirSync(dir)).toEqual(['x.lock']);
  });

  it('copies checkpoints to the mirrors', async () => {
    const mirror = new MemoryBackend('mem://mirror');
    const { file, keyFile, log } = writeLog(9, 4, mirror);
    await log.close();
    expect([...mirror.objects.keys()].map((k) => k.replace(/^.*checkpoint-0*/, ''))).toEqual(['5.json', '10.json', '12.json']);
    const v = await verify(file, keyFile, mirror);
    expect(v.ok).toBe(true);
    expect(v.mirrors[0]).toMatchObject({ checkpoints: 3, largestTreeSize: 12 });
  });
});

describe('checkpoint mirrors', () => {
  it('a mirror that lacks checkpoints of the log fails verification, naming how many', async () => {
    const mirror = new MemoryBackend('mem://mirror');
    const { file, keyFile, log } = writeLog(9, 4, mirror);
    await log.close();
    for (const k of [...mirror.objects.keys()].slice(0, 2)) mirror.objects.delete(k);
    const v = await verify(file, keyFile, mirror);
    expect(v.ok).toBe(false);
    expect(v.firstBad).toBeUndefined();
    expect(v.mirrors[0]).toMatchObject({ uri: 'mem://mirror', checkpoints: 1, missing: 2 });
    expect(v.mirrorFailure).toMatch(/the mirror mem:\/\/mirror lacks 2 of the log's 3 checkpoints/);

    const never = await verify(file, keyFile, new MemoryBackend('mem://never-reached'));
    expect(never).toMatchObject({ ok: false, mirrors: [{ checkpoints: 0, missing: 3 }] });
    expect(never.mirrorFailure).toMatch(/lacks 3 of the log's 3 checkpoints/);
  });

  it('the next run copies what the mirror lacks: unavailable for run 1, available for run 2', async () => {
    const mirror = new MissingBucket('mem://mirror');
    const keyFile = join(dir, 'key.pem');
    const file = join(dir, 'audit.jsonl');
    const errors: string[] = [];
    const run = async (records: number): Promise<void> => {
      const log = new AuditLog({ file, signer: loadOrCreateSigner(keyFile), checkpointEvery: 4, flushIntervalMs: 0, mirrors: [new BackendCheckpointMirror(mirror)], onMirrorError: (uri, e) => errors.push(`${uri}: ${describeError(e)}`) });
      for (let i = 0; i < records; i++) log.append({ type: 'transfer', key: `f-${i}`, bytes: i });
      await log.close();
    };
    await run(9);
    expect(errors.length).toBe(3);
    // the warning names the real fix, not a sync flag that does nothing for mirrors
    expect(errors[0]).toMatch(/the audit mirror mem:\/\/mirror does not exist.*create the mirror bucket/);
    expect(errors[0]).not.toMatch(/--create-bucket/);
    const after1 = await verify(file, keyFile, mirror);
    expect(after1).toMatchObject({ ok: false, checkpoints: 3, mirrors: [{ checkpoints: 0, missing: 3 }] });

    mirror.created = true;
    errors.length = 0;
    await run(2);
    expect(errors).toEqual([]);
    const after2 = await verify(file, keyFile, mirror);
    expect(after2).toMatchObject({ ok: true, checkpoints: 4, mirrors: [{ checkpoints: 4, missing: 0 }] });
    expect(after2.mirrorFailure).toBeUndefined();
  });
});

describe('audit verify catches tampering', () => {
  async function fresh(mirror?: MemoryBackend): Promise<{ file: string; keyFile: string; original: string[] }> {
    const { file, keyFile, log } = writeLog(12, 5, mirror);
    await log.close();
    return { file, keyFile, original: lines(file) };
  }
  const save = (file: string, l: string[]): void => writeFileSync(file, `${l.join('\n')}\n`);

  it('an untouched log verifies', async () => {
    const { file, keyFile } = await fresh();
    expect((await verify(file, keyFile)).ok).toBe(true);
  });

  it('one byte edited anywhere: the edited record is named', async () => {
    const { file, keyFile, original } = await fresh();
    for (const target of [1, 4, 6, original.length - 1]) {
      const l = [...original];
      const at = l[target]!.indexOf('"time"') + 10;
      l[target] = l[target]!.slice(0, at) + (l[target]![at] === '1' ? '2' : '1') + l[target]!.slice(at + 1);
      save(file, l);
      const v = await verify(file, keyFile);
      expect(v.ok).toBe(false);
      expect(v.firstBad).toMatchObject({ line: target + 1, seq: target });
    }
  });

  it('a record deleted', async () => {
    const { file, keyFile, original } = await fresh();
    save(file, original.filter((_, i) => i !== 3));
    const v = await verify(file, keyFile);
    expect(v.firstBad).toMatchObject({ line: 4, seq: 3, problem: expect.stringContaining('record 3 is missing') });
  });

  it('two records swapped', async () => {
    const { file, keyFile, original } = await fresh();
    const l = [...original];
    [l[2], l[3]] = [l[3]!, l[2]!];
    save(file, l);
    const v = await verify(file, keyFile);
    expect(v.firstBad).toMatchObject({ line: 3, seq: 2 });
  });

  it('the tail truncated at a record boundary: caught by the mirror and by the tail state', async () => {
    const mirror = new MemoryBackend('mem://m');
    const { file, keyFile, original } = await fresh(mirror);
    save(file, original.slice(0, 8));
    const v = await verify(file, keyFile, mirror);
    expect(v.firstBad).toMatchObject({ line: 9, seq: 8, problem: expect.stringContaining('cut off') });
    expect(v.firstBad!.problem).toContain('mem://m');
    const withoutMirror = await verify(file, keyFile);
    expect(withoutMirror.firstBad).toMatchObject({ line: 9, problem: expect.stringContaining('writer recorded') });
  });

  it('the tail truncated mid-record', async () => {
    const { file, keyFile, original } = await fresh();
    writeFileSync(file, `${original.slice(0, 5).join('\n')}\n${original[5]!.slice(0, 40)}`);
    const v = await verify(file, keyFile);
    expect(v.firstBad).toMatchObject({ line: 6, seq: 5 });
  });

  it('the last checkpoint replaced by one signed with another key', async () => {
    const { file, keyFile, original } = await fresh();
    const last = JSON.parse(original.at(-1)!) as Record<string, unknown>;
    const other = generateKeyPairSync('ed25519');
    const body = { logId: last.logId as string, treeSize: last.treeSize as number, root: last.root as string, time: last.time as string };
    const sig = sign(null, checkpointMessage(body), other.privateKey).toString('base64');
    const { seq, time, prev, hash: _h, ...rest } = last as { seq: number; time: string; prev: string; hash: string; keyId: string; type: string };
    for (const keyId of [rest.keyId, 'ed25519:0123456789abcdef0123456789abcdef']) {
      const forged = formatRecord(seq, time, prev, { ...rest, keyId, sig }).line;
      save(file, [...original.slice(0, -1), forged]);
      const v = await verify(file, keyFile);
      expect(v.ok).toBe(false);
      expect(v.firstBad).toMatchObject({ line: original.length, type: 'checkpoint' });
      expect(v.firstBad!.problem).toMatch(/signature is not valid|signed by another key/);
    }
    // and verifying with the forger's key instead fails on the genuine checkpoints
    save(file, original);
    const v2 = await verifyAuditLog({ file, publicKey: createPublicKey(other.privateKey) });
    expect(v2.ok).toBe(false);
  });

  it('a record appended without the key is reported as not yet signed', async () => {
    const { file, keyFile, original } = await fresh();
    const last = JSON.parse(original.at(-1)!) as { seq: number; hash: string };
    const forged = formatRecord(last.seq + 1, new Date().toISOString(), last.hash, { type: 'transfer', key: 'innocent' }).line;
    save(file, [...original, forged]);
    rmSync(tailStatePath(file));
    const v = await verify(file, keyFile);
    expect(v.ok).toBe(true);
    expect(v.unsigned).toBe(1);
    expect(v.warnings.join()).toMatch(/not yet signed/);
  });
});
