import { describe, expect, it } from 'vitest';
import { cutSegment, decideRead, firstRecordEnd, lastRecordEnd, type CutPolicy } from '../../../src/stream/cutter.js';
import { parseSegmentKey, segmentKey } from '../../../src/stream/keys.js';

const lines: CutPolicy = { format: 'lines', maxBytes: 32, maxAgeMs: 5000 };
const csv: CutPolicy = { format: 'csv', maxBytes: 64, maxAgeMs: 5000 };
const b = (s: string): Buffer => Buffer.from(s);

describe('segment cutter', () => {
  it('cuts after the last newline, never inside a line', () => {
    expect(cutSegment(lines, b('one\ntwo\nthr'), 'age')).toEqual({ length: 8, reason: 'age', forced: false });
    expect(cutSegment(lines, b('partial'), 'age')).toBeUndefined(); // wait for the record to finish
  });

  it('CSV: a newline inside a quoted field does not end the record; escaped quotes keep the parity', () => {
    const text = 'id,note\n1,"line one\nline two"\n2,"say ""hi""\nstill 2"\n3,"open\n';
    const end = lastRecordEnd('csv', b(text));
    expect(b(text).subarray(0, end).toString()).toBe('id,note\n1,"line one\nline two"\n2,"say ""hi""\nstill 2"\n');
    expect(firstRecordEnd('csv', b('"a\nb",c\nrest'))).toBe(8);
    expect(cutSegment(csv, b('1,"unterminated\nstill'), 'age')).toBeUndefined();
  });

  it('size trigger: reads maxBytes as soon as that many wait; a record longer than that is split (forced)', () => {
    expect(decideRead(lines, { available: 40, since: 0, now: 1, final: false })).toEqual({ read: true, bytes: 32, reason: 'size' });
    expect(cutSegment(lines, b('x'.repeat(32)), 'size')).toEqual({ length: 32, reason: 'size', forced: true });
  });

  it('age trigger: waits until the oldest byte is maxAge old, and says how long', () => {
    expect(decideRead(lines, { available: 10, since: 1000, now: 3000, final: false })).toEqual({ read: false, waitMs: 3000 });
    expect(decideRead(lines, { available: 10, since: 1000, now: 6000, final: false })).toEqual({ read: true, bytes: 10, reason: 'age', dueAt: 6000 });
    // looked at late (a busy machine): still due at 6000, which the lead then accounts for
    expect(decideRead(lines, { available: 10, since: 1000, now: 6400, final: false })).toMatchObject({ read: true, dueAt: 6000 });
    expect(decideRead(lines, { available: 0, since: undefined, now: 6000, final: false })).toMatchObject({ read: false });
  });

  it('age trigger with a lead: cuts as early as storing has been taking, so the oldest byte is stored by maxAge; never more than half of it early', () => {
    const lead = { ...lines, leadMs: 300 };
    expect(decideRead(lead, { available: 10, since: 1000, now: 5600, final: false })).toEqual({ read: false, waitMs: 100 });
    expect(decideRead(lead, { available: 10, since: 1000, now: 5700, final: false })).toEqual({ read: true, bytes: 10, reason: 'age', dueAt: 5700 });
    // a store that takes longer than half the age still leaves segments of half the age
    expect(decideRead({ ...lines, leadMs: 9000 }, { available: 10, since: 1000, now: 3400, final: false })).toEqual({ read: false, waitMs: 100 });
  });

  it('final (rotated away and quiet): ships everything, even a last line without a newline', () => {
    expect(decideRead(lines, { available: 5, since: 5999, now: 6000, final: true })).toEqual({ read: true, bytes: 5, reason: 'final' });
    expect(cutSegment(lines, b('tail!'), 'final')).toEqual({ length: 5, reason: 'final', forced: false });
  });

  it('segment keys sort in stream order and parse back', () => {
    const k = (seq: number, start: number, end: number): string => segmentKey({ fileId: 'app.log-0123456789ab', generation: 2, seq, start, end });
    const keys = [k(10, 900, 1000), k(9, 800, 900), k(1, 5, 800)];
    expect([...keys].sort()).toEqual([k(1, 5, 800), k(9, 800, 900), k(10, 900, 1000)]);
    expect(parseSegmentKey(k(9, 800, 900))).toEqual({ fileId: 'app.log-0123456789ab', generation: 2, seq: 9, start: 800, end: 900 });
    expect(parseSegmentKey('app.log/other.txt')).toBeUndefined();
  });
});
