/**
 * Segment object names: `<file-id>/<generation>/<seq>-<start>-<end>` under the lane's
 * destination prefix, every number zero-padded so that key order is stream order (S3 lists
 * in byte order). Deterministic: a retried segment has the same name as its first attempt,
 * which is what makes a rewrite idempotent (Kafka Connect's S3 sink relies on the same).
 */

/**
 * Object metadata of a pushed segment: the pusher's window when it was cut (journal.ts,
 * SegmentIntent.window). Every seq up to `seq - window` of its file was stored by then.
 */
export const WINDOW_METADATA = 'hybridsync-stream-window';

const GEN_DIGITS = 6;
const SEQ_DIGITS = 10;
const OFFSET_DIGITS = 15;

export interface SegmentName {
  readonly fileId: string;
  readonly generation: number;
  readonly seq: number;
  /** Byte range [start, end) of the source file's generation. */
  readonly start: number;
  readonly end: number;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function segmentKey(s: SegmentName): string {
  return `${s.fileId}/${pad(s.generation, GEN_DIGITS)}/${pad(s.seq, SEQ_DIGITS)}-${pad(s.start, OFFSET_DIGITS)}-${pad(s.end, OFFSET_DIGITS)}`;
}

/** The key prefix of one file's generation. */
export function generationPrefix(fileId: string, generation: number): string {
  return `${fileId}/${pad(generation, GEN_DIGITS)}/`;
}

const SEGMENT = new RegExp(`^([A-Za-z0-9._-]+)/(\\d{${GEN_DIGITS}})/(\\d{${SEQ_DIGITS}})-(\\d{${OFFSET_DIGITS}})-(\\d{${OFFSET_DIGITS}})$`);

/** The parts of a segment key (relative to the lane's prefix); undefined for any other key. */
export function parseSegmentKey(key: string): SegmentName | undefined {
  const m = SEGMENT.exec(key);
  if (!m) return undefined;
  const [, fileId, gen, seq, start, end] = m;
  const s = { fileId: fileId!, generation: Number(gen), seq: Number(seq), start: Number(start), end: Number(end) };
  return s.end >= s.start ? s : undefined;
}

/**
 * A file id: the file's name at first sight (letters, digits, `._-` kept) and 12 hex digits
 * of a digest of its identity, so ids are readable and distinct for two files of one name.
 */
export function fileIdOf(name: string, digestHex: string): string {
  const base = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, 64) || 'file';
  return `${base}-${digestHex.slice(0, 12)}`;
}
