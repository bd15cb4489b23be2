import { isUtf8 } from 'node:buffer';
import { extname } from 'node:path';
import type { ScrubFormat } from '../types.js';

/**
 * Choosing how to read a file: by extension when it names a format, else by looking at
 * the first bytes. Anything that is not text (or is text in an encoding the scrubber
 * cannot rewrite safely) is passed through untouched and flagged in the report.
 */

export type SniffResult =
  | { passthrough: false; format: ScrubFormat; encoding: 'utf8' | 'latin1' }
  | { passthrough: true; reason: string };

const BY_EXTENSION: Readonly<Record<string, ScrubFormat>> = {
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.tab': 'tsv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.jsonlines': 'jsonl',
  '.txt': 'text',
  '.log': 'text',
  '.text': 'text',
  '.md': 'text',
  '.out': 'text',
  '.err': 'text',
};

/** Formats known to be binary or compressed: never rewritten. Parquet is not supported yet. */
const BINARY_EXTENSIONS = new Set(
  (
    '.parquet .orc .avro .arrow .feather .npy .npz .pt .pth .ckpt .safetensors .h5 .hdf5 .tfrecord .pkl ' +
    '.pickle .bin .onnx .pb .gz .tgz .zip .bz2 .xz .zst .lz4 .7z .tar .rar .png .jpg .jpeg .gif .webp .bmp ' +
    '.tif .tiff .mp3 .mp4 .wav .flac .ogg .mov .avi .mkv .pdf .xls .xlsx .doc .docx .ppt .pptx .db .sqlite ' +
    '.lance .msgpack .wasm .so .dll .exe'
  ).split(' '),
);

const MAGIC: readonly [string, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['zip', [0x50, 0x4b, 0x03, 0x04]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a]],
  ['parquet', [0x50, 0x41, 0x52, 0x31]],
  ['PDF', [0x25, 0x50, 0x44, 0x46]],
  ['PNG', [0x89, 0x50, 0x4e, 0x47]],
  ['JPEG', [0xff, 0xd8, 0xff]],
  ['UTF-16 (LE BOM)', [0xff, 0xfe]],
  ['UTF-16 (BE BOM)', [0xfe, 0xff]],
];

/**
 * Decides the format from the file name, an explicit `forced` format, and a sample of
 * the first bytes (`complete` when the sample is the whole file).
 */
export function sniffFormat(fileName: string, sample: Buffer, complete: boolean, forced?: ScrubFormat): SniffResult {
  const lower = fileName.toLowerCase();
  const ext = extname(lower);
  if (!forced && BINARY_EXTENSIONS.has(ext)) {
    return { passthrough: true, reason: `${ext} files are not a text format the scrubber can read` };
  }
  for (const [name, magic] of MAGIC) {
    if (sample.length >= magic.length && magic.every((b, i) => sample[i] === b)) {
      return { passthrough: true, reason: `content is ${name}, not a text format the scrubber can read` };
    }
  }
  if (sample.includes(0)) return { passthrough: true, reason: 'content is binary (contains NUL bytes)' };
  const encoding = utf8Prefix(sample, complete) ? 'utf8' : 'latin1';
  if (encoding === 'latin1' && controlRatio(sample) > 0.05) {
    return { passthrough: true, reason: 'content is binary (not UTF-8 and mostly control bytes)' };
  }
  const format = forced ?? BY_EXTENSION[ext] ?? sniffText(sample.toString(encoding), complete);
  return { passthrough: false, format, encoding };
}

/** UTF-8 validity of the sample, ignoring a multi-byte sequence cut off at its end. */
function utf8Prefix(sample: Buffer, complete: boolean): boolean {
  if (isUtf8(sample)) return true;
  if (complete) return false;
  for (let cut = 1; cut <= 3 && cut < sample.length; cut++) {
    if (isUtf8(sample.subarray(0, sample.length - cut))) return true;
  }
  return false;
}

function controlRatio(sample: Buffer): number {
  let control = 0;
  for (const b of sample) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) control++;
  return sample.length === 0 ? 0 : control / sample.length;
}

/** Text of unknown type: JSON lines, delimited columns, or plain text. */
function sniffText(text: string, complete: boolean): ScrubFormat {
  const nonEmpty = sampleLines(text, complete);
  if (nonEmpty.length === 0) return 'text';
  if (nonEmpty.every(isJsonContainer)) return 'jsonl';
  if (nonEmpty.length >= 2) {
    const delim = consistentDelimiter(nonEmpty);
    if (delim !== undefined) return delim === '\t' ? 'tsv' : 'csv';
  }
  return 'text';
}

/**
 * The delimiter that splits (nearly) every sample line into the same number of fields,
 * trying them in `order`. Quoted fields may throw a line's
 * count off, hence "nearly".
 */
export function consistentDelimiter(lines: readonly string[], order = ['\t', ',', ';', '|']): string | undefined {
  for (const delim of order) {
    const counts = lines.map((l) => l.split(delim).length - 1);
    const first = counts[0]!;
    if (first >= 1 && counts.filter((c) => c === first).length >= Math.ceil(counts.length * 0.9)) return delim;
  }
  return undefined;
}

/** Sample lines for delimiter detection (complete lines only, at most 50). */
export function sampleLines(text: string, complete: boolean): string[] {
  const lines = text.split('\n');
  if (!complete && lines.length > 1) lines.pop();
  return lines
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim().length > 0)
    .slice(0, 50);
}

function isJsonContainer(line: string): boolean {
  const t = line.trim();
  if (!(t.startsWith('{') && t.endsWith('}')) && !(t.startsWith('[') && t.endsWith(']'))) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}
