import { appendFileSync, renameSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Follower, SourcePattern } from '../../../src/stream/follower.js';
import { StreamJournal } from '../../../src/stream/journal.js';
import { tempDir } from '../../helpers/fs.js';

function setup(spec: (dir: string) => string) {
  const dir = tempDir('follow');
  const journal = new StreamJournal(':memory:');
  journal.registerLane('l', 'push', dir, 'mem://x/');
  let now = 1_000;
  const notices: string[] = [];
  const make = (): Follower =>
    new Follower({ lane: 'l', journal, pattern: new SourcePattern(spec(dir)), rotateQuietMs: 500, now: () => now, onNotice: (m) => notices.push(m) });
  return { dir, journal, notices, make, tick: (ms: number) => (now += ms) };
}

/** Ships everything pending in each file, as the push lane does after a verified upload. */
function shipAll(f: Follower): void {
  for (const t of f.files()) {
    if (t.size > t.record.offset) f.advance(t, f.advanced(t, t.size, 0));
  }
}

describe('follower', () => {
  it('a file of a few bytes is followed; identity is device + inode, not the name', () => {
    const s = setup((d) => join(d, 'app.log'));
    writeFileSync(join(s.dir, 'app.log'), 'hi\n');
    const f = s.make();
    f.poll();
    expect(f.files().map((t) => [t.size, f.pendingSince(t)])).toEqual([[3, 1000]]);
  });

  it("a byte's age counts from its arrival: bytes appended while earlier segments are in flight keep the time they were first seen", () => {
    const s = setup((d) => join(d, 'app.log'));
    const path = join(s.dir, 'app.log');
    writeFileSync(path, 'one\n');
    const f = s.make();
    f.poll(); // seen at 1000
    const t = f.files()[0]!;
    const next = f.advanced(t, 4, 0);
    f.cut(t, next); // segment [0, 4) in flight
    s.tick(100);
    appendFileSync(path, 'two\n');
    f.poll(); // seen at 1100
    expect(f.pendingSince(t)).toBe(1100);
    expect(f.unstoredSince(t)).toBe(1000);
    s.tick(900);
    f.commit(t, next); // stored at 2000: the waiting bytes still date from 1100
    expect(t.record.offset).toBe(4);
    expect(f.pendingSince(t)).toBe(1100);
    expect(f.unstoredSince(t)).toBe(1100);
  });

  it('an append seen late (a busy machine) counts from when it was written: the file\'s mtime, never later than when it was seen', () => {
    const s = setup((d) => join(d, 'app.log'));
    const path = join(s.dir, 'app.log');
    writeFileSync(path, '');
    const f = s.make();
    const t0 = Date.now() - 10_000;
    s.tick(t0 - 1000); // the fake clock at t0
    f.poll();
    const t = f.files()[0]!;
    appendFileSync(path, 'late\n');
    utimesSync(path, new Date(t0 + 1000), new Date(t0 + 1000)); // written at t0 + 1 s
    s.tick(3000); // seen at t0 + 3 s
    f.poll();
    expect(f.pendingSince(t)).toBeCloseTo(t0 + 1000, 0);
    appendFileSync(path, 'future mtime\n');
    utimesSync(path, new Date(t0 + 60_000), new Date(t0 + 60_000)); // a clock ahead (NFS server)
    s.tick(1000);
    f.poll();
    expect(f.arrivedAt(t, 6)).toBe(t0 + 4000); // when it was seen
  });

  it('a file far behind keeps a bounded record of arrivals, which only ever makes bytes older', () => {
    const s = setup((d) => join(d, 'app.log'));
    const path = join(s.dir, 'app.log');
    writeFileSync(path, '');
    const f = s.make();
    f.poll();
    const t = f.files()[0]!;
    for (let i = 1; i <= 600; i++) {
      s.tick(10);
      appendFileSync(path, 'x\n');
      f.poll(); // byte 2i-1 arrived at 1000 + 10 i
    }
    expect(t.arrivals.length).toBeLessThanOrEqual(512);
    for (const i of [1, 2, 299, 512, 600]) expect(f.arrivedAt(t, 2 * i - 1)).toBeLessThanOrEqual(1000 + 10 * i);
    expect(f.arrivedAt(t, 0)).toBe(1010);
  });

  it('a truncation found while a segment is in flight waits until it commits, then starts the new generation', () => {
    const s = setup((d) => join(d, 'app.log'));
    const path = join(s.dir, 'app.log');
    writeFileSync(path, 'line 1\nline 2\n');
    const f = s.make();
    f.poll();
    const t = f.files()[0]!;
    const next = f.advanced(t, 14, 0);
    f.cut(t, next);
    truncateSync(path, 0);
    appendFileSync(path, 'x\n');
    f.poll();
    expect(t.record.generation).toBe(0); // the segment in flight holds bytes the file had
    expect(f.readPending(t, 2)).toBeUndefined();
    f.commit(t, next);
    f.poll();
    expect(t.record).toMatchObject({ generation: 1, offset: 0 });
  });

  it('rotation by rename: the old inode is drained to its end and retired once quiet; the new file is a new stream', () => {
    const s = setup((d) => join(d, 'app.log'));
    const path = join(s.dir, 'app.log');
    writeFileSync(path, 'a\n');
    const f = s.make();
    f.poll();
    shipAll(f);
    const oldId = f.files()[0]!.record.fileId;
    renameSync(path, join(s.dir, 'app.log.1'));
    appendFileSync(join(s.dir, 'app.log.1'), 'late\n'); // the writer still had it open
    writeFileSync(path, 'new\n');
    f.poll();
    const old = f.files().find((t) => t.record.fileId === oldId)!;
    expect(old.matched).toBe(false);
    expect(old.size - old.record.offset).toBe(5); // the late write is still followed
    expect(f.files()).toHaveLength(2);
    s.tick(600);
    expect(f.isFinal(old)).toBe(true);
    expect(f.retireDrained()).toEqual([]); // not drained yet: nothing is retired
    shipAll(f);
    expect(f.retireDrained().map((t) => t.record.fileId)).toEqual([oldId]);
    expect(s.journal.pushFiles('l', ['done']).map((r) => r.fileId)).toEqual([oldId]);
  });

  it('truncation starts a new generation at offset 0; so does a rewrite of the bytes before the offset', () => {
    const s = setup((d) => join(d, 'app.log'));
    const path = join(s.dir, 'app.log');
    writeFileSync(path, 'line 1\nline 2\n');
    const f = s.make();
    f.poll();
    shipAll(f);
    truncateSync(path, 0);
    appendFileSync(path, 'x\n');
    f.poll();
    expect(f.files()[0]!.record).toMatchObject({ generation: 1, offset: 0, nextSeq: 0 });
    shipAll(f);
    // same length and more, but the shipped bytes changed: a rewrite
    writeFileSync(path, 'y\nmore\n');
    f.poll();
    expect(f.readPending(f.files()[0]!, 5)).toBeUndefined();
    expect(f.files()[0]!.record).toMatchObject({ generation: 2, offset: 0 });
    expect(s.notices.some((n) => n.includes('truncated'))).toBe(true);
  });

  it('after a restart, a file renamed while nothing ran is found again by inode in its directory', () => {
    const s = setup((d) => join(d, 'app.log'));
    const path = join(s.dir, 'app.log');
    writeFileSync(path, 'before\n');
    const f1 = s.make();
    f1.poll();
    const t = f1.files()[0]!;
    const rec = f1.advanced(t, t.size, 0);
    s.journal.commit('l', rec, 0, t.size);
    f1.close();
    renameSync(path, join(s.dir, 'app.log.1'));
    appendFileSync(join(s.dir, 'app.log.1'), 'after\n');
    const f2 = s.make();
    f2.resume();
    f2.poll();
    const again = f2.files().find((x) => x.record.fileId === rec.fileId)!;
    expect(again.record.path).toBe(join(s.dir, 'app.log.1'));
    expect(again.size - again.record.offset).toBe(6);
  });

  it('an inode reused by a different file is another file, and the lost one is reported', () => {
    const s = setup((d) => d);
    const path = join(s.dir, 'a.log');
    writeFileSync(path, 'aaaa\n');
    const f1 = s.make();
    f1.poll();
    const t = f1.files()[0]!;
    s.journal.commit('l', f1.advanced(t, t.size, 0), 0, t.size);
    f1.close();
    unlinkSync(path);
    writeFileSync(path, 'bbbbbbbb\n'); // may or may not get the same inode: either way it is not the old file
    const f2 = s.make();
    f2.resume();
    f2.poll();
    const cur = f2.files().filter((x) => x.record.state === 'active');
    expect(cur).toHaveLength(1);
    expect(cur[0]!.record.fileId).not.toBe(t.record.fileId);
    expect(cur[0]!.record.offset).toBe(0);
    expect(s.journal.pushFiles('l', ['lost']).map((r) => r.fileId)).toEqual([t.record.fileId]);
  });
});
