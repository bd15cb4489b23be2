/** Runs the built CLI as a user would (scripts/test.sh builds dist/ first). */
import { spawn, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'hybridsync.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function cliAvailable(): boolean {
  return existsSync(join(ROOT, 'dist', 'cli', 'main.js'));
}

export function runCli(args: string[], opts: SpawnOptions & { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      ...opts,
      env: { ...process.env, NO_COLOR: '1', ...(cliAvailable() ? {} : { HYBRIDSYNC_FROM_SOURCE: '1' }), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin!.end(opts.input ?? '');
  });
}

/** Spawns the CLI and returns the child, for tests that kill it mid-run. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...(cliAvailable() ? {} : { HYBRIDSYNC_FROM_SOURCE: '1' }), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function events(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
