/** Local tree helpers for tests. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

export function tempDir(label = 'hs'): string {
  return mkdtempSync(join(tmpdir(), `${label}-`));
}

export function writeFile(root: string, rel: string, content: Buffer | string, mtime?: Date): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  if (mtime) utimesSync(p, mtime, mtime);
  return p;
}

export function randomFile(root: string, rel: string, size: number): string {
  return writeFile(root, rel, randomBytes(size));
}

export function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** relative path -> md5 of every file under root (skipping nothing: temp files would show). */
export function treeHashes(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(root, p).split('\\').join('/'), md5(readFileSync(p)));
    }
  };
  walk(root);
  return out;
}

/** The records of a JSON Lines file (an audit log, NDJSON output). */
export function readJsonl(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
