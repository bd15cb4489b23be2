/** Starting the daemon as a user does, and waiting for an outcome without fixed sleeps. */
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from './cli.js';

export interface StartedDaemon {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Spawns `hybridsync daemon ARGS` and resolves once it printed its URL; `children` collects it for cleanup. */
export function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}, children?: ChildProcess[]): Promise<StartedDaemon> {
  const child = spawnCli(['daemon', ...args], env);
  children?.push(child);
  let err = '';
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /dashboard on (http:\/\/[^/\s]+)\//.exec(err);
      if (m) resolve({ child, url: m[1]!, stderr: () => err, exit });
    });
    void exit.then((code) => reject(new Error(`daemon exited with ${code}: ${err}`)));
  });
}

/** Polls `fn` every 100 ms until it returns a value; throws naming `what` after `tries` polls. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, tries = 1200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}
