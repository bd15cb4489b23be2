/**
 * Copies of signed checkpoints in a second location (another bucket, another disk),
 * through the Backend contract. A log that was cut after a copied checkpoint no longer
 * reaches that checkpoint's tree size, which `audit verify` reports. One object per
 * checkpoint (`<logId>/checkpoint-<treeSize>.json`): object stores have no append, and
 * nothing is ever overwritten.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Backend } from '../../core/backend.js';
import { MissingRootError } from '../../core/errors.js';
import type { CheckpointBody } from './signing.js';

export interface SignedCheckpoint extends CheckpointBody {
  readonly keyId: string;
  /** Base64 Ed25519 signature over checkpointMessage(). */
  readonly sig: string;
}

export interface CheckpointMirror {
  readonly uri: string;
  put(cp: SignedCheckpoint, signal?: AbortSignal): Promise<void>;
  /** Every checkpoint copied for a log, or the key and problem of a copy that is unreadable. */
  list(logId: string, signal?: AbortSignal): AsyncIterable<{ key: string; checkpoint?: SignedCheckpoint; problem?: string }>;
  /** The tree sizes of the checkpoints copied for a log (listed, not read). */
  treeSizes(logId: string, signal?: AbortSignal): AsyncIterable<number>;
  close?(): Promise<void>;
}

export function checkpointKey(logId: string, treeSize: number): string {
  return `${logId}/checkpoint-${String(treeSize).padStart(12, '0')}.json`;
}

function isCheckpoint(x: unknown): x is SignedCheckpoint {
  const c = x as SignedCheckpoint;
  return (
    typeof c?.logId === 'string' &&
    Number.isInteger(c.treeSize) &&
    typeof c.root === 'string' &&
    typeof c.time === 'string' &&
    typeof c.keyId === 'string' &&
    typeof c.sig === 'string'
  );
}

export class BackendCheckpointMirror implements CheckpointMirror {
  constructor(private readonly backend: Backend) {}

  get uri(): string {
    return this.backend.uri;
  }

  async put(cp: SignedCheckpoint, signal?: AbortSignal): Promise<void> {
    const body = Buffer.from(`${JSON.stringify({ logId: cp.logId, treeSize: cp.treeSize, root: cp.root, time: cp.time, keyId: cp.keyId, sig: cp.sig })}\n`);
    const md5 = createHash('md5').update(body).digest('hex');
    try {
      await this.backend.write(
        checkpointKey(cp.logId, cp.treeSize),
        Readable.from([body]),
        { size: body.length, mtimeMs: Date.parse(cp.time), md5, contentType: 'application/json' },
        signal ? { signal } : {},
      );
    } catch (err) {
      // the backend's hint ("pass --create-bucket") is for sync destinations, not for mirrors
      if (err instanceof MissingRootError) {
        throw new MissingRootError(`the audit mirror ${this.uri} does not exist`, {
          cause: err,
          hint: 'create the mirror bucket or container (aws s3 mb s3://BUCKET, az storage container create -n NAME); the next run copies every checkpoint the mirror lacks',
        });
      }
      throw err;
    }
  }

  async *treeSizes(logId: string, signal?: AbortSignal): AsyncIterable<number> {
    for await (const e of this.backend.list({ prefix: `${logId}/`, allowMissingRoot: true, ...(signal ? { signal } : {}) })) {
      const m = /\/checkpoint-(\d+)\.json$/.exec(e.key);
      if (m) yield Number(m[1]);
    }
  }

  async *list(logId: string, signal?: AbortSignal): AsyncIterable<{ key: string; checkpoint?: SignedCheckpoint; problem?: string }> {
    for await (const e of this.backend.list({ prefix: `${logId}/`, allowMissingRoot: true, ...(signal ? { signal } : {}) })) {
      if (!/\/checkpoint-\d+\.json$/.test(e.key)) continue;
      const chunks: Buffer[] = [];
      for await (const c of (await this.backend.read(e.key, signal ? { signal } : {})) as AsyncIterable<Buffer>) chunks.push(c);
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        yield { key: e.key, problem: 'not valid JSON' };
        continue;
      }
      if (isCheckpoint(parsed)) yield { key: e.key, checkpoint: parsed };
      else yield { key: e.key, problem: 'not a checkpoint' };
    }
  }

  async close(): Promise<void> {
    await this.backend.close?.();
  }
}
