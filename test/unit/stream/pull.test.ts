/**
 * When a pull lane calls a gap a loss (over an in-memory store; test/int/stream.test.ts
 * shows both sides on Ceph): a later generation, or a later segment its pusher's window
 * says was cut only after the missing one was stored, prove it at once; a journal written
 * by an earlier version (one intent per file) still opens, its intent kept with window 1.
 */
import Database from 'better-sqlite3';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import { StreamJournal } from '../../../src/stream/journal.js';
import { segmentKey, WINDOW_METADATA } from '../../../src/stream/keys.js';
import { sqliteOptions } from '../../../src/lib/sqlite.js';
import { PullLane } from '../../../src/stream/pull.js';
import { LaneStats } from '../../../src/stream/stats.js';
import { tempDir } from '../../helpers/fs.js';

async function put(b: MemoryBackend, generation: number, seq: number, start: number, text: string, window?: number): Promise<void> {
  const key = segmentKey({ fileId: 'f-0123456789ab', generation, seq, start, end: start + text.length });
  await b.write(key, Readable.from([Buffer.from(text)]), { size: text.length, mtimeMs: 1, ...(window ? { metadata: { [WINDOW_METADATA]: String(window) } } : {}) });
}

function pull(src: MemoryBackend, gapGraceMs = 3_600_000): Promise<void> {
  const journal = new StreamJournal(':memory:');
  journal.registerLane('p', 'pull', 'mem://src/', 'file:///x/');
  return new PullLane({
    lane: 'p',
    src,
    dst: new MemoryBackend(),
    journal,
    dstDir: tempDir('pull-unit'),
    mode: 'segments',
    gapGraceMs,
    pollMs: 5,
    once: true,
    retries: 1,
    stats: new LaneStats('p', 'pull', 'mem://src/', '/x'),
    signal: new AbortController().signal,
    emit: () => undefined,
  }).run();
}

describe('pull lane gaps', () => {
  it('a later generation proves the missing segment was stored: named at once', async () => {
    const src = new MemoryBackend('mem://src/');
    await put(src, 0, 0, 0, 'a\n', 4);
    await put(src, 0, 1, 2, 'b\n', 4);
    await put(src, 0, 3, 6, 'd\n', 4); // seq 2 missing; within the window, but
    await put(src, 1, 0, 0, 'new\n', 4); // the next generation starts only after generation 0 is stored
    await expect(pull(src)).rejects.toThrow(/missing segment mem:\/\/src\/f-0123456789ab\/000000\/0000000002-000000000000004-… .*generation 1 exists/);
  });

  it("a later segment at least the pusher's window past it proves it was stored; objects without a window are from a pusher storing one at a time", async () => {
    const src = new MemoryBackend('mem://src/');
    await put(src, 0, 0, 0, 'a\n', 2);
    await put(src, 0, 2, 4, 'c\n', 2);
    await put(src, 0, 3, 6, 'd\n', 2); // 3 − 2 ≥ 1: seq 1 was stored before seq 3 was cut
    await expect(pull(src)).rejects.toThrow(/seq 1 of generation 0.*storing at most 2 at once/);
    const old = new MemoryBackend('mem://src/');
    await put(old, 0, 0, 0, 'a\n');
    await put(old, 0, 2, 4, 'c\n');
    await expect(pull(old)).rejects.toThrow(/storing at most 1 at once/);
  });

  it('within the window, the gap is waited for until the grace is over, then named', async () => {
    const src = new MemoryBackend('mem://src/');
    await put(src, 0, 0, 0, 'a\n', 4);
    await put(src, 0, 2, 4, 'c\n', 4);
    await expect(pull(src, 0)).rejects.toThrow(/seq 1 of generation 0.*has been missing for \d+s while later segments exist/);
  });
});

describe('stream journal', () => {
  it('a journal of the one-segment-in-flight version opens; its intent is kept, with window 1', () => {
    const path = join(tempDir('journal-v1'), 'stream.db');
    const v1 = new Database(path, sqliteOptions());
    v1.exec(`CREATE TABLE push_intents (
      lane TEXT NOT NULL, file_id TEXT NOT NULL, generation INTEGER NOT NULL, seq INTEGER NOT NULL,
      start INTEGER NOT NULL, end INTEGER NOT NULL, key TEXT NOT NULL, src_sha256 TEXT NOT NULL,
      sha256 TEXT NOT NULL, md5 TEXT NOT NULL, size INTEGER NOT NULL, intent_at INTEGER NOT NULL,
      PRIMARY KEY (lane, file_id)) WITHOUT ROWID;
      INSERT INTO push_intents VALUES ('l', 'f', 0, 7, 100, 200, 'k', 's', 's', 'm', 100, 1);
      PRAGMA user_version = 1;`);
    v1.close();
    const j = new StreamJournal(path);
    expect(j.intents('l', 'f')).toEqual([{ fileId: 'f', generation: 0, seq: 7, start: 100, end: 200, key: 'k', srcSha256: 's', sha256: 's', md5: 'm', size: 100, window: 1 }]);
    j.close();
    expect(new StreamJournal(path).intents('l', 'f')).toHaveLength(1); // and opens again at v2
  });
});
