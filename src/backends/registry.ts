/**
 * Scheme -> backend factory. `s3://bucket/prefix`, `file:///path` or a plain path,
 * `mem://` (tests only).
 */
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import { UsageError, type HybridsyncError } from '../core/errors.js';
import { LocalBackend } from './local/index.js';
import { MemoryBackend } from './memory/index.js';
import { S3Backend, type S3TransferOptions } from './s3/index.js';
import type { S3ConnectionOptions } from './s3/client.js';

export interface BackendOptions {
  readonly s3?: S3ConnectionOptions;
  readonly s3Transfer?: Partial<S3TransferOptions>;
  readonly onListError?: (key: string, err: HybridsyncError) => void;
}

const SUPPORTED = 's3://bucket/prefix, a local path, or file:///path';

export function openBackend(uri: string, opts: BackendOptions = {}): Backend {
  if (uri.trim() === '') throw new UsageError('empty location', { hint: `give ${SUPPORTED}` });
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
  switch (scheme) {
    case undefined:
      return new LocalBackend(uri, uri, { onListError: opts.onListError });
    case 'file':
      try {
        return new LocalBackend(uri, fileURLToPath(uri), { onListError: opts.onListError });
      } catch (err) {
        throw new UsageError(`malformed file URL "${uri}"`, { cause: err, hint: 'use file:///absolute/path or a plain path' });
      }
    case 's3':
      return new S3Backend(uri, opts.s3, opts.s3Transfer);
    case 'mem':
      return new MemoryBackend(uri);
    default:
      throw new UsageError(`unknown scheme "${scheme}://" in ${uri}`, { hint: `use ${SUPPORTED}` });
  }
}
