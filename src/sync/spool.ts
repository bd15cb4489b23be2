/**
 * Spooling for transformed transfers: source bytes -> transforms -> a private temp file,
 * hashing before and after. The upload then has a known size and MD5 (so Content-MD5 and
 * verification work as for any file) and a failed upload can be retried without
 * re-running the transforms.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Transform } from 'node:stream';
import type { Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';
import { AccountingStream } from '../lib/accounting.js';
import type { ByteTransform } from './gate.js';

export interface Spooled {
  readonly size: number;
  readonly md5Before: string;
  readonly md5After: string;
  readonly reports: Array<{ name: string; report: Record<string, unknown> }>;
  open(): Readable;
  dispose(): Promise<void>;
}

export async function spoolTransformed(
  src: Backend,
  entry: Entry,
  transforms: readonly ByteTransform[],
  o: { signal?: AbortSignal; dir?: string },
): Promise<Spooled> {
  const dir = await mkdtemp(join(o.dir ?? tmpdir(), 'hybridsync-spool-'));
  const file = join(dir, 'data');
  try {
    const before = new AccountingStream({ md5: true });
    const after = new AccountingStream({ md5: true });
    const body = await src.read(entry.key, { signal: o.signal, ifMatch: entry });
    // made once the source is open: a transform may hold a resource (a scrubbing thread)
    let stages: Array<{ name: string; stream: Transform; report(): Record<string, unknown> }>;
    try {
      stages = transforms.map((t) => ({ name: t.name, ...t.create({ size: entry.size }) }));
    } catch (err) {
      body.destroy();
      throw err;
    }
    const chain: Array<Readable | Transform | NodeJS.WritableStream> = [body, before, ...stages.map((s) => s.stream), after, createWriteStream(file, { mode: 0o600 })];
    await pipeline(chain as unknown as [Readable, NodeJS.WritableStream], { signal: o.signal });
    return {
      size: after.byteCount,
      md5Before: before.md5(),
      md5After: after.md5(),
      reports: stages.map((s) => ({ name: s.name, report: s.report() })),
      open: () => createReadStream(file, { highWaterMark: 1 << 20 }),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
