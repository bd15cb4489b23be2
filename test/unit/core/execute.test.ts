/** The executor's rules, on in-memory backends (the real-storage proof is in test/int). */
import { Readable } from 'node:stream';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import { LocalBackend } from '../../../src/backends/local/index.js';
import { runSync } from '../../../src/sync/execute.js';
import { StateDb } from '../../../src/sync/state.js';
import type { SyncEvent } from '../../../src/sync/events.js';
import { PermissionError } from '../../../src/core/errors.js';
import { tempDir, writeFile } from '../../helpers/fs.js';
import { memoryRun } from '../../helpers/run.js';

const setup = memoryRun;

describe('executor', () => {
  it('sync copies, skips and deletes; a second run is a no-op', async () => {
    const t = setup();
    t.src.put('a', 'A');
    t.src.put('b', 'B');
    t.dst.put('b', 'B');
    t.dst.put('z', 'extraneous');
    const s = await runSync({ mode: 'sync', ...t });
    expect(s).toMatchObject({ transferred: 1, skipped: 1, deleted: 1, failed: 0, status: 'ok' });
    expect([...t.dst.objects.keys()].sort()).toEqual(['a', 'b']);
    const again = await runSync({ mode: 'sync', ...t });
    expect(again).toMatchObject({ transferred: 0, skipped: 2, deleted: 0 });
  });

  it('deletions wait until every transfer succeeded: one failure holds back all deletes', async () => {
    const t = setup();
    t.src.put('good', 'x');
    t.src.put('bad', 'y');
    t.dst.put('old', 'delete me later');
    const realRead = t.src.read.bind(t.src);
    t.src.read = async (key, opts) => {
      if (key === 'bad') throw new PermissionError('denied: bad');
      return realRead(key, opts);
    };
    const s = await runSync({ mode: 'sync', ...t });
    expect(s).toMatchObject({ transferred: 1, failed: 1, deleted: 0, deletesHeldBack: 1, status: 'failed' });
    expect(t.dst.objects.has('old')).toBe(true);
    expect(t.events.some((e) => e.type === 'notice' && /not deleting 1/.test(e.message))).toBe(true);
  });

  it('retries transient errors and counts bytes once', async () => {
    const t = setup();
    t.src.put('f', 'hello');
    let calls = 0;
    const realWrite = t.dst.write.bind(t.dst);
    t.dst.write = async (key, body, meta, opts) => {
      if (++calls === 1) {
        for await (const _ of body) void _;
        const { TransientError } = await import('../../../src/core/errors.js');
        throw new TransientError('connection reset');
      }
      return realWrite(key, body, meta, opts);
    };
    const s = await runSync({ mode: 'copy', ...t });
    expect(s).toMatchObject({ transferred: 1, failed: 0, retries: 1, bytes: 5 });
  });

  it('dry run plans exactly and changes nothing', async () => {
    const t = setup();
    t.src.put('new', 'n');
    t.dst.put('gone', 'g');
    const s = await runSync({ mode: 'sync', dryRun: true, ...t, maxDelete: { percent: 100 } });
    const planned = t.events.filter((e) => e.type === 'plan').map((e) => (e.type === 'plan' ? `${e.action} ${e.key}` : ''));
    expect(planned.sort()).toEqual(['delete gone', 'transfer new']);
    expect(s.dryRun).toBe(true);
    expect([...t.dst.objects.keys()]).toEqual(['gone']);
  });

  it('check mode reports differences and never writes', async () => {
    const t = setup();
    t.src.put('same', 's');
    t.dst.put('same', 's');
    t.src.put('changed', 'v1', 1);
    t.dst.put('changed', 'v2', 1);
    t.src.put('onlysrc', 'x');
    t.dst.put('onlydst', 'y');
    const s = await runSync({ mode: 'check', ...t });
    expect(s.differences).toBe(3);
    const d = t.events.filter((e) => e.type === 'differ').map((e) => e.type === 'differ' && `${e.reason}:${e.key}`);
    expect(d.sort()).toEqual(['content:changed', 'missing-on-dst:onlysrc', 'missing-on-src:onlydst']);
    expect(t.dst.objects.has('onlysrc')).toBe(false);
  });

  it('a gate can deny a file: not transferred, counted, reported', async () => {
    const t = setup();
    t.src.put('public.txt', 'p');
    t.src.put('restricted/x', 'r');
    const s = await runSync({
      mode: 'sync',
      ...t,
      gate: {
        admit: async (e) => (e.key.startsWith('restricted/') ? { allow: false, classification: 'restricted', reason: 'not allowed in cloud' } : { allow: true }),
      },
    });
    expect(s.denied).toBe(1);
    expect([...t.dst.objects.keys()]).toEqual(['public.txt']);
  });
});

describe('a local source that changes while it is read', () => {
  it('is detected (never stored torn) and succeeds on retry once stable', async () => {
    const dir = tempDir('chg');
    const p = writeFile(dir, 'grow.log', 'x'.repeat(4 << 20));
    const src = new LocalBackend(dir, dir);
    const listed = await src.stat('grow.log');
    const stream = await src.read('grow.log', { ifMatch: listed! });
    let first = true;
    const consumed = (async () => {
      for await (const _ of stream as AsyncIterable<Buffer>) {
        if (first) {
          first = false;
          writeFileSync(p, 'y'.repeat(4 << 20)); // same size, new mtime, mid-read
        }
      }
    })();
    await expect(consumed).rejects.toMatchObject({ kind: 'source-changed' });

    // and through the executor: the write is rejected, nothing torn is left at the destination
    const dst = new MemoryBackend();
    const writeSlow = dst.write.bind(dst);
    let n = 0;
    dst.write = async (key, body: Readable, meta, opts) => {
      if (n++ === 0) writeFileSync(join(dir, 'grow.log'), 'z'.repeat(4 << 20));
      return writeSlow(key, body, meta, opts);
    };
    const events: SyncEvent[] = [];
    // streamed (at or above the chunk threshold, not read whole): the change lands mid-stream
    const chunking = { threshold: 1 << 20, chunkSize: 1 << 20, concurrency: 1 };
    const s = await runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:'), onEvent: (e) => void events.push(e), retries: 1, chunking });
    expect(s.failed).toBe(1);
    expect(events.find((e) => e.type === 'error')).toMatchObject({ kind: 'source-changed' });
    expect(dst.objects.size).toBe(0);
    const ok = await runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:') });
    expect(ok.transferred).toBe(1);
    expect(dst.objects.get('grow.log')!.data.toString('utf8', 0, 1)).toBe('z');
  });

  it('read whole (one request): a file changed between listing and reading is refused, nothing stored; the rerun sends the new version', async () => {
    const dir = tempDir('chg-whole');
    writeFileSync(join(dir, 'metrics.json'), '{"acc": 0.50}');
    const src = new LocalBackend(dir, dir);
    const dst = new MemoryBackend();
    const list = src.list.bind(src);
    src.list = async function* (opts) {
      for await (const e of list(opts)) {
        yield e;
        writeFileSync(join(dir, 'metrics.json'), '{"acc": 0.57}'); // same size, after it was listed
        utimesSync(join(dir, 'metrics.json'), new Date(), new Date(Date.now() + 5_000));
      }
    };
    const events: SyncEvent[] = [];
    const s = await runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:'), onEvent: (e) => void events.push(e), retries: 1 });
    expect(s.failed).toBe(1);
    expect(events.find((e) => e.type === 'error')).toMatchObject({ kind: 'source-changed', key: 'metrics.json' });
    expect(dst.objects.size).toBe(0);
    src.list = list;
    const ok = await runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:') });
    expect(ok.transferred).toBe(1);
    expect(dst.objects.get('metrics.json')!.data.toString()).toBe('{"acc": 0.57}');
  });
});

describe('transformed (scrubbed) files', () => {
  it('are not sent again when their source is unchanged, and are when it changes', async () => {
    const { Transform } = await import('node:stream');
    const t = setup();
    t.src.put('users.csv', 'ann@example.com\n', 1_000);
    const upper = {
      name: 'upper',
      create: () => ({
        stream: new Transform({ transform: (c: Buffer, _e, cb) => cb(null, Buffer.from(c.toString().replace(/\S+@\S+/g, '<EMAIL>'))) }),
        report: () => ({ replaced: 1 }),
      }),
    };
    const gate = { admit: async () => ({ allow: true as const, transforms: [upper] }) };
    const first = await runSync({ mode: 'sync', ...t, gate });
    expect(first.transferred).toBe(1);
    expect(t.dst.objects.get('users.csv')!.data.toString()).toBe('<EMAIL>\n'); // smaller than the source
    const second = await runSync({ mode: 'sync', ...t, gate });
    expect(second).toMatchObject({ transferred: 0, skipped: 1 });
    t.src.put('users.csv', 'bob@example.org\n', 2_000); // same size, new version
    const third = await runSync({ mode: 'sync', ...t, gate });
    expect(third.transferred).toBe(1);
    // someone replaced the destination file: it is no longer what we derived, so it is redone
    t.dst.put('users.csv', 'tampered', 3_000);
    const fourth = await runSync({ mode: 'sync', ...t, gate });
    expect(fourth.transferred).toBe(1);
    expect(t.dst.objects.get('users.csv')!.data.toString()).toBe('<EMAIL>\n');
  });
});
