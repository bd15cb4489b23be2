/**
 * What a transformed (e.g. PII-scrubbed) destination file was made from, written into the
 * object's own metadata so that anyone holding only the destination — an auditor, a
 * second machine with an empty state database — can verify it against the source:
 * `check` compares the source with the recorded version instead of the scrubbed bytes.
 * Pure: no I/O (the planner uses it).
 */
import type { SourceVersion } from './plan.js';

const SIZE = 'hybridsync-source-size';
const MTIME = 'hybridsync-source-mtime';
const MD5 = 'hybridsync-source-md5';
const TRANSFORMS = 'hybridsync-transforms';

/** The metadata recording the source version a transformed file was made from. */
export function derivationMetadata(src: SourceVersion, transforms: readonly string[]): Record<string, string> {
  return {
    [SIZE]: String(src.size),
    [MTIME]: String(Math.round(src.mtimeMs)),
    ...(src.md5 ? { [MD5]: src.md5 } : {}),
    [TRANSFORMS]: transforms.join(','),
  };
}

/** Metadata names as stores give them back: Azure turns '-' into '_'. */
function get(meta: Readonly<Record<string, string>>, name: string): string | undefined {
  return meta[name] ?? meta[name.replaceAll('-', '_')];
}

/** The recorded source version, when the metadata has a complete, well-formed one. */
export function derivedFromMetadata(meta: Readonly<Record<string, string>> | undefined): (SourceVersion & { transforms: string[] }) | undefined {
  if (!meta) return undefined;
  const size = Number(get(meta, SIZE));
  const mtimeMs = Number(get(meta, MTIME));
  const md5 = get(meta, MD5)?.toLowerCase();
  if (!Number.isSafeInteger(size) || size < 0 || !Number.isFinite(mtimeMs)) return undefined;
  if (md5 !== undefined && !/^[0-9a-f]{32}$/.test(md5)) return undefined;
  const transforms = (get(meta, TRANSFORMS) ?? '').split(',').filter(Boolean);
  return { size, mtimeMs, md5: md5 ?? null, transforms };
}
