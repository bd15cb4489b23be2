/**
 * A reader that goes away (`hybridsync ls -l … | head -1`, `sync --json … | head`) ends the
 * output, never the command: no EPIPE stack trace, the usual exit code, and a sync runs to
 * its end.
 */
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { tempDir, treeHashes, writeFile } from '../helpers/fs.js';

interface Outcome {
  code: number | null;
  firstLine: string;
  /** What the other stream got (stderr when stdout was closed). */
  other: string;
}

/** Runs the CLI with one output stream read up to its first line and then closed, as `| head -1` does. */
function runClosingAfterFirstLine(args: string[], env: NodeJS.ProcessEnv, closing: 'stdout' | 'stderr' = 'stdout'): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    const closed: Readable = child[closing];
    const kept: Readable = closing === 'stdout' ? child.stderr : child.stdout;
    let head = '';
    let other = '';
    closed.on('data', (d: Buffer) => {
      head += d.toString();
      if (head.includes('\n')) closed.destroy();
    });
    kept.on('data', (d: Buffer) => (other += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, firstLine: head.split('\n')[0]!, other }));
  });
}

function manyFiles(n: number): string {
  const src = tempDir('many');
  for (let i = 0; i < n; i++) writeFile(src, `d${i % 7}/file-${String(i).padStart(4, '0')}.txt`, `content of file ${i}\n`.repeat(20));
  return src;
}

describe('a closed output stream', () => {
  const src = manyFiles(400);

  it('ls -l | head -1: one line, exit 0, no EPIPE', async () => {
    const r = await runClosingAfterFirstLine(['ls', '-l', src], {});
    expect(r.firstLine).toMatch(/^\s+\d+ {2}\S+Z {2}- +d0\/file-0000\.txt$/);
    expect(r.other).not.toMatch(/EPIPE|Unhandled 'error' event/);
    expect(r.code, r.other).toBe(0);
  });

  it('sync --json -v | head -1: the sync runs to its end, every file arrives, exit 0, no EPIPE', async () => {
    const dst = tempDir('many-dst');
    const r = await runClosingAfterFirstLine(['sync', src, dst, '--json', '-v', '--transfers', '2'], { HYBRIDSYNC_STATE_DIR: tempDir('state') });
    expect(JSON.parse(r.firstLine)).toMatchObject({ type: 'run-start', mode: 'sync' });
    expect(r.other).not.toMatch(/EPIPE|Unhandled 'error' event/);
    expect(r.code, r.other).toBe(0);
    expect(treeHashes(dst)).toEqual(treeHashes(src));
  });

  it('sync -v 2>&1 | head -1 (stderr closed): the sync runs to its end, exit 0', async () => {
    const dst = tempDir('many-dst');
    const r = await runClosingAfterFirstLine(['sync', src, dst, '-v', '--transfers', '2'], { HYBRIDSYNC_STATE_DIR: tempDir('state') }, 'stderr');
    expect(r.firstLine).toMatch(/^copied d0\/file-\d{4}\.txt/); // whichever of the 2 in flight finished first
    expect(r.code).toBe(0);
    expect(treeHashes(dst)).toEqual(treeHashes(src));
  });
});
