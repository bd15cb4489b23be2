/**
 * The append-only audit log writer. Records are buffered in memory and written in
 * batches (every second, every 1,024 records, at checkpoints): a batch takes a short
 * exclusive lock, so concurrent runs of one user share one hash chain without waiting
 * on each other for longer than a write. Appending never reads the log: the tail — next
 * seq, last hash, Merkle frontier — is kept in `<log>.state` and rebuilt from the log
 * only when the two disagree (a crash between them, a log restored from backup).
 *
 * Every `checkpointEvery` records and whenever a run ends, a checkpoint record commits
 * to the RFC 6962 root over all lines before it, signed with Ed25519; the checkpoint is
 * then copied to the configured mirrors. At close, each mirror that took this writer's
 * copies is listed and given every checkpoint of the log it lacks (a run while the mirror
 * was unreachable or not yet configured, a writer killed before its copy): the log is read
 * for them only when the mirror holds fewer checkpoints than the log. The writer never
 * throws into the sync engine: a failure is kept in `failure` (the gate stops the run on
 * it) and thrown by close().
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { createFileAtomically, pidAlive } from '../../lib/process.js';
import { formatRecord, GENESIS_PREV, LOG_FORMAT, sha256Hex, trailingHash, type RecordBody } from './format.js';
import { MerkleFrontier } from './merkle.js';
import type { CheckpointMirror, SignedCheckpoint } from './mirror.js';
import { checkpointMessage, type Signer } from './signing.js';

export interface AuditLogOptions {
  /** The JSONL log file. */
  readonly file: string;
  readonly signer: Signer;
  /** Records between checkpoints. */
  readonly checkpointEvery: number;
  readonly mirrors?: readonly CheckpointMirror[];
  /** How long a batch waits for another writer's lock (default 15 s). */
  readonly lockTimeoutMs?: number;
  /** Interval of background flushes; 0 disables them (tests, one-shot writers). */
  readonly flushIntervalMs?: number;
  readonly onMirrorError?: (uri: string, err: unknown) => void;
  readonly now?: () => number;
  /**
   * Each batch as written: its lines and the Merkle frontier before it, so a reader that
   * sees only this writer's batches can still recompute the roots its checkpoints sign
   * (a cluster worker forwards them to the coordinator). Called synchronously after the
   * write; it must not throw.
   */
  readonly onBatch?: (batch: WrittenBatch) => void;
  /** End every batch with a signed checkpoint (so each batch handed to onBatch is covered by a signature). */
  readonly signEveryBatch?: boolean;
}

/** A batch of lines as one writer appended them (see AuditLogOptions.onBatch). */
export interface WrittenBatch {
  readonly logId: string;
  /** Lines of the log before the batch: the seq of its first line. */
  readonly size: number;
  /** The Merkle frontier over those lines (subtree roots, hex, largest first). */
  readonly frontier: readonly string[];
  /** The batch's lines, without newlines. */
  readonly lines: readonly string[];
}

interface Tail {
  v: 1;
  logId: string;
  /** Bytes of the log this state describes. */
  size: number;
  /** Lines so far = the next seq. */
  seq: number;
  lastHash: string;
  frontier: string[];
  /** Records since the last checkpoint. */
  sinceCheckpoint: number;
  /** Checkpoints in the log. */
  checkpoints: number;
}

const BATCH_RECORDS = 1024;
const STALE_LOCK_MS = 30_000;
const EMPTY_LOCK_MS = 2_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

export function tailStatePath(file: string): string {
  return `${file}.state`;
}

export class AuditLog {
  private pending: Array<{ body: RecordBody; time: number }> = [];
  private readonly inflight = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly host = hostname();
  private closed = false;
  /** The first write failure; once set, nothing more is written. */
  failure: Error | undefined;
  /** Checkpoints this writer signed (tests and the run summary). */
  readonly checkpoints: SignedCheckpoint[] = [];
  /** The log as of this writer's last batch: its id and how many checkpoints it holds. */
  private written: { logId: string; checkpoints: number } | undefined;
  /** Mirrors a copy failed for in this writer: unreachable, not back-filled. */
  private readonly failedMirrors = new Set<CheckpointMirror>();

  constructor(private readonly o: AuditLogOptions) {
    this.now = o.now ?? Date.now;
    mkdirSync(dirname(o.file), { recursive: true, mode: 0o700 });
    const every = o.flushIntervalMs ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.flushQuietly(), every);
      this.timer.unref();
    }
  }

  get file(): string {
    return this.o.file;
  }

  /** Queues a record; it is written with the next batch. */
  append(body: RecordBody): void {
    if (this.closed) throw new Error('audit log is closed');
    this.pending.push({ body, time: this.now() });
    if (this.pending.length >= BATCH_RECORDS) this.flushQuietly();
  }

  /** Writes queued records now; with `checkpoint`, ends the batch with a signed checkpoint. */
  flush(opts: { checkpoint?: boolean } = {}): void {
    if (this.failure) throw this.failure;
    if (this.pending.length === 0 && !opts.checkpoint) return;
    try {
      this.writeBatch(!!opts.checkpoint);
    } catch (err) {
      this.failure = err instanceof ConfigError ? err : new ConfigError(`cannot write the audit log ${this.o.file}: ${(err as Error).message}`, { cause: err, hint: 'check free space and permissions of the audit directory' });
      throw this.failure;
    }
  }

  /**
   * Writes what is pending (and signs a checkpoint with `checkpoint`) without throwing: a
   * failure is kept in this.failure, the gate stops the run on it and close() reports it.
   * For the end of a run, where records must be signed before anything else happens.
   */
  flushQuietly(opts: { checkpoint?: boolean } = {}): void {
    if (this.failure) return;
    try {
      this.flush(opts);
    } catch {
      // kept in this.failure
    }
  }

  /** Writes everything, signs a final checkpoint if records were added, waits for mirror copies. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    try {
      if (!this.failure) this.flush({ checkpoint: true });
    } finally {
      this.closed = true;
      await Promise.allSettled([...this.inflight]);
      if (!this.failure) await Promise.allSettled((this.o.mirrors ?? []).filter((m) => !this.failedMirrors.has(m)).map((m) => this.backfill(m)));
      await Promise.allSettled((this.o.mirrors ?? []).map((m) => m.close?.()));
    }
    if (this.failure) throw this.failure;
  }

  /** Copies to a mirror every checkpoint of the log it lacks. */
  private async backfill(m: CheckpointMirror): Promise<void> {
    const log = this.written;
    if (!log || log.checkpoints === 0) return;
    try {
      const present = new Set<number>();
      for await (const size of m.treeSizes(log.logId)) present.add(size);
      if (present.size >= log.checkpoints) return;
      for await (const cp of checkpointsOf(this.o.file)) {
        if (cp.logId === log.logId && !present.has(cp.treeSize)) await m.put(cp);
      }
    } catch (err) {
      this.o.onMirrorError?.(m.uri, err);
    }
  }

  private writeBatch(checkpoint: boolean): void {
    const lock = `${this.o.file}.lock`;
    this.acquire(lock);
    const signed: SignedCheckpoint[] = [];
    try {
      const fd = openSync(this.o.file, 'a+', 0o600);
      try {
        const { tail, recovered } = this.loadTail(fd);
        const out: string[] = [];
        const before = { size: tail.seq, frontier: tail.frontier };
        const frontier = MerkleFrontier.fromHex(tail.seq, tail.frontier);
        const add = (body: RecordBody, time: number): void => {
          const { line, hash } = formatRecord(tail.seq, new Date(time).toISOString(), tail.lastHash, body);
          out.push(`${line}\n`);
          frontier.push(line);
          tail.seq++;
          tail.lastHash = hash;
        };
        const sign = (time: number): void => {
          const body = { logId: tail.logId, treeSize: tail.seq, root: frontier.root().toString('hex'), time: new Date(time).toISOString() };
          const cp: SignedCheckpoint = { ...body, keyId: this.o.signer.keyId, sig: this.o.signer.sign(checkpointMessage(body)) };
          add({ type: 'checkpoint', logId: cp.logId, treeSize: cp.treeSize, root: cp.root, keyId: cp.keyId, sig: cp.sig }, time);
          tail.sinceCheckpoint = 0;
          tail.checkpoints++;
          signed.push(cp);
        };
        const t0 = this.pending[0]?.time ?? this.now();
        if (tail.seq === 0) add({ type: 'log-start', format: LOG_FORMAT, logId: tail.logId, keyId: this.o.signer.keyId }, t0);
        if (recovered) add({ type: 'log-recovered', ...recovered }, t0);
        for (const p of this.pending) {
          add(p.body, p.time);
          if (++tail.sinceCheckpoint >= this.o.checkpointEvery) sign(p.time);
        }
        if ((checkpoint || this.o.signEveryBatch) && tail.sinceCheckpoint > 0) sign(this.now());
        const data = Buffer.from(out.join(''), 'utf8');
        let off = 0;
        while (off < data.length) off += writeSync(fd, data, off, data.length - off, tail.size + off);
        if (checkpoint) fsyncSync(fd); // a run's last checkpoint is durable before it ends
        tail.size += data.length;
        tail.frontier = frontier.toHex();
        const statePath = tailStatePath(this.o.file);
        writeFileSync(`${statePath}.tmp`, JSON.stringify(tail), { mode: 0o600 });
        renameSync(`${statePath}.tmp`, statePath);
        this.written = { logId: tail.logId, checkpoints: tail.checkpoints };
        if (out.length > 0) this.o.onBatch?.({ logId: tail.logId, ...before, lines: out.map((l) => l.slice(0, -1)) });
      } finally {
        closeSync(fd);
      }
    } finally {
      this.release(lock);
    }
    this.pending = [];
    for (const cp of signed) {
      this.checkpoints.push(cp);
      for (const m of this.o.mirrors ?? []) {
        const p: Promise<void> = m
          .put(cp)
          .catch((err: unknown) => {
            this.failedMirrors.add(m);
            this.o.onMirrorError?.(m.uri, err);
          })
          .finally(() => this.inflight.delete(p));
        this.inflight.add(p);
      }
    }
  }

  /** The tail state for the log open at fd, rebuilt from the log when the two disagree. */
  private loadTail(fd: number): { tail: Tail; recovered?: { discardedBytes: number; discardedSha256: string } } {
    const size = fstatSync(fd).size;
    if (size === 0) {
      return { tail: { v: 1, logId: randomBytes(16).toString('hex'), size: 0, seq: 0, lastHash: GENESIS_PREV, frontier: [], sinceCheckpoint: 0, checkpoints: 0 } };
    }
    try {
      const t = JSON.parse(readFileSync(tailStatePath(this.o.file), 'utf8')) as Tail;
      // a state without the checkpoint count (written before it was kept) is rebuilt once
      if (t.v === 1 && t.size === size && Array.isArray(t.frontier) && Number.isInteger(t.checkpoints)) return { tail: t };
    } catch {
      // missing or unreadable: rebuild below
    }
    return this.rebuildTail(fd, size);
  }

  /**
   * Reads the whole log once to recompute the tail. A last line without its newline is
   * a write a crash cut short: it is removed and a `log-recovered` record says so.
   */
  private rebuildTail(fd: number, size: number): { tail: Tail; recovered?: { discardedBytes: number; discardedSha256: string } } {
    const frontier = new MerkleFrontier();
    let logId = '';
    let lastHash = GENESIS_PREV;
    let sinceCheckpoint = 0;
    let checkpoints = 0;
    let carry = Buffer.alloc(0);
    let complete = 0;
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; pos < size; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n <= 0) break;
      pos += n;
      let chunk = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
      let nl: number;
      while ((nl = chunk.indexOf(10)) >= 0) {
        const line = chunk.subarray(0, nl);
        const text = line.toString('utf8');
        if (frontier.size === 0) logId = /"logId":"([0-9a-f]+)"/.exec(text)?.[1] ?? '';
        frontier.push(line);
        lastHash = trailingHash(text) ?? sha256Hex(line);
        const isCheckpoint = text.includes('"type":"checkpoint"');
        sinceCheckpoint = isCheckpoint ? 0 : sinceCheckpoint + 1;
        if (isCheckpoint) checkpoints++;
        complete += nl + 1;
        chunk = chunk.subarray(nl + 1);
      }
      carry = chunk;
    }
    const tail: Tail = { v: 1, logId: logId || randomBytes(16).toString('hex'), size: complete, seq: frontier.size, lastHash, frontier: frontier.toHex(), sinceCheckpoint, checkpoints };
    if (carry.length === 0) return { tail };
    ftruncateSync(fd, complete);
    return { tail, recovered: { discardedBytes: carry.length, discardedSha256: sha256Hex(carry) } };
  }

  private acquire(lock: string): void {
    const deadline = Date.now() + (this.o.lockTimeoutMs ?? 15_000);
    for (let wait = 1; ; wait = Math.min(wait * 2, 25)) {
      // the lock appears with its holder already in it: a writer killed at any moment
      // leaves either no lock or one naming a pid that can be checked
      if (createFileAtomically(lock, `${process.pid}@${this.host}`)) return;
      if (this.lockIsStale(lock)) {
        try {
          unlinkSync(lock);
        } catch {
          // someone else removed it
        }
        continue;
      }
      if (Date.now() > deadline) {
        let holder = '?';
        try {
          holder = readFileSync(lock, 'utf8') || '?';
        } catch {
          // gone meanwhile
        }
        throw new ConfigError(`the audit log ${this.o.file} is locked by ${holder}`, { hint: `if no hybridsync process is running, remove ${lock}` });
      }
      sleepSync(wait);
    }
  }

  private lockIsStale(lock: string): boolean {
    try {
      const holder = readFileSync(lock, 'utf8');
      const [pid, host] = holder.split('@');
      if (host === this.host && pid && !pidAlive(Number(pid))) return true;
      // an empty lock is from a version that wrote the holder after creating the file
      // and was killed in between: no live writer leaves one for more than a moment
      const age = Date.now() - statSync(lock).mtimeMs;
      return holder === '' ? age > EMPTY_LOCK_MS : age > STALE_LOCK_MS;
    } catch {
      return false;
    }
  }

  private release(lock: string): void {
    try {
      unlinkSync(lock);
    } catch {
      // already gone
    }
  }
}

/** The signed checkpoints recorded in a log, in order, read line by line. */
export async function* checkpointsOf(file: string, signal?: AbortSignal): AsyncGenerator<SignedCheckpoint> {
  let carry = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20, ...(signal ? { signal } : {}) }) as AsyncIterable<string>) {
    const parts = (carry + chunk).split('\n');
    carry = parts.pop()!;
    for (const line of parts) {
      if (!line.includes('"type":"checkpoint"')) continue;
      let r: Partial<SignedCheckpoint> & { type?: string };
      try {
        r = JSON.parse(line) as typeof r;
      } catch {
        continue; // `audit verify` names it
      }
      if (r.type !== 'checkpoint' || typeof r.logId !== 'string' || typeof r.treeSize !== 'number' || typeof r.root !== 'string' || typeof r.keyId !== 'string' || typeof r.sig !== 'string' || typeof r.time !== 'string') continue;
      yield { logId: r.logId, treeSize: r.treeSize, root: r.root, time: r.time, keyId: r.keyId, sig: r.sig };
    }
  }
}
