import { Transform, type TransformCallback } from 'node:stream';
import { configNeedsKey, type ScrubConfig } from './config.js';
import { CsvScrubber } from './formats/csv.js';
import { JsonlScrubber } from './formats/jsonl.js';
import { ByteLineSplitter, ByteSink, type FormatHandler } from './formats/lines.js';
import { consistentDelimiter, sampleLines, sniffFormat } from './formats/sniff.js';
import { TextScrubber } from './formats/text.js';
import { missingKeyError } from './key.js';
import { Pseudonymizer } from './operators.js';
import { zeroCounts, type EntityType, type ScrubFormat, type ScrubReport } from './types.js';
import { ValueScrubber } from './value-scrubber.js';

export interface ScrubberOptions {
  /** Used to choose the format by extension, and in messages. */
  fileName: string;
  /** Secret for the `hash` operator (required when the config uses it). */
  key?: Buffer;
  /** Read as this format instead of choosing by extension and content. */
  format?: ScrubFormat;
}

export interface Scrubber {
  /** Bytes in, scrubbed bytes out. */
  transform: Transform;
  /** Counts per entity type and how the file was read; complete once the stream has ended. */
  report(): ScrubReport;
}

/**
 * A streaming scrubber for one file. It buffers the first `limits.sniffBytes` to choose the
 * format, then works chunk by chunk in memory bounded by the largest record (capped by
 * `limits.maxRecordBytes`) plus the column-sampling window, never by the file size.
 *
 * Throws ConfigError at once when the config needs a key (operator `hash`) and none is given.
 */
export function createScrubber(config: ScrubConfig, opts: ScrubberOptions): Scrubber {
  if (configNeedsKey(config) && !opts.key) throw missingKeyError(`the scrub config for ${opts.fileName}`);
  const transform = new ScrubTransform(config, opts);
  return { transform, report: () => transform.report() };
}

class ScrubTransform extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private mode: 'sniff' | 'scrub' | 'pass' = 'sniff';
  private handler: FormatHandler | undefined;
  private lines: ByteLineSplitter | undefined;
  private sink: ByteSink | undefined;
  private encoding: 'utf8' | 'latin1' = 'utf8';
  private format: ScrubFormat | 'binary' = 'binary';
  private reason: string | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly vs: ValueScrubber;

  constructor(
    private readonly config: ScrubConfig,
    private readonly opts: ScrubberOptions,
  ) {
    super();
    this.vs = new ValueScrubber(config, opts.key ? new Pseudonymizer(opts.key, config.hash.tokenBytes) : undefined);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.bytesIn += chunk.length;
      if (this.mode === 'pass') {
        this.out(chunk);
      } else if (this.mode === 'scrub') {
        this.feed(chunk);
      } else {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        if (this.pendingBytes >= this.config.limits.sniffBytes) this.start(false);
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.mode === 'sniff') this.start(true);
      if (this.mode === 'scrub') {
        this.lines!.end(this.sink!);
        this.out(this.sink!.take());
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private start(complete: boolean): void {
    const sample = Buffer.concat(this.pending);
    this.pending = [];
    const sniffed = sniffFormat(this.opts.fileName, sample, complete, this.opts.format);
    if (sniffed.passthrough) {
      this.mode = 'pass';
      this.reason = sniffed.reason;
      this.out(sample);
      return;
    }
    this.mode = 'scrub';
    this.format = sniffed.format;
    this.encoding = sniffed.encoding;
    this.handler = this.handlerFor(sniffed.format, sample, complete);
    this.sink = new ByteSink(sniffed.encoding);
    this.lines = new ByteLineSplitter(this.handler, sniffed.encoding, this.config.limits.maxRecordBytes);
    this.feed(sample);
  }

  private handlerFor(format: ScrubFormat, sample: Buffer, complete: boolean): FormatHandler {
    switch (format) {
      case 'csv':
      case 'tsv': {
        const lines = sampleLines(sample.toString(this.encoding), complete);
        const delimiter =
          this.config.csv.delimiter ??
          (format === 'tsv' ? '\t' : (consistentDelimiter(lines, [',', ';', '|', '\t']) ?? ','));
        return new CsvScrubber(this.config, this.vs, delimiter);
      }
      case 'jsonl':
        return new JsonlScrubber(this.config, this.vs);
      case 'text':
        return new TextScrubber(this.config, this.vs);
    }
  }

  /** Lines of bytes through the format handler; its output goes out once per chunk. */
  private feed(buf: Buffer): void {
    this.lines!.push(buf, this.sink!);
    this.out(this.sink!.take());
  }

  private out(b: Buffer): void {
    if (b.length === 0) return;
    this.bytesOut += b.length;
    this.push(b);
  }

  report(): ScrubReport {
    const stats = this.handler?.stats;
    const counts = zeroCounts();
    for (const t of Object.keys(counts) as EntityType[]) counts[t] = this.vs.counts[t];
    const report: ScrubReport = {
      format: this.mode === 'pass' ? 'binary' : this.format,
      passthrough: this.mode === 'pass',
      counts,
      records: stats?.records ?? 0,
      malformedRecords: stats?.malformedRecords ?? 0,
      forcedSplits: stats?.forcedSplits ?? 0,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
    if (this.reason) report.reason = this.reason;
    if (this.mode === 'scrub') report.encoding = this.encoding;
    if (stats && stats.columns.size > 0) {
      report.columns = [...stats.columns.keys()];
      report.columnTypes = Object.fromEntries(stats.columns) as Record<string, EntityType | 'drop' | 'redacted'>;
    }
    return report;
  }
}
