import { ScrubInputError } from '../errors.js';

/** A format's incremental reader-writer: text in, scrubbed text out, chunk by chunk. */
export interface FormatHandler {
  write(text: string): string;
  end(): string;
  readonly stats: HandlerStats;
}

/** What a handler produced since the last write()/end(), handed back as one string. */
export class OutputBuffer {
  private parts: string[] = [];

  push(...parts: string[]): void {
    this.parts.push(...parts);
  }

  drain(): string {
    if (this.parts.length === 0) return '';
    const s = this.parts.join('');
    this.parts = [];
    return s;
  }
}

export interface HandlerStats {
  records: number;
  malformedRecords: number;
  forcedSplits: number;
  /** Column / key path -> entity type or `drop`, for columns handled as a whole. */
  columns: Map<string, string>;
}

export function newStats(): HandlerStats {
  return { records: 0, malformedRecords: 0, forcedSplits: 0, columns: new Map() };
}

/** Where a line over the limit may be split without cutting an identifier in two. */
function safeCut(s: string): number {
  const floor = Math.max(1, s.length - 4096);
  for (let k = s.length - 2; k >= floor; k--) {
    const c = s.charCodeAt(k);
    if ((c === 32 || c === 9) && !identifierChar(s.charCodeAt(k - 1)) && !identifierChar(s.charCodeAt(k + 1))) return k + 1;
  }
  return -1;
}

/**
 * Characters that can sit next to a space inside a detectable value: digits and
 * separators (phone numbers, cards), capitals (grouped IBANs), and whitespace itself.
 * Emails, IPs and MACs never contain spaces.
 */
function identifierChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 43 || c === 40 || c === 41 || c === 45 || c === 46 || c === 58 || c === 32 || c === 9;
}

/**
 * Splits a stream of text into lines (`\n` or `\r\n`) in memory bounded by `maxChars`
 * per line. A line that grows past the limit is either cut at a word boundary
 * (`split: 'safe'`, for plain text) or rejected (`split: 'error'`, for JSON lines that
 * cannot be parsed in pieces).
 */
export class LineSplitter {
  private parts: string[] = [];
  private pending = 0;

  constructor(
    private readonly maxChars: number,
    private readonly split: 'safe' | 'error',
    private readonly stats: HandlerStats,
  ) {}

  push(chunk: string, onLine: (line: string, eol: string) => void): void {
    let i = 0;
    while (i < chunk.length) {
      const j = chunk.indexOf('\n', i);
      if (j < 0) {
        this.parts.push(chunk.slice(i));
        this.pending += chunk.length - i;
        if (this.pending > this.maxChars) this.overflow(onLine);
        return;
      }
      let line = chunk.slice(i, j);
      if (this.parts.length > 0) {
        this.parts.push(line);
        line = this.parts.join('');
        this.parts = [];
        this.pending = 0;
      }
      if (line.length > this.maxChars) {
        this.parts = [line];
        this.overflow(onLine);
        line = this.parts.join('');
        this.parts = [];
      }
      if (line.endsWith('\r')) onLine(line.slice(0, -1), '\r\n');
      else onLine(line, '\n');
      i = j + 1;
    }
  }

  end(onLine: (line: string, eol: string) => void): void {
    if (this.parts.length === 0) return;
    const line = this.parts.join('');
    this.parts = [];
    this.pending = 0;
    onLine(line, '');
  }

  private overflow(onLine: (line: string, eol: string) => void): void {
    if (this.split === 'error') {
      throw new ScrubInputError(`a line is longer than the ${this.maxChars}-character record limit`, {
        hint: 'raise limits.maxRecordBytes in the scrub config, or scrub the file as --format text',
      });
    }
    let text = this.parts.join('');
    while (text.length > this.maxChars) {
      let cut = safeCut(text.slice(0, this.maxChars));
      if (cut < 0) {
        cut = this.maxChars;
        this.stats.forcedSplits++;
      }
      onLine(text.slice(0, cut), '');
      text = text.slice(cut);
    }
    this.parts = [text];
    this.pending = text.length;
  }
}
