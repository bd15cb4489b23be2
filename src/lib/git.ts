/** The git commit a directory is checked out at, for recording where an artifact came from. */
import { execFileSync } from 'node:child_process';

export interface GitCommit {
  readonly commit: string;
  /** Tracked files have uncommitted changes. */
  readonly dirty: boolean;
}

function git(dir: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return undefined; // not a checkout, or no git
  }
}

/** HEAD of the checkout `dir` is in, or undefined when it is in none (or git is missing). */
export function gitCommitOf(dir: string): GitCommit | undefined {
  const commit = git(dir, ['rev-parse', '--verify', 'HEAD']);
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  return { commit, dirty: (git(dir, ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '' };
}
