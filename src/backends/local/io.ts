/**
 * The few filesystem calls a small file costs on the hot path — stat it while listing, read
 * it whole, write it whole — made in one of two ways:
 *
 * - inline: synchronous calls on the event loop. On a local filesystem the page cache
 *   answers in microseconds, while a trip through libuv's thread pool costs a thread
 *   wake-up, a futex and an eventfd round trip per call — more CPU than the read itself
 *   (measured: ~25 futex calls per 64 KiB file uploaded; in a VM every one is a costly exit).
 * - pool: the thread pool, where each call may wait for the network (NFS, SMB, FUSE,
 *   CephFS, Lustre…): there the waits dominate, and the pool overlaps them.
 *
 * ioModeFor() picks by the filesystem type of the root (statfs), so an NFS mount is never
 * read inline. Files above INLINE_MAX_BYTES always go through the pool or a stream.
 */
import { close, closeSync, fstat, fstatSync, open, openSync, read, readSync, renameSync, statfsSync, statSync, utimesSync, writeFileSync, type BigIntStats, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname } from 'node:path';

export type IoMode = 'inline' | 'pool';

/** Reads and writes at most this large are made inline (when the mode is inline). */
export const INLINE_MAX_BYTES = 1024 * 1024;

/** statfs f_type of filesystems whose calls may wait on a network or a user-space daemon. */
const REMOTE_FS_TYPES = new Set([
  0x6969, // NFS
  0x517b, // SMB
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x65735546, // FUSE (sshfs, s3fs, gcsfuse, …)
  0x00c36400, // CephFS
  0x0bd00bd0, // Lustre
  0x47504653, // GPFS / Spectrum Scale
  0x5346414f, // AFS
  0x01021997, // 9P
  0x01161970, // GFS2
  0x7461636f, // OCFS2
  0x73757245, // Coda
  0x564c, // NCP
]);

/** The mode for a root: inline on local filesystems, pool on network and FUSE ones (and when unsure). */
export function ioModeFor(root: string, env: NodeJS.ProcessEnv = process.env): IoMode {
  const forced = env.HYBRIDSYNC_LOCAL_IO;
  if (forced === 'inline' || forced === 'pool') return forced;
  for (let dir = root; ; dir = dirname(dir)) {
    try {
      return REMOTE_FS_TYPES.has(Number(statfsSync(dir).type) >>> 0) ? 'pool' : 'inline';
    } catch {
      // not there yet (a destination is created by its first write): ask its parent
      if (dirname(dir) === dir) return 'pool';
    }
  }
}

export interface WholeFile {
  /** `size` bytes, or fewer/more when the file changed (the caller compares). */
  readonly data: Buffer;
  /** The file's stat after the read: a change during the read shows in it. */
  readonly st: Stats;
}

/**
 * Reads a file whole: open, read up to `size` + 1 bytes (one byte more catches a file that
 * grew), fstat, close. Without `size`, the fstat comes first to learn it.
 */
export async function readWholeFile(path: string, size: number | undefined, mode: IoMode): Promise<WholeFile> {
  return mode === 'inline' && size !== undefined && size <= INLINE_MAX_BYTES ? readWholeInline(path, size) : readWholePooled(path, size);
}

// One read of size + 1 bytes: a regular file answers a read in full up to its end (Linux
// caps a single read near 2 GiB, far above what is read whole), so a short count is the end.
function readWholeInline(path: string, size: number): WholeFile {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(size + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return { data: buf.subarray(0, n), st: fstatSync(fd) };
  } finally {
    closeSync(fd);
  }
}

// the callback API: a FileHandle's promise machinery costs more per call than these
const openFd = (p: string): Promise<number> => new Promise((res, rej) => open(p, 'r', (e, fd) => (e ? rej(e) : res(fd))));
const fstatFd = (fd: number): Promise<Stats> => new Promise((res, rej) => fstat(fd, (e, st) => (e ? rej(e) : res(st))));
const readFd = (fd: number, buf: Buffer): Promise<number> => new Promise((res, rej) => read(fd, buf, 0, buf.length, 0, (e, n) => (e ? rej(e) : res(n))));
const closeFd = (fd: number): Promise<void> => new Promise((res) => close(fd, () => res()));

async function readWholePooled(path: string, size: number | undefined): Promise<WholeFile> {
  const fd = await openFd(path);
  try {
    const buf = Buffer.allocUnsafe((size ?? (await fstatFd(fd)).size) + 1);
    const n = await readFd(fd, buf);
    return { data: buf.subarray(0, n), st: await fstatFd(fd) };
  } finally {
    await closeFd(fd);
  }
}

/** A stat while listing (awaitable either way). */
export function statFile(path: string, mode: IoMode): BigIntStats | Promise<BigIntStats> {
  return mode === 'inline' ? statSync(path, { bigint: true }) : fsp.stat(path, { bigint: true });
}

/**
 * Writes `data` to `tmp` (created exclusively), gives it the mtime, renames it to `target`
 * and returns the target's stat: the whole-body write of a small file.
 */
export async function writeWholeFile(tmp: string, data: Buffer, mtimeMs: number, target: string, mode: IoMode): Promise<BigIntStats> {
  const t = mtimeMs / 1000;
  if (mode === 'inline' && data.length <= INLINE_MAX_BYTES) {
    writeFileSync(tmp, data, { flag: 'wx' });
    utimesSync(tmp, t, t);
    renameSync(tmp, target);
    return statSync(target, { bigint: true });
  }
  await fsp.writeFile(tmp, data, { flag: 'wx' });
  await fsp.utimes(tmp, t, t);
  await fsp.rename(tmp, target);
  return fsp.stat(target, { bigint: true });
}
