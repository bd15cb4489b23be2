/**
 * Scrubbing on worker threads (src/governance/pii/threads.ts) with the built worker
 * (scripts/test.sh builds dist/ first): the bytes and reports are those of a scrub on the
 * calling thread, errors keep their type and hint, a thread that stops fails only its
 * files, and a consumer that stops reading stops the input too.
 */
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/core/backend.js';
import type { Entry } from '../../../src/core/entry.js';
import { NotFoundError } from '../../../src/core/errors.js';
import { ScrubInputError } from '../../../src/governance/pii/errors.js';
import { spoolTransformed } from '../../../src/sync/spool.js';
import { tempDir } from '../../helpers/fs.js';
import { autoThreads, ScrubThreads } from '../../../src/governance/pii/threads.js';
import { until } from '../../helpers/daemon.js';
import { seededRandom } from '../../helpers/rng.js';
import { chunksPulledUnread, scrub, TEST_KEY, through } from './helpers.js';

const WORKER = join(import.meta.dirname, '..', '..', '..', 'dist', 'governance', 'pii', 'scrub-worker.js');
const HASH_ALL = { entities: { email: 'hash', phone: 'hash', card: 'hash', ssn: 'hash', ip: 'hash', iban: 'hash', mac: 'hash' } };

/** PII-dense JSON Lines and CSV (seeded): emails, phones, cards, SSNs, IPs in columns and in free text. */
function denseRecords(seed: number, n: number, format: 'jsonl' | 'csv'): Buffer {
  const r = seededRandom(seed);
  const d = (k: number): string => String(Math.floor(r() * 10 ** k)).padStart(k, '0');
  const lines = format === 'csv' ? ['id,user_email,caller,note'] : [];
  for (let i = 0; i < n; i++) {
    const email = `user${Math.floor(r() * 500)}@example.com`;
    const phone = `(${200 + Math.floor(r() * 700)}) 555-${d(4)}`;
    const note = `card 4111 1111 1111 1111, ssn ${100 + Math.floor(r() * 500)}-${10 + Math.floor(r() * 80)}-${1000 + Math.floor(r() * 8000)}, from 10.0.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}, mail ${email}`;
    lines.push(format === 'csv' ? `${i},${email},${phone},"${note}"` : JSON.stringify({ id: i, user_email: email, caller: phone, note, score: r() }));
  }
  return Buffer.from(lines.join('\n') + '\n');
}

async function scrubOn(pool: ScrubThreads, input: Buffer, fileName: string, chunk = 64 * 1024): Promise<{ output: Buffer; report: Record<string, unknown> }> {
  const s = pool.open(fileName);
  const chunks: Buffer[] = [];
  for (let o = 0; o < input.length; o += chunk) chunks.push(input.subarray(o, o + chunk));
  const output = await through(chunks, s.transform);
  return { output, report: s.report() };
}

let pools: ScrubThreads[] = [];
function newPool(scrubConfig: Record<string, unknown>, threads: number, idleMs?: number): ScrubThreads {
  const p = new ScrubThreads({ scrub: scrubConfig, key: TEST_KEY }, threads, WORKER, idleMs);
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
});

describe('scrubbing on worker threads', () => {
  it('is available once built', () => {
    expect(ScrubThreads.available(WORKER)).toBe(true);
  });

  it('writes byte for byte what a scrub on the calling thread writes, with the same counts, for four files on two threads at once', async () => {
    const files = [
      { name: 'a.jsonl', data: denseRecords(1, 4000, 'jsonl') },
      { name: 'b.csv', data: denseRecords(2, 4000, 'csv') },
      { name: 'c.jsonl', data: denseRecords(3, 3000, 'jsonl') },
      { name: 'd.csv', data: denseRecords(4, 3000, 'csv') },
    ];
    const pool = newPool(HASH_ALL, 2);
    const threaded = await Promise.all(files.map((f) => scrubOn(pool, f.data, f.name)));
    expect(pool.running).toBe(2);
    for (const [i, f] of files.entries()) {
      const here = await scrub(f.data, f.name, { config: HASH_ALL, key: TEST_KEY });
      expect(threaded[i]!.output.equals(here.output), f.name).toBe(true);
      expect(here.text).toContain('tok_email_');
      expect(threaded[i]!.report).toEqual({ ...here.report, onThread: true });
    }
  });

  it('fails a file whose record is over the limit with the ScrubInputError and hint of a scrub on the calling thread; the thread goes on with the next file', async () => {
    const cfg = { ...HASH_ALL, limits: { maxRecordBytes: 4096 } };
    const bad = Buffer.from(`id,note\n1,"${'x'.repeat(20_000)}\n2,ok\n`);
    const local = await scrub(bad, 'bad.csv', { config: cfg, key: TEST_KEY }).catch((e: unknown) => e);
    expect(local).toBeInstanceOf(ScrubInputError);
    const pool = newPool(cfg, 1);
    const err = await scrubOn(pool, bad, 'bad.csv', 1024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScrubInputError);
    expect((err as ScrubInputError).message).toBe((local as ScrubInputError).message);
    expect((err as ScrubInputError).hint).toBe((local as ScrubInputError).hint);
    const good = denseRecords(5, 200, 'csv');
    const after = await scrubOn(pool, good, 'good.csv');
    expect(after.output.equals((await scrub(good, 'good.csv', { config: cfg, key: TEST_KEY })).output)).toBe(true);
    expect(pool.running).toBe(1);
  });

  it('fails the files of a thread that stops with an error naming it, and starts a new thread for the next file', async () => {
    const pool = newPool(HASH_ALL, 1);
    const s = pool.open('slow.jsonl');
    const data = denseRecords(6, 2000, 'jsonl');
    let fed = 0;
    const source = new Readable({
      read() {
        // half the file, then nothing more: the stream stays open in the thread
        if (fed < data.length / 2) this.push(data.subarray(fed, (fed += 16 * 1024)));
      },
    });
    const done = pipeline(source, s.transform, new Writable({ write: (_c, _e, cb) => cb() })).catch((e: unknown) => e);
    await until('half the file in its thread', async () => (fed >= data.length / 2 && pool.running === 1 ? true : undefined));
    await pool.close();
    const err = await done;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/PII scrubbing thread stopped/);
    const again = await scrubOn(pool, data, 'again.jsonl');
    expect(again.output.equals((await scrub(data, 'again.jsonl', { config: HASH_ALL, key: TEST_KEY })).output)).toBe(true);
  });

  it('takes no thread for a stream that is made and never used, nor when the source of a spooled file cannot be read', async () => {
    const pool = newPool(HASH_ALL, 2);
    pool.open('unused.jsonl').transform.destroy();
    const missing = new NotFoundError('source file vanished.jsonl not found');
    const src = { read: () => Promise.reject(missing) } as unknown as Backend;
    const entry = { key: 'vanished.jsonl', size: 100 << 20, mtimeMs: 0 } as Entry;
    const err = await spoolTransformed(src, entry, [
      {
        name: 'pii-scrub',
        create: () => {
          const t = pool.open('vanished.jsonl');
          return { stream: t.transform, report: t.report };
        },
      },
    ], { dir: tempDir('spool') }).catch((e: unknown) => e);
    expect(err).toBe(missing);
    expect(pool.running).toBe(0);
  });

  it('scans for a report only (discard): nothing comes back but the counts a scrub of the same bytes reports', async () => {
    const pool = newPool(HASH_ALL, 1);
    const data = denseRecords(8, 1500, 'jsonl');
    const scanned = pool.open('sample.jsonl', { discard: true });
    const output = await through([data], scanned.transform);
    expect(output.length).toBe(0);
    const here = await scrub(data, 'sample.jsonl', { config: HASH_ALL, key: TEST_KEY });
    expect(scanned.report()).toEqual({ ...here.report, onThread: true });
    expect(here.report.counts.email).toBeGreaterThan(1000);
  });

  it('stops taking input when its reader stops reading: memory stays bounded, not the size of the file', async () => {
    const pool = newPool(HASH_ALL, 1);
    const s = pool.open('big.jsonl');
    const block = denseRecords(7, 400, 'jsonl'); // ~60 KB of records: ~120 MB if all 2000 were taken
    const pulled = await chunksPulledUnread(s.transform, (n) => (n <= 2000 ? block : null));
    // the source's buffer, the transform's input and output buffers and the chunks in the thread
    expect(pulled).toBeLessThan(40);
  });
});

describe('threads: auto', () => {
  it('ends a thread left without files after its idle time, keeps it while files come, and starts a new one after', async () => {
    const pool = newPool(HASH_ALL, 2, 2000);
    const input = denseRecords(7, 400, 'jsonl');
    const expected = await scrub(input, 'a.jsonl', { config: HASH_ALL, key: TEST_KEY });
    expect((await scrubOn(pool, input, 'a.jsonl')).output.equals(expected.output)).toBe(true);
    expect(pool.running).toBe(1);
    // The next file within the idle time goes to the same thread.
    expect((await scrubOn(pool, input, 'b.jsonl')).output.equals(expected.output)).toBe(true);
    expect([pool.running, pool.started]).toEqual([1, 1]);
    // Within 2.5x the idle time (polled every 100 ms), well before the default 10 s would end it.
    await until('the idle thread to end', async () => (pool.running === 0 ? true : undefined), 50);
    // After it: a new thread, the same bytes.
    expect((await scrubOn(pool, input, 'c.jsonl')).output.equals(expected.output)).toBe(true);
    expect([pool.running, pool.started]).toEqual([1, 2]);
  });

  it('is a thread per core, at most 4, and none on a single core', () => {
    expect([1, 2, 3, 4, 16].map((c) => autoThreads(c))).toEqual([0, 2, 3, 4, 4]);
  });
});
