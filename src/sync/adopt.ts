/**
 * Adoption: objects already at the destination — imported by any tool, e.g. from a
 * transfer device with `aws s3 cp` or `rclone copy`, so with new LastModified dates,
 * without hybridsync's mtime metadata and with multipart ETags of that tool's part size —
 * are recorded as synced when their content matches the source, without moving them.
 * The record is the destination's row in the state database's object cache (size + ETag
 * → the source's mtime and MD5): the engine's statFull consults it before a HEAD, so the
 * next sync finds these objects identical and moves only the delta.
 *
 * Content is matched by, in order: the MD5 the destination stores (a single-part ETag,
 * md5chksum metadata) against the source's; the source's multipart ETag recomputed for
 * the part sizes common tools use, for as many parts as the ETag's `-N` says; and, with
 * `download`, the destination's bytes read back and hashed.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';
import { describeError, isHybridsyncError } from '../core/errors.js';
import { md5OfStream } from '../lib/accounting.js';
import { forEachConcurrent } from '../lib/pool.js';
import type { Filter } from './filter.js';
import { march, type MarchPair } from './march.js';
import type { StateDb } from './state.js';

const MiB = 1024 * 1024;

/**
 * Part sizes of common uploaders: 5 MiB (S3's minimum; rclone's default --s3-chunk-size),
 * 8 MiB (aws-cli's multipart_chunksize), 16 MiB (hybridsync, s5cmd), 10/15/32/50/64/100/
 * 128/256/512 MiB (tool and SDK settings seen in practice).
 */
export const COMMON_PART_SIZES: readonly number[] = [5, 8, 10, 15, 16, 32, 50, 64, 100, 128, 256, 512].map((m) => m * MiB);

export type AdoptMethod = 'md5' | 'multipart-etag' | 'read';

export type AdoptEvent =
  | { readonly type: 'adopted'; readonly key: string; readonly size: number; readonly by: AdoptMethod; readonly partSize?: number }
  | { readonly type: 'not-adopted'; readonly key: string; readonly reason: 'differs' | 'unverified' | 'missing' | 'error'; readonly detail?: string };

export interface AdoptOptions {
  readonly src: Backend;
  readonly dst: Backend;
  readonly state: StateDb;
  readonly filter?: Filter;
  /** Read destination objects whose content no hash can vouch for (costs a download each). */
  readonly download?: boolean;
  readonly dryRun?: boolean;
  readonly checkers?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: AdoptEvent) => void;
}

export interface AdoptSummary {
  adopted: number;
  bytes: number;
  differs: number;
  unverified: number;
  /** Source files not at the destination: the next sync sends them. */
  missing: number;
  failed: number;
}

/** A multipart upload's ETag: MD5 over the parts' binary MD5s, then `-N` (S3's convention). */
export class MultipartEtag {
  private part: Hash = createHash('md5');
  private inPart = 0;
  private readonly digests: Buffer[] = [];
  constructor(readonly partSize: number) {}

  update(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) {
      const n = Math.min(buf.length - off, this.partSize - this.inPart);
      this.part.update(buf.subarray(off, off + n));
      this.inPart += n;
      off += n;
      if (this.inPart === this.partSize) this.endPart();
    }
  }

  private endPart(): void {
    this.digests.push(this.part.digest());
    this.part = createHash('md5');
    this.inPart = 0;
  }

  digest(): string {
    if (this.inPart > 0 || this.digests.length === 0) this.endPart();
    return `${createHash('md5').update(Buffer.concat(this.digests)).digest('hex')}-${this.digests.length}`;
  }
}

/** The part sizes that give `size` bytes exactly `parts` parts: the common ones, then whole MiB from size/parts up. */
export function candidatePartSizes(size: number, parts: number): number[] {
  const fits = (p: number): boolean => Math.ceil(size / p) === parts;
  const out = COMMON_PART_SIZES.filter(fits);
  // tools that grow the part size to stay under 10,000 parts (or were told a size): the smallest whole MiB that fits
  const least = Math.ceil(size / parts / MiB) * MiB;
  for (let p = least, i = 0; i < 4; p += MiB, i++) if (fits(p) && !out.includes(p)) out.push(p);
  if (fits(Math.ceil(size / parts)) && !out.includes(Math.ceil(size / parts))) out.push(Math.ceil(size / parts));
  return out;
}

function multipartParts(etag: string | undefined): number | undefined {
  const m = etag ? /^[0-9a-f]{32}-(\d+)$/.exec(etag) : null;
  return m ? Number(m[1]) : undefined;
}

export async function adopt(o: AdoptOptions): Promise<AdoptSummary> {
  const s: AdoptSummary = { adopted: 0, bytes: 0, differs: 0, unverified: 0, missing: 0, failed: 0 };
  const emit = o.onEvent ?? (() => undefined);
  const sig = o.signal ? { signal: o.signal } : {};
  const dstLoc = o.dst.location.id;
  const pairs = march(o.src.list(sig), o.dst.list({ ...sig, allowMissingRoot: true }));
  await forEachConcurrent(
    pairs,
    o.checkers ?? 8,
    async (p: MarchPair) => {
      if (!p.src || (o.filter && !o.filter.matches(p.src))) return;
      if (!p.dst) {
        s.missing++;
        return emit({ type: 'not-adopted', key: p.key, reason: 'missing' });
      }
      try {
        const verdict = await matchContent(o, p.src, p.dst, sig);
        if (verdict.kind !== 'same') {
          s[verdict.kind]++;
          return emit({ type: 'not-adopted', key: p.key, reason: verdict.kind, ...(verdict.detail ? { detail: verdict.detail } : {}) });
        }
        if (!o.dryRun) o.state.putObject(dstLoc, p.key, { size: verdict.dst.size, etag: verdict.dst.etag!, mtimeMs: verdict.src.mtimeMs, md5: verdict.md5 });
        s.adopted++;
        s.bytes += p.src.size;
        emit({ type: 'adopted', key: p.key, size: p.src.size, by: verdict.by, ...(verdict.partSize ? { partSize: verdict.partSize } : {}) });
      } catch (err) {
        if (o.signal?.aborted || (isHybridsyncError(err) && err.fatal)) throw err;
        s.failed++;
        emit({ type: 'not-adopted', key: p.key, reason: 'error', detail: describeError(err) });
      }
    },
    o.signal,
  );
  o.state.flushObjects();
  return s;
}

type Verdict =
  | { kind: 'same'; src: Entry; dst: Entry; md5: string; by: AdoptMethod; partSize?: number }
  | { kind: 'differs' | 'unverified'; detail?: string };

async function matchContent(o: AdoptOptions, listedSrc: Entry, listedDst: Entry, sig: { signal?: AbortSignal }): Promise<Verdict> {
  if (listedSrc.size !== listedDst.size) return { kind: 'differs', detail: `size ${listedDst.size} at the destination, ${listedSrc.size} at the source` };
  // the source's real mtime (an object store lists upload times): what the next sync compares
  const src = listedSrc.mtimeExact ? listedSrc : ((await o.src.stat(listedSrc.key, sig)) ?? listedSrc);
  // the destination's stored MD5 (md5chksum metadata) is only in a HEAD
  const dst = listedDst.md5 || !o.dst.features.metadata ? listedDst : { ...listedDst, ...(await o.dst.stat(listedDst.key, sig)) };
  if (!dst.etag) return { kind: 'unverified', detail: `${o.dst.type} reports no ETag to record the object by` };
  const parts = dst.md5 ? undefined : multipartParts(dst.etag);
  const sizes = parts ? candidatePartSizes(src.size, parts) : [];
  let srcMd5 = src.md5;
  let matchedPart: number | undefined;
  if (!srcMd5 || sizes.length > 0) {
    if (!o.src.features.cheapReads && !o.download && !srcMd5) return { kind: 'unverified', detail: 'no source hash without reading it (use --download)' };
    const hashed = await hashSource(o.src, src, sizes, sig);
    srcMd5 = hashed.md5;
    matchedPart = sizes.find((p) => hashed.etags.get(p) === dst.etag);
  }
  if (dst.md5) return dst.md5 === srcMd5 ? { kind: 'same', src, dst, md5: srcMd5, by: 'md5' } : { kind: 'differs', detail: 'MD5 differs' };
  if (matchedPart !== undefined) return { kind: 'same', src, dst, md5: srcMd5, by: 'multipart-etag', partSize: matchedPart };
  if (!o.download) {
    return parts
      ? { kind: 'unverified', detail: `multipart ETag (${parts} parts) matches none of the part sizes tried; --download reads the object to compare` }
      : { kind: 'unverified', detail: 'no destination hash; --download reads the object to compare' };
  }
  const read = await md5OfStream((await o.dst.read(dst.key, { ...sig, ifMatch: dst })) as AsyncIterable<Buffer>);
  return read.md5 === srcMd5 ? { kind: 'same', src, dst, md5: srcMd5, by: 'read' } : { kind: 'differs', detail: 'content differs (read back)' };
}

/** One read of the source: its MD5 and its multipart ETag for each candidate part size. */
async function hashSource(b: Backend, e: Entry, partSizes: readonly number[], sig: { signal?: AbortSignal }): Promise<{ md5: string; etags: Map<number, string> }> {
  const whole = createHash('md5');
  const multi = partSizes.map((p) => new MultipartEtag(p));
  for await (const chunk of (await b.read(e.key, { ...sig, ifMatch: e })) as AsyncIterable<Buffer>) {
    whole.update(chunk);
    for (const m of multi) m.update(chunk);
  }
  return { md5: whole.digest('hex'), etags: new Map(multi.map((m) => [m.partSize, m.digest()])) };
}
