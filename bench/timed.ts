/**
 * bench/timed.ts — runs a command under /usr/bin/time: its wall time, the user + sys CPU of it
 * and its children (from wait4, so a tool's worker processes count) and its peak RSS. The
 * one way every bench measures a peer and hybridsync alike.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Timed {
  readonly wall: number;
  readonly cpu: number;
  readonly rssMiB: number;
  /** The command's exit code (null: killed by a signal). */
  readonly code: number | null;
  /** The end of its stderr, for the message of a failed run. */
  readonly stderr: string;
}

const dir = mkdtempSync(join(tmpdir(), 'hybridsync-bench-time-'));
let runs = 0;

/** Runs `cmd` with exactly `env` (pass `{ ...process.env, … }` to extend the caller's). */
export function timed(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Timed> {
  const out = join(dir, `time-${++runs}`);
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, cmd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => {
      // /usr/bin/time writes "Command exited with non-zero status N" first, then the figures
      const [wall, user, sys, rss] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number, number];
      rmSync(out, { force: true });
      resolve({ wall, cpu: user + sys, rssMiB: Math.round(rss / 1024), code, stderr: err });
    });
  });
}

/** timed(), failing unless the command exits 0. */
export async function timedOk(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Timed> {
  const r = await timed(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r;
}
