/**
 * Content detectors: what classification learns by reading a file's first bytes, and the
 * `pii-scrub` transform. Both come from the PII module (../pii); governance reaches it
 * only through the PiiEngine interface, so tests can stand in for it and the decisions
 * never depend on how detection works.
 *
 * The detector runs the scrubber itself over the sample and counts what it replaced: that
 * finds whole PII columns of CSV and JSON Lines files (names, addresses) as well as
 * entities in free text, exactly as the transform that may later be required would.
 */
import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';

/** Scans a sample of a file; returns counts by entity type, never the values found. */
export interface ContentDetector {
  readonly name: string;
  /** `size`: the file's; when the sample is all of it, the scan may keep its work for the file's transform. */
  scan(sample: Buffer, ctx: { readonly key: string; readonly size?: number }): Promise<Record<string, number>>;
}

export interface Scrubber {
  readonly transform: Transform;
  report(): Record<string, unknown>;
}

export interface PiiEngine {
  readonly detector: ContentDetector;
  /** A scrubber for one file; `size` (bytes, when known) decides whether it goes to a scrubbing thread. */
  createScrubber(ctx: { readonly fileName: string; readonly key: string; readonly size?: number }): Scrubber;
  /** Replaces PII in a short text (a file name, an error message) by `[type]`. */
  redact(text: string): string;
}

/** True when the sample looks binary (a NUL byte early on): text detectors skip it. */
export function looksBinary(sample: Buffer): boolean {
  return sample.subarray(0, 8192).includes(0);
}

function countsOf(report: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [t, n] of Object.entries((report.counts as Record<string, unknown>) ?? {})) if (typeof n === 'number' && n > 0) out[t] = n;
  return out;
}

/**
 * A run scrubs (and scans, for classification) its first THREAD_AFTER_BYTES on its own
 * thread, then hands files to worker threads (pii/threads.ts). A thread costs a start
 * (~0.1 s) and a warm-up of its own: V8 compiles and optimises the scrubber again in every
 * thread, ~1 CPU s over its first ~8 MB of dense data. So a run with little to scrub keeps
 * it here, and one with a lot spreads it over the cores.
 */
const THREAD_AFTER_BYTES = 64 << 20;
/**
 * Files (or scan samples) smaller than this stay on the run's own thread: for them the hop
 * costs about what it saves (1,500 × 64 KiB dense files on 2 cores: 0.97× the wall time at
 * 1.22× the CPU with threads).
 */
const THREAD_MIN_BYTES = 256 << 10;

/** Scrubbed output of whole-file scans kept for the same files' transforms (pii/replay.ts), at most this many bytes. */
const SCAN_CACHE_BYTES = 32 << 20;

/**
 * The PII engine for the `pii` section of hybridsync.yaml: the scrub config (see
 * docs/pii.md) plus `keyFile`, the secret of the `hash` operator (else HYBRIDSYNC_PII_KEY),
 * and `threads`. Fails at once, not per file, when the config needs a key and there is none.
 */
export async function loadPiiEngine(options: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): Promise<PiiEngine> {
  // loaded with the first governance config that uses it: a sync without one does not compile it
  const { createScrubber, detectPii, loadPiiKey, loadPiiSection } = await import('../pii/index.js');
  const { config, scrub, keyFile, threads } = loadPiiSection(options);
  const key = await loadPiiKey({ ...(keyFile !== undefined ? { keyFile } : {}), env });
  const { ScrubThreads, autoThreads } = await import('../pii/threads.js');
  const { ReplayTransform, ScanCache } = await import('../pii/replay.js');
  const scans = new ScanCache(SCAN_CACHE_BYTES);
  const maxThreads = threads === 'auto' ? autoThreads() : threads;
  const pool = maxThreads > 0 && ScrubThreads.available() ? new ScrubThreads({ scrub, ...(key ? { key: new Uint8Array(key) } : {}) }, maxThreads) : undefined;
  let scrubbedHere = 0;
  /** Whether a scrub or scan of `bytes` more goes to a thread (see THREAD_AFTER_BYTES). */
  const onThread = (bytes: number): boolean => {
    if (!pool) return false;
    if (bytes < THREAD_MIN_BYTES) {
      scrubbedHere += bytes;
      return false;
    }
    return pool.running > 0 || (scrubbedHere += bytes) > THREAD_AFTER_BYTES;
  };
  createScrubber(config, { fileName: 'probe.txt', ...(key ? { key } : {}) }).transform.destroy();
  // for scans when the run has no key (then no `hash` operator: the output holds no token)
  const scanKey = randomBytes(32);
  const detectOpts = { types: config.detect.types, minScore: config.detect.minScore, phoneRegions: config.detect.phoneRegions };
  return {
    detector: {
      name: 'pii',
      async scan(sample, ctx) {
        if (looksBinary(sample)) return {};
        const fileName = ctx.key.slice(ctx.key.lastIndexOf('/') + 1);
        // The whole file: scrubbed with the run's key and kept, so its transform can replay it.
        // A part: on a thread the output stays there (discard); only the report comes back.
        const whole = ctx.size === sample.length;
        const s = onThread(sample.length)
          ? pool!.open(fileName, whole ? {} : { discard: true })
          : createScrubber(config, { fileName, key: key ?? scanKey });
        const out: Buffer[] = [];
        try {
          for await (const c of Readable.from([sample]).pipe(s.transform) as AsyncIterable<Buffer>) if (whole) out.push(c);
        } catch {
          return { unscannable: 1 }; // fail closed: what cannot be scanned counts as PII
        }
        const report = s.report() as unknown as Record<string, unknown>;
        if (whole) scans.put(ctx.key, { input: sample, output: Buffer.concat(out), report });
        return countsOf(report);
      },
    },
    createScrubber(ctx) {
      const fresh = (): Scrubber => {
        if (onThread(ctx.size ?? 0)) return pool!.open(ctx.fileName);
        const s = createScrubber(config, { fileName: ctx.fileName, ...(key ? { key } : {}) });
        return { transform: s.transform, report: () => ({ ...s.report() }) };
      };
      const scanned = scans.take(ctx.key);
      if (!scanned || scanned.input.length !== ctx.size) return fresh();
      const t = new ReplayTransform(scanned, fresh);
      return { transform: t, report: () => ({ ...t.report() }) };
    },
    redact(text) {
      const found = detectPii(text, detectOpts);
      if (found.length === 0) return text;
      let out = text;
      for (const f of [...found].sort((a, b) => b.start - a.start)) out = `${out.slice(0, f.start)}[${f.type}]${out.slice(f.end)}`;
      return out;
    },
  };
}
