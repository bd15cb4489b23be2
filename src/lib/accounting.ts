import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Pacer } from './bandwidth.js';

/**
 * The one accounting stream every transferred byte passes through (rclone's
 * accounting.Account): it takes bandwidth tokens, counts bytes, hashes them and reports
 * progress. Placing all of it in one Transform means no stage can forget one of them.
 */
export class AccountingStream extends Transform {
  private readonly hash: Hash | undefined;
  private bytes = 0;
  private digestHex: string | undefined;

  constructor(
    private readonly opts: {
      limiter?: Pacer;
      md5?: boolean;
      onBytes?: (n: number) => void;
      signal?: AbortSignal;
    } = {},
  ) {
    super({ highWaterMark: 1 << 20 });
    this.hash = opts.md5 ? createHash('md5') : undefined;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash?.update(chunk);
    this.bytes += chunk.length;
    const limiter = this.opts.limiter;
    if (!limiter) {
      this.opts.onBytes?.(chunk.length);
      cb(null, chunk);
      return;
    }
    limiter.take(chunk.length, this.opts.signal).then(
      () => {
        this.opts.onBytes?.(chunk.length);
        cb(null, chunk);
      },
      (err: unknown) => cb(err as Error),
    );
  }

  get byteCount(): number {
    return this.bytes;
  }

  /** Hex MD5 of everything that passed; valid after the stream ended. */
  md5(): string {
    if (!this.hash) throw new Error('AccountingStream created without md5');
    this.digestHex ??= this.hash.digest('hex');
    return this.digestHex;
  }
}

/** Hex MD5 of a whole stream, consuming it. */
export async function md5OfStream(stream: AsyncIterable<Buffer>): Promise<{ md5: string; size: number }> {
  const h = createHash('md5');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk);
    size += chunk.length;
  }
  return { md5: h.digest('hex'), size };
}
