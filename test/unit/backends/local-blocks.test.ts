import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local/index.js';
import { BufferPool } from '../../../src/lib/buffer-pool.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

function fixture(size: number): { local: LocalBackend; data: Buffer; entry: { key: string; size: number; mtimeMs: number } } {
  const dir = mkdtempSync(join(tmpdir(), 'blocks-'));
  const data = randomBytes(size);
  writeFileSync(join(dir, 'f.bin'), data);
  const st = statSync(join(dir, 'f.bin'));
  return { local: new LocalBackend(dir, dir), data, entry: { key: 'f.bin', size, mtimeMs: st.mtimeMs } };
}

describe('LocalBackend.readBlocks', () => {
  it('reads the file in blocks of exactly the size into the given buffers, the last one shorter, bytes unchanged', async () => {
    const { local, data, entry } = fixture(10_000);
    const pool = new BufferPool(1 << 20);
    const blocks: Buffer[] = [];
    for await (const b of local.readBlocks('f.bin', 4096, (n) => pool.take(n), { ifMatch: { ...entry, mtimeExact: true } })) blocks.push(Buffer.from(b));
    expect(blocks.map((b) => b.length)).toEqual([4096, 4096, 1808]);
    expect(Buffer.concat(blocks).equals(data)).toBe(true);
  });

  it('fails with a source-changed error, naming the file, when it grew or shrank since it was listed', async () => {
    for (const change of ['grow', 'shrink'] as const) {
      const { local, entry } = fixture(10_000);
      const path = join(local.root, 'f.bin');
      if (change === 'grow') appendFileSync(path, 'more');
      else writeFileSync(path, randomBytes(5000));
      const read = async (): Promise<void> => {
        for await (const _ of local.readBlocks('f.bin', 4096, (n) => Buffer.allocUnsafe(n), { ifMatch: { ...entry, mtimeExact: true } })) void _;
      };
      await expect(read(), change).rejects.toMatchObject({ name: 'SourceChangedError', message: expect.stringContaining('f.bin changed while it was being read') });
    }
  });

  it('closes the file when the reader stops early', async () => {
    const { local } = fixture(100_000);
    const before = openFds();
    const it = local.readBlocks('f.bin', 4096, (n) => Buffer.allocUnsafe(n));
    await it.next();
    expect(openFds()).toBe(before + 1);
    await it.return(undefined);
    expect(openFds()).toBe(before);
  });
});
