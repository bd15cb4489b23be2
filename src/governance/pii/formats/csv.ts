import {
  ColumnProfile,
  ColumnRules,
  classifyFieldName,
  decideByRuleOrName,
  type ColumnDecision,
} from '../columns.js';
import { operatorFor, type ScrubConfig } from '../config.js';
import { ScrubInputError } from '../errors.js';
import { isJsonNumber } from '../numbers.js';
import type { EntityType } from '../types.js';
import type { ValueScrubber } from '../value-scrubber.js';
import { ByteSink, newStats, TextFormatHandler, type HandlerStats } from './lines.js';

/**
 * CSV and TSV, streamed: an RFC 4180 parser that keeps its state between chunks (quoted
 * fields may span lines and chunks), a sample of the first records to find the header
 * and the PII columns, then one record at a time in, one record out.
 *
 * Fields that are not changed are written back byte for byte (original quoting and line
 * endings included); changed fields are quoted when they need to be.
 */

export interface CsvRecord {
  /** Field values: quotes removed, `""` unescaped. */
  values: string[];
  /** Fields exactly as written (quotes included); the same array as `values` when nothing was quoted. */
  raws: string[];
  /** Which fields were quoted; undefined when none was. */
  quoted: boolean[] | undefined;
  /** `\n`, `\r\n`, `\r`, or `` for a last record without a line ending. */
  eol: string;
  /** The record's text without the line ending, when it was read in one piece. */
  text: string | undefined;
}

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** A `"` ended the previous chunk inside a quoted field: closing quote or first half of `""`. */
  QuotePending,
  AfterQuoted,
  /** A `\r` ended the previous chunk: `\r\n` or a lone `\r`. */
  AfterCr,
}

/**
 * RFC 4180 reader. Lines without a double quote or a bare CR, by far the common case, are
 * split natively (`String.prototype.split`); any other record goes through a character
 * state machine that keeps its state across chunks, so a quoted field may span lines and
 * chunks. A record larger than `maxRecordChars` is an error (an unbalanced quote would
 * otherwise swallow the rest of the file).
 */
export class CsvParser {
  private readonly delim: string;
  private state = State.FieldStart;
  /** True while a record read by the state machine continues into the next chunk. */
  private inRecord = false;
  private values: string[] = [];
  private raws: string[] = [];
  private quotedFlags: boolean[] = [];
  private anyQuoted = false;
  private rawParts: string[] = [];
  private valueParts: string[] = [];
  private quoted = false;
  /** Characters of the current record read in earlier chunks. */
  private carried = 0;

  constructor(
    private readonly delimiter: number,
    private readonly maxRecordChars: number,
  ) {
    this.delim = String.fromCharCode(delimiter);
  }

  push(s: string, onRecord: (r: CsvRecord) => void): void {
    const n = s.length;
    let i = 0;
    if (this.inRecord) {
      i = this.slow(s, 0, onRecord);
      if (i < 0) return;
    }
    let nextQuote = s.indexOf('"', i);
    let nextCr = s.indexOf('\r', i);
    while (i < n) {
      const nl = s.indexOf('\n', i);
      if (nl < 0) break;
      if (nextQuote >= 0 && nextQuote < i) nextQuote = s.indexOf('"', i);
      if (nextCr >= 0 && nextCr < i) nextCr = s.indexOf('\r', i);
      let end = nl;
      let eol = '\n';
      if (nl > i && s.charCodeAt(nl - 1) === 13) {
        end = nl - 1;
        eol = '\r\n';
      }
      if ((nextQuote < 0 || nextQuote > nl) && (nextCr < 0 || nextCr >= end)) {
        const text = s.slice(i, end);
        const values = text.split(this.delim);
        onRecord({ values, raws: values, quoted: undefined, eol, text });
        i = nl + 1;
        continue;
      }
      i = this.slow(s, i, onRecord);
      if (i < 0) return;
    }
    if (i < n) {
      // A partial record at the end of the chunk: the state machine keeps it.
      while (i >= 0 && i < n) i = this.slow(s, i, onRecord);
    }
  }

  end(onRecord: (r: CsvRecord) => void): void {
    if (!this.inRecord) return;
    switch (this.state) {
      case State.FieldStart:
        this.finishField('', '');
        break;
      case State.AfterCr:
        this.endRecord('\r', onRecord);
        return;
      default:
        // Unterminated quote at end of input: keep what was read.
        this.finishField('', '');
    }
    this.endRecord('', onRecord);
  }

  /**
   * The state machine, from `i` to the end of one record. Returns the index after the
   * record, or -1 when the chunk ended first (the state is kept for the next chunk).
   */
  private slow(s: string, start: number, onRecord: (r: CsvRecord) => void): number {
    const n = s.length;
    const d = this.delimiter;
    let i = start;
    let rawStart = start;
    let valueStart = start;
    // The next line break at or after i (n when none): an unquoted field ends at the first
    // delimiter or line break, found with indexOf instead of a loop over its characters.
    let nextLf = -1;
    let nextCr = -1;
    this.inRecord = true;
    while (true) {
      switch (this.state) {
        case State.FieldStart: {
          if (i >= n) return this.carry(n - start);
          rawStart = i;
          if (s.charCodeAt(i) === 34) {
            this.quoted = true;
            this.state = State.Quoted;
            valueStart = ++i;
          } else {
            this.quoted = false;
            this.state = State.Unquoted;
            valueStart = i;
          }
          break;
        }
        case State.Unquoted:
        case State.AfterQuoted: {
          if (nextLf < i) nextLf = indexOrEnd(s, '\n', i);
          if (nextCr < i) nextCr = indexOrEnd(s, '\r', i);
          let j = s.indexOf(this.delim, i);
          if (j < 0 || j > nextLf) j = nextLf;
          if (j > nextCr) j = nextCr;
          const c = j < n ? s.charCodeAt(j) : 0;
          if (this.state === State.AfterQuoted) valueStart = i; // lenient: text after a closing quote is kept
          if (j >= n) {
            this.rawParts.push(s.slice(rawStart, n));
            this.valueParts.push(s.slice(valueStart, n));
            return this.carry(n - start);
          }
          this.finishField(s.slice(rawStart, j), s.slice(valueStart, j));
          if (c === d) {
            i = j + 1;
            this.state = State.FieldStart;
          } else if (c === 10) {
            this.endRecord('\n', onRecord);
            return j + 1;
          } else if (j + 1 < n) {
            const lf = s.charCodeAt(j + 1) === 10;
            this.endRecord(lf ? '\r\n' : '\r', onRecord);
            return j + (lf ? 2 : 1);
          } else {
            this.state = State.AfterCr;
            return this.carry(n - start);
          }
          break;
        }
        case State.Quoted: {
          const q = s.indexOf('"', i);
          if (q < 0) {
            this.rawParts.push(s.slice(rawStart, n));
            this.valueParts.push(s.slice(valueStart, n));
            return this.carry(n - start);
          }
          if (q + 1 >= n) {
            this.rawParts.push(s.slice(rawStart, n));
            this.valueParts.push(s.slice(valueStart, q));
            this.state = State.QuotePending;
            return this.carry(n - start);
          }
          if (s.charCodeAt(q + 1) === 34) {
            this.valueParts.push(s.slice(valueStart, q + 1));
            i = valueStart = q + 2;
          } else {
            this.valueParts.push(s.slice(valueStart, q));
            i = q + 1;
            this.state = State.AfterQuoted;
          }
          break;
        }
        case State.QuotePending: {
          if (i >= n) return this.carry(n - start);
          if (s.charCodeAt(i) === 34) {
            this.valueParts.push('"');
            i = valueStart = i + 1;
            this.state = State.Quoted;
          } else {
            this.state = State.AfterQuoted;
          }
          break;
        }
        case State.AfterCr: {
          if (i >= n) return -1;
          const lf = s.charCodeAt(i) === 10;
          this.endRecord(lf ? '\r\n' : '\r', onRecord);
          return lf ? i + 1 : i;
        }
      }
    }
  }

  private finishField(rawTail: string, valueTail: string): void {
    let raw = rawTail;
    let value = valueTail;
    if (this.rawParts.length > 0) {
      this.rawParts.push(rawTail);
      raw = this.rawParts.join('');
      this.rawParts = [];
    }
    if (this.valueParts.length > 0) {
      this.valueParts.push(valueTail);
      value = this.valueParts.join('');
      this.valueParts = [];
    }
    this.values.push(value);
    this.raws.push(raw);
    this.quotedFlags.push(this.quoted);
    if (this.quoted) this.anyQuoted = true;
    this.quoted = false;
  }

  private endRecord(eol: string, onRecord: (r: CsvRecord) => void): void {
    const r: CsvRecord = {
      values: this.values,
      raws: this.raws,
      quoted: this.anyQuoted ? this.quotedFlags : undefined,
      eol,
      text: undefined,
    };
    this.values = [];
    this.raws = [];
    this.quotedFlags = [];
    this.anyQuoted = false;
    this.state = State.FieldStart;
    this.inRecord = false;
    this.carried = 0;
    onRecord(r);
  }

  /** Accounts for the part of a record that continues into the next chunk; returns -1. */
  private carry(chars: number): number {
    this.carried += chars;
    if (this.carried > this.maxRecordChars) {
      throw new ScrubInputError(`a CSV record is longer than the ${this.maxRecordChars}-character limit (unbalanced quote?)`, {
        hint: 'check the file for a stray double quote, or raise limits.maxRecordBytes in the scrub config',
      });
    }
    return -1;
  }
}

/** Index of the first `ch` in `s` at or after `from`, or the length of `s`. */
function indexOrEnd(s: string, ch: string, from: number): number {
  const k = s.indexOf(ch, from);
  return k < 0 ? s.length : k;
}

/** Sampling stops early once this much text is buffered, whatever `sampleRecords` says. */
const SAMPLE_CHARS = 4 << 20;

const PERSON_LEVEL = new Set<EntityType>(['email', 'phone', 'ssn', 'dob', 'address', 'person_name', 'card', 'iban', 'national_id']);

export class CsvScrubber extends TextFormatHandler {
  readonly stats: HandlerStats = newStats();
  private readonly parser: CsvParser;
  private readonly rules: ColumnRules;
  private readonly delimiter: string;
  private sample: CsvRecord[] | undefined = [];
  private sampleChars = 0;
  private header: string[] | undefined;
  private pendingHeader = false;
  private decisions: (ColumnDecision | undefined)[] = [];
  /** Where records are written (set by writeText and end). */
  private sink: ByteSink | undefined;
  private readonly onRecord = (r: CsvRecord): void => this.record(r);

  constructor(
    private readonly config: ScrubConfig,
    private readonly vs: ValueScrubber,
    delimiter: string,
  ) {
    super();
    this.delimiter = delimiter;
    this.parser = new CsvParser(delimiter.charCodeAt(0), config.limits.maxRecordBytes);
    this.rules = new ColumnRules(config.columns);
    // The sample's values are detected for the column decisions and again when written out.
    vs.detector.remember(config.detect.columnsByValue);
  }

  writeText(text: string, sink: ByteSink): void {
    this.sink = sink;
    this.parser.push(text, this.onRecord);
  }

  end(sink: ByteSink): void {
    this.sink = sink;
    this.parser.end(this.onRecord);
    if (this.sample) this.decide();
  }

  private record(r: CsvRecord): void {
    this.stats.records++;
    if (this.sample) {
      this.sample.push(r);
      for (const raw of r.raws) this.sampleChars += raw.length;
      if (this.sample.length > this.config.detect.sampleRecords || this.sampleChars > SAMPLE_CHARS) this.decide();
      return;
    }
    this.emit(r);
  }

  /** Header and column decisions from the sampled records, then writes the sample out. */
  private decide(): void {
    try {
      this.decideAndWriteSample();
    } finally {
      this.vs.detector.remember(false);
    }
  }

  private decideAndWriteSample(): void {
    const sample = this.sample ?? [];
    this.sample = undefined;
    const first = sample[0];
    const headerMode = this.config.csv.header;
    const hasHeader = first !== undefined && (headerMode === 'present' || (headerMode === 'auto' && this.looksLikeHeader(first, sample[1])));
    // A label holding personal data (possible with `header: present`) is named by position instead.
    if (hasHeader) this.header = first.values.map((v, c) => (this.vs.detector.detect(v).length > 0 ? `#${c + 1}` : v.trim()));
    this.pendingHeader = hasHeader;
    const width = sample.reduce((w, r) => Math.max(w, r.values.length), 0);
    const data = hasHeader ? sample.slice(1) : sample;
    for (let c = 0; c < width; c++) {
      const name = this.columnName(c);
      let d = decideByRuleOrName(this.config, this.rules, [name]);
      if (!d && this.header === undefined) d = decideByRuleOrName(this.config, this.rules, [`#${c + 1}`]);
      if (!d && this.config.detect.columnsByValue) {
        const profile = new ColumnProfile();
        for (const r of data) {
          const v = r.values[c];
          if (v === undefined) continue;
          if (isJsonNumber(v)) profile.addNumber();
          else profile.add(v, name, this.vs.detector);
        }
        const type = profile.decide(this.config.detect.columnThreshold);
        if (type) d = { type, op: operatorFor(this.config, type), source: 'values' };
      }
      this.decisions[c] = d;
    }
    this.nameColumnsOfPeople();
    this.decisions.forEach((d, c) => {
      if (d && d.op.operator !== 'keep') this.stats.columns.set(this.columnName(c), d.op.operator === 'drop' ? 'drop' : (d.type ?? 'redacted'));
    });
    for (const r of sample) this.emit(r);
  }

  /** A bare `name` column in a table that also holds emails, phones, ... is a person's name. */
  private nameColumnsOfPeople(): void {
    if (!this.header || !this.config.detect.columnsByName) return;
    const people = this.decisions.some((d) => d?.type !== undefined && PERSON_LEVEL.has(d.type));
    if (!people) return;
    this.header.forEach((h, c) => {
      const n = h.toLowerCase().replace(/[\s_-]+/g, '');
      if (this.decisions[c] === undefined && (n === 'name' || n === 'names')) {
        this.decisions[c] = { type: 'person_name', op: operatorFor(this.config, 'person_name'), source: 'name' };
      }
    });
  }

  private columnName(c: number): string {
    return this.header?.[c] || `#${c + 1}`;
  }

  /**
   * A first record is a header when every field is a short non-numeric label, labels are
   * unique, nothing in it is detected as PII, and either some label names a PII column,
   * every label looks like an identifier, or a column below it holds numbers.
   */
  private looksLikeHeader(first: CsvRecord, second: CsvRecord | undefined): boolean {
    const labels = first.values.map((v) => v.trim());
    if (labels.some((l) => l.length === 0 || l.length > 100 || /^[-+]?[\d.,\s]+$/.test(l))) return false;
    if (new Set(labels.map((l) => l.toLowerCase())).size !== labels.length) return false;
    if (labels.some((l) => this.vs.detector.detect(l).length > 0)) return false;
    if (labels.some((l) => classifyFieldName(l) !== undefined)) return true;
    if (labels.every((l) => /^[A-Za-z_][\w .()#/-]*$/.test(l))) return true;
    return second !== undefined && second.values.some((v) => /^[-+]?[\d.,]+$/.test(v.trim()));
  }

  private emit(r: CsvRecord): void {
    const isHeader = this.pendingHeader;
    this.pendingHeader = false;
    const { values, raws, quoted } = r;
    const header = this.header;
    const decisions = this.decisions;
    let out: string[] | undefined;
    for (let c = 0; c < values.length; c++) {
      const d = decisions[c];
      if (d?.op.operator === 'drop') {
        out ??= raws.slice(0, c);
        continue;
      }
      let v = values[c]!;
      const before = v;
      if (isHeader) v = v.length >= 6 ? this.vs.text(v) : v;
      else if (d) v = this.vs.whole(v, d.type, d.op);
      else if (v.length >= 6 && !isJsonNumber(v)) v = this.vs.text(v, header?.[c]); // a number is data, not text (numbers.ts)
      if (v !== before) {
        out ??= raws.slice(0, c);
        out.push(this.quote(v, quoted?.[c] ?? false));
        continue;
      }
      out?.push(raws[c]!);
    }
    const sink = this.sink!;
    sink.text(out ? out.join(this.delimiter) : (r.text ?? raws.join(this.delimiter)));
    sink.text(r.eol);
  }

  private quote(v: string, wasQuoted: boolean): string {
    if (wasQuoted || v.includes(this.delimiter) || v.includes('"') || v.includes('\n') || v.includes('\r')) {
      return `"${v.replaceAll('"', '""')}"`;
    }
    return v;
  }
}
