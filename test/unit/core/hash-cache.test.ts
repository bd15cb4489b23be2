/**
 * The MD5 cache of local files serves --checksum only on evidence the content cannot have
 * changed: size, mtime, inode and ctime. Real files, since the evidence is the filesystem's.
 */
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalBackend } from '../../../src/backends/local/index.js';
import type { Compare } from '../../../src/sync/plan.js';
import { runSync } from '../../../src/sync/execute.js';
import { StateDb } from '../../../src/sync/state.js';
import { tempDir, treeHashes, writeFile } from '../../helpers/fs.js';

const OLD = new Date('2024-01-02T03:04:05Z');

function tree() {
  const a = tempDir('hc-a');
  const b = tempDir('hc-b');
  writeFile(a, 'data/shard.bin', 'abcdefgh'.repeat(4096), OLD);
  writeFile(a, 'notes.txt', 'unchanged', OLD);
  const state = new StateDb(':memory:');
  let srcReads = 0;
  const sync = (compare: Compare) => {
    const src = new LocalBackend(a, a);
    const read = src.read.bind(src);
    src.read = (key, o) => {
      srcReads++;
      return read(key, o);
    };
    return runSync({ mode: 'sync', src, dst: new LocalBackend(b, b), state, compare });
  };
  return { a, b, sync, srcReads: () => srcReads };
}

/** A same-size edit of two bytes, with the old mtime put back (`touch -r`). */
function editKeepingMtime(path: string): void {
  const data = readFileSync(path);
  data[100] = 0x58;
  data[101] = 0x59;
  writeFileSync(path, data);
  utimesSync(path, OLD, OLD);
  expect(statSync(path)).toMatchObject({ size: data.length, mtimeMs: OLD.getTime() });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the local MD5 cache', () => {
  it('serves an unchanged file, and not one edited with its mtime put back: sync --checksum sends it', async () => {
    const t = tree();
    // every ctime is past the racy window, so hashes are cached and served
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60_000);
    expect(await t.sync('size-mtime')).toMatchObject({ transferred: 2, status: 'ok' });
    const reads = t.srcReads();
    expect(await t.sync('checksum')).toMatchObject({ transferred: 0, skipped: 2, status: 'ok' });
    expect(t.srcReads()).toBe(reads); // both source hashes came from the cache
    editKeepingMtime(join(t.a, 'data/shard.bin'));
    expect(await t.sync('checksum')).toMatchObject({ transferred: 1, skipped: 1, status: 'ok' });
    expect(treeHashes(t.b)).toEqual(treeHashes(t.a));
  });

  it('does not vouch for a file whose ctime is too recent to tell a next write apart', async () => {
    const t = tree();
    expect(await t.sync('size-mtime')).toMatchObject({ transferred: 2, status: 'ok' });
    editKeepingMtime(join(t.a, 'data/shard.bin')); // at once: on a coarse clock the ctime may not move
    expect(await t.sync('checksum')).toMatchObject({ transferred: 1, status: 'ok' });
    expect(treeHashes(t.b)).toEqual(treeHashes(t.a));
  });
});
