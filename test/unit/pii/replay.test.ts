/**
 * A whole-file scan's output replayed for the file's transform (src/governance/pii/replay.ts):
 * only for the very bytes that were scanned; anything else goes through a fresh scrubber.
 */
import { describe, expect, it } from 'vitest';
import { loadScrubConfig, createScrubber } from '../../../src/governance/pii/index.js';
import { ReplayTransform, ScanCache, type Scanned } from '../../../src/governance/pii/replay.js';
import { chunksPulledUnread, scrub, TEST_KEY, through } from './helpers.js';

const CONFIG = { entities: { email: 'hash', phone: 'hash' } };
const FILE = Buffer.from(Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: i, email: `u${i % 40}@example.com`, note: `call (415) 555-${1000 + i}` })).join('\n') + '\n');

async function scanned(input: Buffer): Promise<Scanned> {
  const r = await scrub(input, 'f.jsonl', { config: CONFIG, key: TEST_KEY });
  return { input, output: r.output, report: r.report as unknown as Record<string, unknown> };
}

function freshCounter(): { made: number; fresh: () => { transform: import('node:stream').Transform; report(): Record<string, unknown> } } {
  const c = {
    made: 0,
    fresh: () => {
      c.made++;
      const s = createScrubber(loadScrubConfig(CONFIG), { fileName: 'f.jsonl', key: TEST_KEY });
      return { transform: s.transform, report: () => s.report() as unknown as Record<string, unknown> };
    },
  };
  return c;
}

const chunksOf = (b: Buffer, n: number): Buffer[] => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n));

describe('replaying a whole-file scan', () => {
  it('gives the scanned output and report for the very bytes scanned, in any chunking, without scrubbing again', async () => {
    const s = await scanned(FILE);
    expect(s.output.toString()).toContain('tok_email_');
    for (const size of [1, 7, 4096, FILE.length]) {
      const c = freshCounter();
      const t = new ReplayTransform(s, c.fresh);
      expect((await through(chunksOf(FILE, size), t)).equals(s.output)).toBe(true);
      expect(t.report()).toEqual(s.report);
      expect(c.made).toBe(0);
    }
  });

  it('scrubs afresh what differs from the scan: a changed byte, a longer or a shorter file; the output is the scrub of what was read', async () => {
    const s = await scanned(FILE);
    const changed = Buffer.from(FILE);
    changed[changed.indexOf('u1@') + 1] = '9'.charCodeAt(0);
    const longer = Buffer.concat([FILE, Buffer.from('{"email":"late@example.com"}\n')]);
    const shorter = FILE.subarray(0, FILE.lastIndexOf('\n', FILE.length - 2) + 1);
    for (const input of [changed, longer, shorter]) {
      const c = freshCounter();
      const t = new ReplayTransform(s, c.fresh);
      const out = await through(chunksOf(input, 1000), t);
      const want = await scrub(input, 'f.jsonl', { config: CONFIG, key: TEST_KEY });
      expect(out.equals(want.output)).toBe(true);
      expect(out.equals(s.output)).toBe(false);
      expect(t.report()).toEqual(want.report);
      expect(c.made).toBe(1);
    }
  });
});

describe('a replay that turned into a fresh scrub', () => {
  it('stops taking input when its reader stops reading: memory stays bounded, not the size of the file', async () => {
    const s = await scanned(FILE);
    const t = new ReplayTransform(s, freshCounter().fresh);
    // The scanned file, then far more (a file that grew since its scan): ~120 MB if it were all taken.
    const block = FILE.subarray(0, 60_000);
    const pulled = await chunksPulledUnread(t, (n) => (n === 1 ? FILE : n <= 2000 ? block : null));
    // The source's buffer, the replay's input and output buffers and the fresh scrubber's.
    expect(pulled).toBeLessThan(40);
  });
});

describe('the scan cache', () => {
  it('hands a scan out once, and drops the oldest past its byte bound', () => {
    const b = (n: number): Scanned => ({ input: Buffer.alloc(n), output: Buffer.alloc(n), report: {} });
    const cache = new ScanCache(1000);
    cache.put('a', b(200));
    cache.put('b', b(200));
    expect(cache.take('a')?.input.length).toBe(200);
    expect(cache.take('a')).toBeUndefined();
    cache.put('c', b(200));
    cache.put('d', b(200)); // b, c, d: 1200 bytes > 1000: b goes
    expect(cache.take('b')).toBeUndefined();
    expect(cache.size).toBe(2);
    cache.put('huge', b(600)); // larger than the bound by itself: not kept
    expect(cache.take('huge')).toBeUndefined();
    expect(cache.size).toBe(2);
  });
});
