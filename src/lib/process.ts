import { linkSync, rmSync, writeFileSync } from 'node:fs';
/** Whether a process with this pid exists (it may belong to another user: EPERM). */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates `path` holding `content`, or returns false when it exists. The file never
 * exists without its content (written to a private name, then hard-linked into place,
 * which fails atomically when the name is taken), so a process killed at any moment
 * leaves no empty lock behind.
 */
export function createFileAtomically(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}
