/**
 * Where a segment ends: pure decisions over bytes and clocks, no I/O. A segment starts at a
 * record boundary and ends at one — after a newline for line formats (text, JSON Lines), after
 * a newline outside double quotes for CSV/TSV (RFC 4180: a quoted field may hold newlines) —
 * and is cut when `maxBytes` are waiting (size), when the oldest waiting byte would be more
 * than `maxAgeMs` old by the time its segment is stored (age: cut `leadMs` — what storing a
 * segment has been taking — before the oldest byte turns `maxAgeMs`), or when the file will
 * not grow any more (final: a rotated file drained to EOF).
 * Only a record longer than `maxBytes` is split inside (`forced`), and only a final cut may
 * end without a record terminator (the last line of a rotated file that never got one).
 */

export type RecordFormat = 'lines' | 'csv';

export interface CutPolicy {
  readonly format: RecordFormat;
  /** Largest segment in bytes. */
  readonly maxBytes: number;
  /** Longest a byte may wait until its segment is stored, in ms (records permitting). */
  readonly maxAgeMs: number;
  /**
   * How long an age cut has been taking to be stored, from when it was due (recent segments;
   * 0 when unknown): an age cut happens this much before the oldest byte is `maxAgeMs` old.
   * At most half of maxAgeMs counts, so a slow store shortens segments but never makes them tiny.
   */
  readonly leadMs?: number;
}

/** What the follower knows about one file's unshipped bytes. */
export interface PendingBytes {
  /** Bytes after the committed offset. */
  readonly available: number;
  /** When the first of them arrived (first seen), in ms; undefined when there are none. */
  readonly since: number | undefined;
  readonly now: number;
  /** The file will not grow (rotated away and quiet): ship everything, even a partial record. */
  readonly final: boolean;
}

export type ReadDecision =
  | { readonly read: false; /** When to look again (ms from now), if nothing else happens first. */ readonly waitMs: number }
  | {
      readonly read: true;
      /** Bytes to read from the committed offset. */
      readonly bytes: number;
      readonly reason: CutReason;
      /** An age cut: when it was due (it may come late on a busy machine: a lead should cover that too). */
      readonly dueAt?: number;
    };

export type CutReason = 'size' | 'age' | 'final';

/** Whether enough is waiting to read a segment's worth, and how much to read. */
export function decideRead(p: CutPolicy, s: PendingBytes): ReadDecision {
  if (s.available <= 0) return { read: false, waitMs: p.maxAgeMs };
  if (s.available >= p.maxBytes) return { read: true, bytes: p.maxBytes, reason: 'size' };
  if (s.final) return { read: true, bytes: s.available, reason: 'final' };
  const age = s.now - (s.since ?? s.now);
  const cutAt = p.maxAgeMs - Math.min(Math.max(0, p.leadMs ?? 0), p.maxAgeMs / 2);
  if (age >= cutAt) return { read: true, bytes: s.available, reason: 'age', dueAt: s.now - age + cutAt };
  return { read: false, waitMs: cutAt - age };
}

export interface Cut {
  /** Bytes of the segment, from the committed offset. */
  readonly length: number;
  readonly reason: CutReason;
  /** Split inside a record longer than maxBytes. */
  readonly forced: boolean;
}

/**
 * The segment in `buf` (the bytes read per decideRead, from a record boundary): up to the
 * last record boundary; undefined when no record is complete yet and waiting may finish one.
 */
export function cutSegment(p: CutPolicy, buf: Buffer, reason: CutReason): Cut | undefined {
  if (buf.length === 0) return undefined;
  const end = lastRecordEnd(p.format, buf);
  if (end > 0) return { length: end, reason, forced: false };
  if (reason === 'final') return { length: buf.length, reason, forced: false };
  if (reason === 'size' && buf.length >= p.maxBytes) return { length: buf.length, reason, forced: true };
  return undefined;
}

/** Offset just after the last complete record in `buf` (which starts at a boundary); 0 if none. */
export function lastRecordEnd(format: RecordFormat, buf: Buffer): number {
  if (format === 'lines') return buf.lastIndexOf(0x0a) + 1;
  return lastCsvRecordEnd(buf);
}

/**
 * CSV: a newline ends a record only outside quotes. Quote state flips at every `"` (an escaped
 * `""` flips twice), so it is the parity of quotes seen since the segment's start.
 */
function lastCsvRecordEnd(buf: Buffer): number {
  let quoted = false;
  let last = 0;
  let i = 0;
  while (i < buf.length) {
    const q = buf.indexOf(0x22, i);
    const nl = buf.indexOf(0x0a, i);
    if (nl < 0) break;
    if (q >= 0 && q < nl) {
      quoted = !quoted;
      i = q + 1;
      continue;
    }
    if (!quoted) last = nl + 1;
    i = nl + 1;
  }
  return last;
}

/** The record format of a file by its name: CSV/TSV quote-aware, everything else by lines. */
export function formatOfName(name: string): RecordFormat {
  return /\.(csv|tsv)$/i.test(name) ? 'csv' : 'lines';
}

/** The first record of `buf` (the CSV header), as a length; 0 when not yet complete. */
export function firstRecordEnd(format: RecordFormat, buf: Buffer): number {
  if (format === 'lines') return buf.indexOf(0x0a) + 1;
  let quoted = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x0a && !quoted) return i + 1;
  }
  return 0;
}
