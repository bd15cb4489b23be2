/**
 * The push lane's pipelining, over an in-memory object store whose PUTs the test holds and
 * releases (the logic above the Backend contract; test/int/stream.test.ts proves it on Ceph):
 * several segments are stored at once, yet the committed offset only moves in seq order over
 * stored segments; a lane stopped with segments in flight leaves exactly those journaled,
 * and the next run stores them under the same keys with the same bytes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Body, WriteOptions } from '../../../src/core/backend.js';
import type { WriteMeta, WriteResult } from '../../../src/core/entry.js';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import { SourcePattern } from '../../../src/stream/follower.js';
import { StreamJournal } from '../../../src/stream/journal.js';
import { parseSegmentKey, WINDOW_METADATA } from '../../../src/stream/keys.js';
import { PushLane } from '../../../src/stream/push.js';
import { LaneStats } from '../../../src/stream/stats.js';
import type { SyncEvent } from '../../../src/sync/events.js';
import { tempDir } from '../../helpers/fs.js';

/** A memory store whose PUTs wait until the test releases them, key by key. */
class HeldStore extends MemoryBackend {
  readonly started: string[] = [];
  private readonly held = new Map<string, () => void>();
  private readonly waiting = new Set<string>();
  holdAll = true;

  override async write(key: string, body: Body, meta: WriteMeta, opts: WriteOptions = {}): Promise<WriteResult> {
    this.started.push(key);
    if (this.holdAll) {
      this.waiting.add(key);
      await new Promise<void>((resolve, reject) => {
        this.held.set(key, resolve);
        opts.signal?.addEventListener('abort', () => reject(opts.signal!.reason as Error), { once: true });
      }).finally(() => this.waiting.delete(key));
    }
    return super.write(key, body, meta, opts);
  }

  /** Keys whose PUT is waiting, in the order they started. */
  pending(): string[] {
    return this.started.filter((k) => this.waiting.has(k));
  }

  release(key: string): void {
    this.held.get(key)?.();
  }
}

const until = async (what: string, ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 2000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!ok()) throw new Error(`gave up waiting for ${what}`);
};

function setup(lines: number) {
  const dir = tempDir('push-unit');
  const file = join(dir, 'f.jsonl');
  writeFileSync(file, Array.from({ length: lines }, (_, i) => `{"i":${i},"pad":"${'x'.repeat(40)}"}\n`).join(''));
  const journal = new StreamJournal(':memory:');
  journal.registerLane('l', 'push', file, 'mem://dst/');
  return { dir, file, journal };
}

function lane(o: { file: string; journal: StreamJournal; dst: MemoryBackend; window: number; signal: AbortSignal; events: SyncEvent[] }): PushLane {
  return new PushLane({
    lane: 'l',
    src: new MemoryBackend(),
    dst: o.dst,
    journal: o.journal,
    pattern: new SourcePattern(o.file),
    pollMs: 10,
    once: true,
    retries: 1,
    stats: new LaneStats('l', 'push', o.file, 'mem://dst/'),
    signal: o.signal,
    emit: (e) => o.events.push(e),
    segmentSize: 256,
    segmentAgeMs: 0,
    rotateQuietMs: 1000,
    format: 'auto',
    window: o.window,
  });
}

const committedOffset = (j: StreamJournal): number => j.pushFiles('l')[0]?.offset ?? 0;

describe('push lane pipelining', () => {
  it('stores up to its window at once, commits in seq order only, and marks each object with the window', async () => {
    const s = setup(40); // ~2.1 KiB: 9 segments of ≤ 256 bytes
    const dst = new HeldStore('mem://dst/');
    const events: SyncEvent[] = [];
    const ac = new AbortController();
    const run = lane({ ...s, dst, window: 3, signal: ac.signal, events }).run();
    await until('three PUTs in flight', () => dst.pending().length === 3);
    await new Promise((r) => setTimeout(r, 50)); // the window is full: no fourth starts
    expect(dst.pending()).toHaveLength(3);
    const [first, second, third] = dst.pending();
    // the later two land first: stored, yet nothing commits before the first
    dst.release(third!);
    dst.release(second!);
    await until('two stored', () => dst.objects.size === 2);
    expect(committedOffset(s.journal)).toBe(0);
    expect(s.journal.intents('l', s.journal.pushFiles('l')[0]!.fileId).map((i) => i.seq)).toEqual([0, 1, 2]);
    expect(events.filter((e) => e.type === 'segment')).toEqual([]);
    dst.release(first!);
    await until('the first three committed', () => events.filter((e) => e.type === 'segment').length === 3);
    dst.holdAll = false;
    for (const k of dst.pending()) dst.release(k);
    await run;
    const segs = events.filter((e): e is Extract<SyncEvent, { type: 'segment' }> => e.type === 'segment');
    expect(segs.map((e) => e.seq)).toEqual(segs.map((_, i) => i));
    expect(committedOffset(s.journal)).toBe(segs.at(-1)!.end);
    const keys = [...dst.objects.keys()].sort();
    expect(keys).toHaveLength(segs.length);
    expect(Buffer.concat(keys.map((k) => dst.objects.get(k)!.data)).toString()).toBe((await import('node:fs')).readFileSync(s.file, 'utf8'));
    for (const k of keys) expect(dst.objects.get(k)!.metadata[WINDOW_METADATA]).toBe('3');
  });

  it('stopped with segments in flight: exactly those stay journaled, and the next run stores them under the same keys with the same bytes', async () => {
    const s = setup(40);
    const dst = new HeldStore('mem://dst/');
    const ac = new AbortController();
    const events: SyncEvent[] = [];
    const run = lane({ ...s, dst, window: 4, signal: ac.signal, events }).run();
    await until('four PUTs in flight', () => dst.pending().length === 4);
    const inFlight = dst.pending();
    dst.release(inFlight[2]!); // one later segment landed before the stop
    await until('one stored', () => dst.objects.size === 1);
    ac.abort(new Error('killed'));
    await expect(run).rejects.toThrow('killed');
    const fileId = s.journal.pushFiles('l')[0]!.fileId;
    const journaled = s.journal.intents('l', fileId);
    expect(journaled.map((i) => i.key)).toEqual(inFlight);
    expect(committedOffset(s.journal)).toBe(0);
    const storedBefore = dst.objects.get(inFlight[2]!)!.data;

    // the next run: no holds
    dst.holdAll = false;
    dst.started.length = 0;
    const events2: SyncEvent[] = [];
    await lane({ ...s, dst, window: 4, signal: new AbortController().signal, events: events2 }).run();
    const segs = events2.filter((e): e is Extract<SyncEvent, { type: 'segment' }> => e.type === 'segment');
    // the journaled ones first, same keys; the one stored before the stop was confirmed, not rewritten
    expect(segs.slice(0, 4).map((e) => e.key)).toEqual(inFlight);
    expect(segs[2]).toMatchObject({ reason: 'retry', confirmed: true });
    expect(dst.objects.get(inFlight[2]!)!.data.equals(storedBefore)).toBe(true);
    expect(s.journal.intents('l', fileId)).toEqual([]);
    const keys = [...dst.objects.keys()].sort();
    const parsed = keys.map((k) => parseSegmentKey(k)!);
    parsed.forEach((p, i) => {
      expect(p.seq).toBe(i);
      expect(p.start).toBe(i === 0 ? 0 : parsed[i - 1]!.end);
    });
    expect(Buffer.concat(keys.map((k) => dst.objects.get(k)!.data)).toString()).toBe((await import('node:fs')).readFileSync(s.file, 'utf8'));
  });
});
