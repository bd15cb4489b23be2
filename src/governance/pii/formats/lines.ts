import { StringDecoder } from 'node:string_decoder';
import { ScrubInputError } from '../errors.js';

/**
 * A format's incremental reader-writer. Output goes to a ByteSink. Input comes either as
 * text (any cut: CSV records, and lines too long for the byte path) or, for formats that
 * read line by line, as complete lines of bytes, so that what is not changed is copied
 * through as bytes instead of being decoded and encoded again.
 */
export interface FormatHandler {
  readonly stats: HandlerStats;
  /** Text of the input, cut anywhere; the output for it is appended to `sink`. */
  writeText(text: string, sink: ByteSink): void;
  /**
   * One complete line: bytes [start, nl) of `buf`, where `nl` is the index of its `\n`
   * (or `buf.length` for a last line without one). Undefined for formats that need text
   * across lines (CSV: quoted fields span lines), which get each line through `writeText`.
   */
  line?(buf: Buffer, start: number, nl: number, sink: ByteSink): void;
  /** End of input: flushes what is buffered. */
  end(sink: ByteSink): void;
}

/**
 * Text in, text out (UTF-8), for tests and callers holding strings: `write` returns the
 * output for what was written so far, `end` the rest.
 */
export abstract class TextFormatHandler implements FormatHandler {
  abstract readonly stats: HandlerStats;
  abstract writeText(text: string, sink: ByteSink): void;
  abstract end(sink: ByteSink): void;
  private textSink: ByteSink | undefined;

  write(text: string): string {
    const sink = (this.textSink ??= new ByteSink('utf8'));
    this.writeText(text, sink);
    return sink.take().toString('utf8');
  }

  finish(): string {
    const sink = (this.textSink ??= new ByteSink('utf8'));
    this.end(sink);
    return sink.take().toString('utf8');
  }
}

/**
 * The output of a scrub as bytes, appended to one growing buffer and taken out once per
 * input chunk. Strings are encoded straight into it (short ASCII ones by a loop, which
 * beats a native call at that size), byte ranges of the input are copied.
 */
export class ByteSink {
  private buf: Buffer;
  private len = 0;

  constructor(
    readonly encoding: 'utf8' | 'latin1',
    private readonly initial = 64 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.len;
  }

  private room(n: number): Buffer {
    const need = this.len + n;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    return this.buf;
  }

  /** Appends `s` encoded. */
  text(s: string): void {
    const n = s.length;
    if (n === 0) return;
    if (n <= 32) {
      const buf = this.room(this.encoding === 'utf8' ? n * 3 : n);
      let o = this.len;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[o++] = c;
      }
      if (i === n) {
        this.len = o;
        return;
      }
    }
    const buf = this.room(this.encoding === 'utf8' ? n * 3 : n);
    this.len += buf.write(s, this.len, this.encoding);
  }

  /** Appends bytes [start, end) of `src`. */
  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    const buf = this.room(n);
    if (n <= 48) {
      let o = this.len;
      for (let i = start; i < end; i++) buf[o++] = src[i]!;
    } else {
      buf.set(src.subarray(start, end), this.len);
    }
    this.len += n;
  }

  /** The bytes appended since the last take (a buffer of their own), and a fresh start. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.max(this.initial, this.len));
    this.len = 0;
    return out;
  }
}

/**
 * Splits a stream of bytes at `\n` into complete lines for FormatHandler.line, carrying a
 * partial line over to the next chunk. A line whose bytes pass `maxBytes` before its end
 * is read is handed to the handler as text instead (decoded by a StringDecoder, so a
 * character cut between chunks stays whole), piece by piece until its `\n`: the format's
 * text reader then applies its own limit (an error for JSON Lines and CSV, a cut at a
 * word boundary for plain text), exactly as for text input.
 */
export class ByteLineSplitter {
  private carry: Buffer[] = [];
  private carried = 0;
  /** True while the current line goes to the handler as text (it passed maxBytes). */
  private asText = false;
  private readonly decoder: StringDecoder;

  constructor(
    private readonly handler: FormatHandler,
    private readonly encoding: 'utf8' | 'latin1',
    private readonly maxBytes: number,
  ) {
    this.decoder = new StringDecoder(encoding);
  }

  push(buf: Buffer, sink: ByteSink): void {
    let i = 0;
    const n = buf.length;
    while (i < n) {
      const nl = buf.indexOf(10, i);
      if (nl < 0) {
        this.hold(buf, i, n, sink);
        return;
      }
      if (this.asText) {
        this.toText(buf.subarray(i, nl + 1), sink, true);
      } else if (this.carried > 0) {
        const whole = Buffer.concat([...this.carry, buf.subarray(i, nl + 1)]);
        this.carry = [];
        this.carried = 0;
        this.deliver(whole, 0, whole.length - 1, sink);
      } else {
        this.deliver(buf, i, nl, sink);
      }
      i = nl + 1;
    }
  }

  end(sink: ByteSink): void {
    if (this.asText) {
      const tail = this.decoder.end();
      if (tail) this.handler.writeText(tail, sink);
      this.asText = false;
    } else if (this.carried > 0) {
      const whole = Buffer.concat(this.carry);
      this.carry = [];
      this.carried = 0;
      this.deliver(whole, 0, whole.length, sink);
    }
    this.handler.end(sink);
  }

  /** A complete line (nl: its `\n`, or the end of `buf` for a last line without one). */
  private deliver(buf: Buffer, start: number, nl: number, sink: ByteSink): void {
    const handler = this.handler;
    // Over the limit: the text reader applies it (an error or a cut), as for text input.
    if (handler.line && nl - start <= this.maxBytes) handler.line(buf, start, nl, sink);
    else handler.writeText(buf.toString(this.encoding, start, Math.min(buf.length, nl + 1)), sink);
  }

  /** Bytes [start, end) of a line that continues in the next chunk. */
  private hold(buf: Buffer, start: number, end: number, sink: ByteSink): void {
    if (start === end) return;
    if (this.asText) {
      this.toText(buf.subarray(start, end), sink, false);
      return;
    }
    this.carry.push(buf.subarray(start, end));
    this.carried += end - start;
    if (this.carried > this.maxBytes) {
      // Too long for one piece: from here on this line is read as text.
      const pending = Buffer.concat(this.carry);
      this.carry = [];
      this.carried = 0;
      this.asText = true;
      this.toText(pending, sink, false);
    }
  }

  private toText(bytes: Buffer, sink: ByteSink, lineEnds: boolean): void {
    const text = this.decoder.write(bytes);
    if (text) this.handler.writeText(text, sink);
    if (lineEnds) this.asText = false;
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
