/** Cluster worker processes for tests: `hybridsync cluster worker` as a user runs it, with its NDJSON events. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawnCli } from './cli.js';

/** A worker process and its NDJSON events as they arrive. */
export class WorkerProc {
  readonly child: ChildProcess;
  readonly seen: Array<Record<string, unknown>> = [];
  private waiters: Array<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    redis: string,
    readonly stateDir: string,
    extra: string[] = [],
    env: NodeJS.ProcessEnv = {},
  ) {
    this.child = spawnCli(
      ['cluster', 'worker', '--redis', redis, '--name', name, '--state', join(stateDir, 'state.db'), '--lock-duration', '4s', '--json', ...extra],
      { HYBRIDSYNC_STATE_DIR: stateDir, ...env },
    );
    this.exited = new Promise((r) => this.child.on('close', () => r()));
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      if (!l.startsWith('{')) return;
      const e = JSON.parse(l) as Record<string, unknown>;
      this.seen.push(e);
      this.waiters = this.waiters.filter((w) => (w.match(e) ? (w.resolve(e), false) : true));
    });
    this.child.stderr!.resume();
  }

  /** The first event (past or future) that matches. */
  next(match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const old = this.seen.find(match);
    return old ? Promise.resolve(old) : new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

