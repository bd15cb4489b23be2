/**
 * `audit verify`: recomputes everything the log commits to and names the first record
 * that does not hold. Checked, in one streaming pass (memory does not grow with the log):
 * each line is JSON ending in its own hash, its seq is its position, its prev is the
 * previous line's hash, every checkpoint commits to the Merkle root of the lines before
 * it and carries a valid signature by the trusted key. Then the log is compared with what
 * outlives it: the copies of checkpoints in the mirrors (a copied checkpoint the log no
 * longer reaches means its tail was cut; a checkpoint of the log a mirror lacks means the
 * mirror cannot vouch for it — both fail verification) and the writer's tail state.
 */
import { createReadStream, readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { parseRecordLine, GENESIS_PREV, type AuditRecord } from './format.js';
import { MerkleFrontier } from './merkle.js';
import type { CheckpointMirror, SignedCheckpoint } from './mirror.js';
import { checkpointMessage, keyIdOf, verifySignature } from './signing.js';
import { tailStatePath } from './log.js';

export interface BadRecord {
  /** 1-based line number in the file. */
  readonly line: number;
  /** The seq the record at that line should have (0-based position). */
  readonly seq: number;
  readonly problem: string;
  /** Type, run and time of the record, when it could be read. */
  readonly type?: string;
  readonly time?: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly file: string;
  readonly logId?: string;
  readonly records: number;
  readonly checkpoints: number;
  readonly lastCheckpoint?: { readonly treeSize: number; readonly time: string };
  /** Records after the last checkpoint: chained, but not yet covered by a signature. */
  readonly unsigned: number;
  readonly keyId: string;
  readonly firstBad?: BadRecord;
  readonly mirrors: ReadonlyArray<MirrorResult>;
  /** Why the mirrors fail verification (checkpoints of the log they lack, a mirror that could not be read). */
  readonly mirrorFailure?: string;
  readonly warnings: readonly string[];
}

export interface MirrorResult {
  readonly uri: string;
  /** Copies signed by the trusted key. */
  readonly checkpoints: number;
  readonly largestTreeSize?: number;
  /** Valid checkpoints of the log this mirror has no copy of. */
  readonly missing: number;
  readonly problem?: string;
}

type MirrorTally = { -readonly [K in keyof MirrorResult]: MirrorResult[K] };

export interface VerifyOptions {
  readonly file: string;
  /** The key checkpoints must be signed with. */
  readonly publicKey: KeyObject;
  readonly mirrors?: readonly CheckpointMirror[];
  readonly signal?: AbortSignal;
}

/** Splits a byte stream into lines, keeping exact bytes; reports a last line without newline. */
async function* linesOf(stream: AsyncIterable<Buffer>): AsyncGenerator<{ bytes: Buffer; terminated: boolean }> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const raw of stream) {
    let chunk: Buffer = carry.length ? Buffer.concat([carry, raw]) : raw;
    let nl: number;
    while ((nl = chunk.indexOf(10)) >= 0) {
      yield { bytes: chunk.subarray(0, nl), terminated: true };
      chunk = chunk.subarray(nl + 1);
    }
    carry = Buffer.from(chunk);
  }
  if (carry.length > 0) yield { bytes: carry, terminated: false };
}

function describe(r: Partial<AuditRecord> | undefined): { type?: string; time?: string } {
  return {
    ...(typeof r?.type === 'string' ? { type: r.type } : {}),
    ...(typeof r?.time === 'string' ? { time: r.time } : {}),
  };
}

export async function verifyAuditLog(o: VerifyOptions): Promise<VerifyResult> {
  const keyId = keyIdOf(o.publicKey);
  const warnings: string[] = [];
  const mirrorsOut: MirrorTally[] = [];
  let firstBad: BadRecord | undefined;
  const bad = (b: BadRecord): void => {
    firstBad ??= b;
  };

  const frontier = new MerkleFrontier();
  let prev = GENESIS_PREV;
  let logId: string | undefined;
  let checkpoints = 0;
  let lastCheckpoint: { treeSize: number; time: string } | undefined;
  /** Roots mirrored per tree size, checked when the pass reaches that size. */
  const mirrored = new Map<number, Array<{ uri: string; cp: SignedCheckpoint }>>();
  let mirrorsLoaded = false;

  const loadMirrors = async (id: string): Promise<void> => {
    mirrorsLoaded = true;
    for (const m of o.mirrors ?? []) {
      const entry: MirrorTally = { uri: m.uri, checkpoints: 0, missing: 0 };
      mirrorsOut.push(entry);
      try {
        for await (const item of m.list(id, o.signal)) {
          if (!item.checkpoint) {
            warnings.push(`mirror ${m.uri}: ${item.key} is ${item.problem ?? 'unreadable'}`);
            continue;
          }
          const cp = item.checkpoint;
          if (cp.keyId !== keyId || !verifySignature(o.publicKey, checkpointMessage(cp), cp.sig)) {
            warnings.push(`mirror ${m.uri}: ${item.key} is not signed by the trusted key ${keyId}; ignored`);
            continue;
          }
          entry.checkpoints++;
          entry.largestTreeSize = Math.max(entry.largestTreeSize ?? 0, cp.treeSize);
          const list = mirrored.get(cp.treeSize) ?? [];
          list.push({ uri: m.uri, cp });
          mirrored.set(cp.treeSize, list);
        }
      } catch (err) {
        entry.problem = (err as Error).message;
        warnings.push(`mirror ${m.uri} could not be read: ${(err as Error).message}`);
      }
    }
  };

  const checkMirroredAt = (size: number): void => {
    for (const { uri, cp } of mirrored.get(size) ?? []) {
      if (cp.root !== frontier.root().toString('hex')) {
        bad({ line: size, seq: size - 1, problem: `the first ${size} records differ from checkpoint ${cp.time} copied to ${uri} (a record up to here was changed, removed or reordered)` });
      }
    }
  };

  let seq = 0;
  let lastTerminated = true;
  const stream = createReadStream(o.file, { highWaterMark: 1 << 20, ...(o.signal ? { signal: o.signal } : {}) });
  for await (const { bytes, terminated } of linesOf(stream as AsyncIterable<Buffer>)) {
    const line = seq + 1;
    lastTerminated = terminated;
    if (!firstBad) {
      const text = bytes.toString('utf8');
      const parsed = parseRecordLine(text);
      if (!parsed.ok) {
        bad({ line, seq, problem: terminated ? parsed.problem : `${parsed.problem}; the file ends in the middle of this record`, ...describe(parsed.record) });
      } else {
        const r = parsed.record;
        if (r.seq !== seq) {
          bad({
            line,
            seq,
            problem: r.seq > seq ? `record ${seq} is missing (found record ${r.seq} here)` : `record ${r.seq} is out of place (expected record ${seq} here)`,
            ...describe(r),
          });
        } else if (r.prev !== prev) {
          bad({ line, seq, problem: 'the previous-record hash does not match the record before it (a record was removed, inserted or reordered)', ...describe(r) });
        } else if (seq === 0 && (r.type !== 'log-start' || typeof r.logId !== 'string')) {
          bad({ line, seq, problem: 'the log does not start with its log-start record', ...describe(r) });
        } else if (r.type === 'checkpoint') {
          const problem = checkpointProblem(r, seq, logId, frontier, o.publicKey, keyId);
          if (problem) bad({ line, seq, problem, ...describe(r) });
          else {
            checkpoints++;
            lastCheckpoint = { treeSize: seq, time: r.time };
            const copies = mirrored.get(seq) ?? [];
            for (const m of mirrorsOut) if (!copies.some((c) => c.uri === m.uri)) m.missing++;
          }
        }
        if (seq === 0 && typeof r.logId === 'string') logId = r.logId;
        prev = r.hash;
      }
      if (seq === 0 && logId && !mirrorsLoaded) await loadMirrors(logId);
      if (!firstBad) checkMirroredAt(seq);
    }
    frontier.push(bytes);
    seq++;
  }
  const records = seq;
  if (!firstBad) checkMirroredAt(records);
  if (!firstBad && !lastTerminated) bad({ line: records, seq: records - 1, problem: 'the file ends in the middle of this record' });

  // what outlives the log: mirrored checkpoints and the writer's tail state
  let largestMirrored = 0;
  for (const m of mirrorsOut) largestMirrored = Math.max(largestMirrored, m.largestTreeSize ?? 0);
  if (!firstBad && largestMirrored > records) {
    const where = mirrorsOut.find((m) => m.largestTreeSize === largestMirrored)!.uri;
    bad({ line: records + 1, seq: records, problem: `the log ends after ${records} records, but a checkpoint copied to ${where} covers ${largestMirrored}: records ${records}..${largestMirrored - 1} were cut off` });
  }
  if (!firstBad) {
    try {
      const t = JSON.parse(readFileSync(tailStatePath(o.file), 'utf8')) as { seq?: number };
      if (typeof t.seq === 'number' && t.seq > records) {
        bad({ line: records + 1, seq: records, problem: `the log ends after ${records} records, but the writer recorded ${t.seq}: records ${records}..${t.seq - 1} were cut off` });
      }
    } catch {
      // no tail state (log copied elsewhere): nothing to compare
    }
  }
  let mirrorFailure: string | undefined;
  if (!firstBad) {
    const failing = mirrorsOut.filter((m) => m.missing > 0 || m.problem);
    if (failing.length > 0) {
      mirrorFailure = failing
        .map((m) => `the mirror ${m.uri} lacks ${m.missing} of the log's ${checkpoints} checkpoints${m.problem ? ` (it could not be read: ${m.problem})` : ''}`)
        .join('; ');
      mirrorFailure += ': the next run copies what a mirror lacks; if the mirror bucket or container does not exist, create it';
    }
  }
  if ((o.mirrors ?? []).length === 0) warnings.push('no checkpoint mirror given: cutting whole runs off the end can only be detected from the tail state next to the log');
  const unsigned = lastCheckpoint ? records - lastCheckpoint.treeSize - 1 : records;
  if (!firstBad && unsigned > 0) warnings.push(`${unsigned} record(s) after the last checkpoint are chained but not yet signed (a run in progress, or one that was killed)`);
  return {
    ok: !firstBad && records > 0 && !mirrorFailure,
    file: o.file,
    ...(logId ? { logId } : {}),
    records,
    checkpoints,
    ...(lastCheckpoint ? { lastCheckpoint } : {}),
    unsigned,
    keyId,
    ...(firstBad ? { firstBad } : records === 0 ? { firstBad: { line: 1, seq: 0, problem: 'the log is empty' } } : {}),
    mirrors: mirrorsOut,
    ...(mirrorFailure ? { mirrorFailure } : {}),
    warnings,
  };
}

function checkpointProblem(r: AuditRecord, seq: number, logId: string | undefined, frontier: MerkleFrontier, key: KeyObject, keyId: string): string | undefined {
  const cp = r as unknown as Partial<SignedCheckpoint>;
  if (cp.treeSize !== seq) return `checkpoint claims ${String(cp.treeSize)} records before it, there are ${seq}`;
  if (logId === undefined || cp.logId !== logId) return 'checkpoint belongs to another log';
  if (typeof cp.root !== 'string' || cp.root !== frontier.root().toString('hex')) return 'checkpoint Merkle root does not match the records before it';
  if (cp.keyId !== keyId) return `checkpoint is signed by another key (${String(cp.keyId)}, trusted: ${keyId})`;
  if (typeof cp.sig !== 'string' || !verifySignature(key, checkpointMessage({ logId, treeSize: seq, root: cp.root, time: r.time }), cp.sig)) {
    return 'checkpoint signature is not valid for the trusted key';
  }
  return undefined;
}
