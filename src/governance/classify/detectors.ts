/**
 * Content detectors: what classification learns by reading a file's first bytes. The PII
 * scrubber module (../pii) provides the detector and the `pii-scrub` transform; governance
 * reaches it only through the PiiEngine interface below, so classification, policy and
 * audit work (with no content detector and no scrubbing available) when it is absent.
 */
import type { Transform } from 'node:stream';

/** Scans a sample of a file; returns counts by entity type, never the values found. */
export interface ContentDetector {
  readonly name: string;
  scan(sample: Buffer, ctx: { readonly key: string }): Record<string, number>;
}

export interface Scrubber {
  readonly transform: Transform;
  report(): Record<string, unknown>;
}

export interface PiiEngine {
  readonly detector: ContentDetector;
  createScrubber(ctx: { readonly fileName: string; readonly key: string }): Scrubber;
  /** Replaces PII in a short text (a file name, an error message) by `[type]`. */
  redact(text: string): string;
}

/** What ../pii/index.ts exports, as far as governance relies on it. */
interface PiiModule {
  detectPii(text: string): unknown;
  createScrubber(config: unknown, ctx: { fileName: string; key: string }): { transform: Transform; report(): unknown };
}

interface FindingLike {
  type: string;
  start?: number;
  end?: number;
}

function findingsOf(result: unknown): FindingLike[] {
  const list = Array.isArray(result) ? result : Array.isArray((result as { findings?: unknown })?.findings) ? (result as { findings: unknown[] }).findings : [];
  return list.filter((f): f is FindingLike => typeof (f as FindingLike)?.type === 'string');
}

/** True when the sample looks binary (a NUL byte early on): text detectors skip it. */
export function looksBinary(sample: Buffer): boolean {
  return sample.subarray(0, 8192).includes(0);
}

/** Adapts the PII module to the PiiEngine interface. */
export function piiEngineFrom(mod: PiiModule, options: Record<string, unknown>): PiiEngine {
  const detector: ContentDetector = {
    name: 'pii',
    scan(sample) {
      if (looksBinary(sample)) return {};
      const counts: Record<string, number> = {};
      for (const f of findingsOf(mod.detectPii(sample.toString('utf8')))) counts[f.type] = (counts[f.type] ?? 0) + 1;
      return counts;
    },
  };
  return {
    detector,
    createScrubber(ctx) {
      const s = mod.createScrubber(options, { fileName: ctx.fileName, key: ctx.key });
      return { transform: s.transform, report: () => ({ ...(s.report() as Record<string, unknown>) }) };
    },
    redact(text) {
      const found = findingsOf(mod.detectPii(text)).filter((f) => typeof f.start === 'number' && typeof f.end === 'number');
      if (found.length === 0) return text;
      found.sort((a, b) => b.start! - a.start!);
      let out = text;
      for (const f of found) out = `${out.slice(0, f.start)}[${f.type}]${out.slice(f.end)}`;
      return out;
    },
  };
}

function isPiiModule(m: unknown): m is PiiModule {
  return typeof (m as PiiModule)?.detectPii === 'function' && typeof (m as PiiModule)?.createScrubber === 'function';
}

/** The PII engine when ../pii is present and complete, else undefined. */
export async function loadPiiEngine(options: Record<string, unknown> = {}): Promise<PiiEngine | undefined> {
  const specifier = '../pii/index.js';
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch {
    return undefined;
  }
  return isPiiModule(mod) ? piiEngineFrom(mod, options) : undefined;
}
