import { detached } from '../cache.js';
import { ColumnProfile, ColumnRules, classifyFieldName, decideByRuleOrName, type ColumnDecision } from '../columns.js';
import { operatorFor, type ScrubConfig } from '../config.js';
import { jsonNumberReplacement } from '../numbers.js';
import type { EntityType } from '../types.js';
import type { ValueScrubber } from '../value-scrubber.js';
import { ByteSink, LineSplitter, newStats, TextFormatHandler, type HandlerStats } from './lines.js';

/**
 * JSON Lines / NDJSON, one line at a time. Each line is walked by a small tokenizer that
 * edits the original text in place instead of re-serializing it, so untouched values keep
 * their exact bytes (big integers, number formats, key order, spacing, escapes).
 *
 * Values are addressed by dotted key path (`user.contact.email`; array indices are not
 * part of the path). A line that is not valid JSON is scrubbed as plain text and counted
 * as malformed.
 */

const MAX_DEPTH = 256;
const MAX_TRACKED_PATHS = 2000;
const SAMPLE_CHARS = 4 << 20;
/** A replacement needs JSON escaping if it holds a quote, a backslash or a control character. */
function needsJsonEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 34 || c === 92) return true;
  }
  return false;
}

class MalformedJson extends Error {}
const MALFORMED = new MalformedJson('malformed JSON');

/** Only whitespace (or nothing): such a line is written back as it is. */
function isBlank(line: string): boolean {
  const c = line.charCodeAt(0);
  // Nearly every line starts with `{`, `[` or a quote.
  if (c === 123 || c === 91 || c === 34) return false;
  return line.trim().length === 0;
}

const PERSON_LEVEL = new Set<EntityType>(['email', 'phone', 'ssn', 'dob', 'address', 'person_name', 'card', 'iban', 'national_id']);

export class JsonlScrubber extends TextFormatHandler {
  readonly stats: HandlerStats = newStats();
  private readonly splitter: LineSplitter;
  private readonly rules: ColumnRules;
  private sample: [string, string][] | undefined = [];
  private sampleChars = 0;
  private readonly valueDecisions = new Map<string, ColumnDecision>();
  private readonly editor: JsonLineEditor;
  /** Where the text path writes (set by writeText and end). */
  private sink: ByteSink | undefined;
  private readonly onLine = (line: string, eol: string): void => this.textLine(line, eol);

  constructor(
    private readonly config: ScrubConfig,
    private readonly vs: ValueScrubber,
  ) {
    super();
    this.splitter = new LineSplitter(config.limits.maxRecordBytes, 'error', this.stats);
    this.rules = new ColumnRules(config.columns);
    // The sample's values are detected for the column decisions and again when written out.
    vs.detector.remember(config.detect.columnsByValue);
    this.editor = new JsonLineEditor(vs, (path) => this.decisionFor(path));
  }

  writeText(text: string, sink: ByteSink): void {
    this.sink = sink;
    this.splitter.push(text, this.onLine);
  }

  end(sink: ByteSink): void {
    this.sink = sink;
    this.splitter.end(this.onLine);
    if (this.sample) this.decide();
  }

  /**
   * One line as bytes. An unchanged line is copied through; a changed line that is all
   * single-byte characters (string offsets are byte offsets) gets its edits spliced into
   * the original bytes; anything else is written from the edited string.
   */
  line(buf: Buffer, start: number, nl: number, sink: ByteSink): void {
    let end = nl;
    let next = nl;
    if (nl < buf.length) {
      next = nl + 1;
      if (nl > start && buf[nl - 1] === 13) end = nl - 1;
    }
    const text = buf.toString(sink.encoding, start, end);
    this.stats.records++;
    if (this.sample) {
      this.sink = sink;
      this.sampleLine(text, next - end === 2 ? '\r\n' : next > end ? '\n' : '');
      return;
    }
    const editor = this.editor;
    let edits: number;
    try {
      edits = isBlank(text) ? 0 : editor.scan(text);
    } catch (e) {
      if (!(e instanceof MalformedJson)) throw e;
      this.stats.malformedRecords++;
      sink.text(this.vs.text(text));
      sink.bytes(buf, end, next);
      return;
    }
    if (edits === 0) sink.bytes(buf, start, next);
    else {
      if (text.length === end - start) editor.splice(sink, buf, start, end);
      else sink.text(editor.apply(text));
      sink.bytes(buf, end, next);
    }
  }

  private textLine(line: string, eol: string): void {
    this.stats.records++;
    if (this.sample) this.sampleLine(line, eol);
    else this.emit(line, eol);
  }

  private sampleLine(line: string, eol: string): void {
    this.sample!.push([line, eol]);
    this.sampleChars += line.length;
    if (this.sample!.length > this.config.detect.sampleRecords || this.sampleChars > SAMPLE_CHARS) this.decide();
  }

  private emit(line: string, eol: string): void {
    let out = line;
    if (!isBlank(line)) {
      try {
        out = this.editor.scan(line) === 0 ? line : this.editor.apply(line);
      } catch (e) {
        if (!(e instanceof MalformedJson)) throw e;
        this.stats.malformedRecords++;
        out = this.vs.text(line);
      }
    }
    const sink = this.sink!;
    sink.text(out);
    sink.text(eol);
  }

  /** Profiles the values under each key path in the sample, then writes the sample out. */
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
    if (this.config.detect.columnsByValue || this.config.detect.columnsByName) {
      const profiles = new Map<string, ColumnProfile | null>();
      const names = new Set<string>();
      for (const [line] of sample) {
        let doc: unknown;
        try {
          doc = JSON.parse(line);
        } catch {
          continue;
        }
        this.profile(doc, [], profiles, names);
      }
      const threshold = this.config.detect.columnThreshold;
      for (const [path, profile] of profiles) {
        if (profile === null) continue; // decided by a rule or its name
        const type = profile.decide(threshold);
        if (type) this.valueDecisions.set(path, { type, op: operatorFor(this.config, type), source: 'values' });
      }
      for (const path of names) {
        if (!this.valueDecisions.has(path) && !decideByRuleOrName(this.config, this.rules, path.split('.'))) {
          this.valueDecisions.set(path, { type: 'person_name', op: operatorFor(this.config, 'person_name'), source: 'name' });
        }
      }
    }
    this.editor.forgetDecisions();
    for (const [line, eol] of sample) this.emit(line, eol);
  }

  private profile(node: unknown, path: string[], profiles: Map<string, ColumnProfile | null>, names: Set<string>): void {
    if (Array.isArray(node)) {
      for (const item of node) this.profile(item, path, profiles, names);
      return;
    }
    if (node !== null && typeof node === 'object') {
      const keys = Object.keys(node);
      // A bare `name` next to an email or phone key is a person's name.
      if (this.config.detect.columnsByName && keys.includes('name')) {
        const people = keys.some((k) => {
          const t = classifyFieldName(k);
          return t !== undefined && PERSON_LEVEL.has(t);
        });
        if (people && names.size < MAX_TRACKED_PATHS) names.add([...path, 'name'].join('.'));
      }
      // One path array for the whole walk: a segment is pushed for each member and popped after it.
      for (const k of keys) {
        path.push(k.length < 6 || this.vs.detector.detect(k).length === 0 ? k : '*');
        this.profile((node as Record<string, unknown>)[k], path, profiles, names);
        path.pop();
      }
      return;
    }
    if ((typeof node === 'string' || typeof node === 'number') && path.length > 0 && this.config.detect.columnsByValue) {
      // Top-level keys (most of them) are their own path: no string joined per value.
      const key = path.length === 1 ? path[0]! : path.join('.');
      let p = profiles.get(key);
      if (p === undefined) {
        if (profiles.size >= MAX_TRACKED_PATHS) return;
        // A path a rule or its name decides is not profiled: its values would not be looked at.
        p = decideByRuleOrName(this.config, this.rules, key.split('.')) ? null : new ColumnProfile();
        profiles.set(key, p);
      }
      if (p === null) return;
      // A number is counted as a value but is never evidence of PII (numbers.ts).
      if (typeof node === 'number') p.addNumber();
      else p.add(node, path[path.length - 1]!, this.vs.detector);
    }
  }

  /** Uncached: the editor memoises per path in its trie. */
  private decisionFor(path: readonly string[]): ColumnDecision | undefined {
    const key = path.join('.');
    const d = decideByRuleOrName(this.config, this.rules, path) ?? this.valueDecisions.get(key);
    if (d && d.op.operator !== 'keep' && this.stats.columns.size < MAX_TRACKED_PATHS) {
      this.stats.columns.set(key, d.op.operator === 'drop' ? 'drop' : (d.type ?? 'redacted'));
    }
    return d;
  }
}

/** One key path's memoised column decision (`null`: none) and its child keys. */
interface PathNode {
  /** The last key of the path (as read: unescaped, never scrubbed). */
  key: string;
  decision: ColumnDecision | null | undefined;
  children: Map<string, PathNode> | undefined;
  /**
   * The child met at each member position of this object the last time it was read.
   * Records of a log repeat their keys in the same order, so the key at a position is
   * first compared in place with this guess: when it matches, the key is neither cut out
   * of the line nor hashed for the lookups. Only keys written without escapes are guessed
   * (their text is their value, and holds no quote).
   */
  order: (PathNode | undefined)[] | undefined;
}

const MAX_PATH_NODES = 20_000;
/** Member positions per object whose keys are guessed (see PathNode.order). */
const MAX_GUESSED_MEMBERS = 64;

function newPathNode(key: string): PathNode {
  return { key, decision: undefined, children: undefined, order: undefined };
}

/**
 * Walks one JSON text and records edits (start, end, replacement) in document order,
 * then splices them into the original string. Column decisions are memoised in a trie
 * of key paths (bounded; paths beyond the bound are decided afresh each time).
 */
class JsonLineEditor {
  private s = '';
  private i = 0;
  private readonly path: string[] = [];
  private readonly nodes: (PathNode | undefined)[] = [];
  private root: PathNode = { key: '', decision: null, children: undefined, order: undefined };
  private nodeCount = 0;
  /** Keys already seen to hold no personal data (keys repeat on every line). */
  private readonly cleanKeys = new Set<string>();
  private readonly editStart: number[] = [];
  private readonly editEnd: number[] = [];
  private readonly editText: string[] = [];
  /** Findings of a string value, reported by the value scrubber at their place in the line. */
  private readonly onFinding = (start: number, end: number, text: string): void => this.edit(start, end, text);

  constructor(
    private readonly vs: ValueScrubber,
    private readonly decisionFor: (path: readonly string[]) => ColumnDecision | undefined,
  ) {}

  forgetDecisions(): void {
    this.root = { key: '', decision: null, children: undefined, order: undefined };
    this.nodeCount = 0;
  }

  /** The decision for `this.path` after `key` was pushed, memoised under the parent's node. */
  private lookup(key: string): ColumnDecision | undefined {
    const parent = this.nodes[this.nodes.length - 1];
    let node = parent?.children?.get(key);
    if (!node && parent && this.nodeCount < MAX_PATH_NODES) {
      node = newPathNode(detached(key));
      (parent.children ??= new Map()).set(node.key, node);
      this.nodeCount++;
    }
    if (!node) {
      this.nodes.push(node);
      return this.decisionFor(this.path);
    }
    return this.enter(node);
  }

  /** The decision for `this.path`, whose node is `node` (pushed onto the node stack). */
  private enter(node: PathNode): ColumnDecision | undefined {
    this.nodes.push(node);
    if (node.decision === undefined) node.decision = this.decisionFor(this.path) ?? null;
    return node.decision ?? undefined;
  }

  /**
   * Walks `line` and records its edits (start, end, replacement) in document order;
   * returns how many. Throws MALFORMED when the line is not one JSON value.
   */
  scan(line: string): number {
    this.s = line;
    this.i = 0;
    this.path.length = 0;
    this.nodes.length = 0;
    this.nodes.push(this.root);
    this.editStart.length = 0;
    this.editEnd.length = 0;
    this.editText.length = 0;
    this.ws();
    this.value(undefined, undefined, 0);
    this.ws();
    if (this.i !== line.length) throw MALFORMED;
    return this.editStart.length;
  }

  /** `line` (the one just scanned) with its edits applied. */
  apply(line: string): string {
    const parts: string[] = [];
    let last = 0;
    for (let k = 0; k < this.editStart.length; k++) {
      parts.push(line.slice(last, this.editStart[k]), this.editText[k]!);
      last = this.editEnd[k]!;
    }
    parts.push(line.slice(last));
    return parts.join('');
  }

  /**
   * Writes the line just scanned to `sink` from its bytes [start, end) with the edits
   * spliced in. Only for a line whose characters are one byte each (string offsets are
   * byte offsets).
   */
  splice(sink: ByteSink, buf: Buffer, start: number, end: number): void {
    let last = 0;
    for (let k = 0; k < this.editStart.length; k++) {
      sink.bytes(buf, start + last, start + this.editStart[k]!);
      sink.text(this.editText[k]!);
      last = this.editEnd[k]!;
    }
    sink.bytes(buf, start + last, end);
  }

  private edit(start: number, end: number, text: string): void {
    this.editStart.push(start);
    this.editEnd.push(end);
    this.editText.push(text);
  }

  private ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = s.charCodeAt(++this.i);
  }

  private value(key: string | undefined, whole: ColumnDecision | undefined, depth: number): void {
    if (depth > MAX_DEPTH) throw MALFORMED;
    const c = this.s.charCodeAt(this.i);
    if (c === 123) this.object(whole, depth);
    else if (c === 91) this.array(key, whole, depth);
    else if (c === 34) this.string(key, whole);
    else if (c === 116) this.literal('true');
    else if (c === 102) this.literal('false');
    else if (c === 110) this.literal('null');
    else if (c === 45 || (c >= 48 && c <= 57)) this.number(whole);
    else throw MALFORMED;
  }

  private object(whole: ColumnDecision | undefined, depth: number): void {
    const s = this.s;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) === 125) {
      this.i++;
      return;
    }
    let keptBefore = false;
    let commaAt = -1;
    const parent = whole ? undefined : this.nodes[this.nodes.length - 1];
    let member = 0;
    while (true) {
      this.ws();
      if (s.charCodeAt(this.i) !== 34) throw MALFORMED;
      const memberStart = this.i;
      const guess = parent?.order?.[member];
      let key: string;
      let keyEdit: string | undefined;
      let d: ColumnDecision | undefined;
      if (guess !== undefined && s.charCodeAt(this.i + 1 + guess.key.length) === 34 && s.startsWith(guess.key, this.i + 1)) {
        // The same key as at this position last time (see PathNode.order).
        key = guess.key;
        this.i += key.length + 2;
        this.expectColon();
        this.path.push(key);
        d = this.enter(guess);
      } else {
        const plain = this.key();
        key = this.keyRead;
        keyEdit = this.keyEdit;
        this.expectColon();
        this.path.push(key);
        d = whole ?? this.lookup(key);
        if (parent && plain && keyEdit === undefined && member < MAX_GUESSED_MEMBERS) {
          const child = this.nodes[this.nodes.length - 1];
          if (child) (parent.order ??= [])[member] = child;
        }
      }
      member++;
      if (d?.op.operator === 'drop') {
        this.skipValue();
        const valueEnd = this.i;
        if (keptBefore) {
          this.edit(commaAt, valueEnd, '');
        } else {
          this.ws();
          this.edit(memberStart, s.charCodeAt(this.i) === 44 ? this.i + 1 : valueEnd, '');
        }
      } else {
        if (keyEdit !== undefined) this.edit(memberStart, this.keyEnd, keyEdit);
        this.value(key, d, depth + 1);
        keptBefore = true;
      }
      this.path.pop();
      if (!whole) this.nodes.pop();
      this.ws();
      const c = s.charCodeAt(this.i);
      if (c === 44) {
        commaAt = this.i++;
        continue;
      }
      if (c === 125) {
        this.i++;
        return;
      }
      throw MALFORMED;
    }
  }

  private array(key: string | undefined, whole: ColumnDecision | undefined, depth: number): void {
    const s = this.s;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) === 93) {
      this.i++;
      return;
    }
    while (true) {
      this.ws();
      this.value(key, whole, depth + 1);
      this.ws();
      const c = s.charCodeAt(this.i);
      if (c === 44) {
        this.i++;
        continue;
      }
      if (c === 93) {
        this.i++;
        return;
      }
      throw MALFORMED;
    }
  }

  /** Index of the quote closing the string that opens at `start`. Linear: each backslash run is counted once. */
  private stringEnd(start: number): number {
    const s = this.s;
    let q = start;
    while (true) {
      q = s.indexOf('"', q + 1);
      if (q < 0) throw MALFORMED;
      let k = q - 1;
      while (s.charCodeAt(k) === 92) k--;
      if ((q - 1 - k) % 2 === 0) return q;
    }
  }

  /** The key read by `key()`. */
  private keyRead = '';
  /** The replacement of the key read by `key()` (quotes included), when it holds personal data. */
  private keyEdit: string | undefined;
  /** Index after the closing quote of the key read by `key()`. */
  private keyEnd = 0;

  /**
   * Reads a key into keyRead, keyEdit and keyEnd; returns whether it was written without
   * escapes. Keys can hold personal data too (`{"jane@example.com": 3}`): such a key is
   * scrubbed like text, and its path segment becomes `*` (so neither the column decisions
   * nor the report see it). The edit is applied by the caller unless the member is dropped.
   */
  private key(): boolean {
    const start = this.i;
    const end = this.stringEnd(start);
    this.i = end + 1;
    this.keyEnd = end + 1;
    this.keyEdit = undefined;
    const raw = this.s.slice(start + 1, end);
    const plain = !raw.includes('\\');
    const key = plain ? raw : decodeJsonString(this.s.slice(start, end + 1));
    this.keyRead = key;
    if (key.length < 6 || this.cleanKeys.has(key)) return plain;
    const scrubbed = this.vs.text(key);
    if (scrubbed === key) {
      if (this.cleanKeys.size < MAX_PATH_NODES) this.cleanKeys.add(detached(key));
      return plain;
    }
    this.keyRead = '*';
    this.keyEdit = JSON.stringify(scrubbed);
    return plain;
  }

  private expectColon(): void {
    this.ws();
    if (this.s.charCodeAt(this.i) !== 58) throw MALFORMED;
    this.i++;
    this.ws();
  }

  private string(key: string | undefined, whole: ColumnDecision | undefined): void {
    const start = this.i;
    const end = this.stringEnd(start);
    this.i = end + 1;
    const raw = this.s.slice(start + 1, end);
    const escaped = raw.includes('\\');
    const value = escaped ? decodeJsonString(this.s.slice(start, end + 1)) : raw;
    if (!whole && !escaped) {
      // Each finding becomes an edit of its own at its place in the line (no new value string),
      // unless a replacement would need JSON escaping.
      if (value.length < 6) return;
      const before = this.editStart.length;
      if (this.vs.replaceEach(value, key, start + 1, this.onFinding) === 0) return;
      let plain = true;
      for (let k = before; k < this.editText.length && plain; k++) plain = !needsJsonEscape(this.editText[k]!);
      if (plain) return;
      // A replacement needs escaping: the value is rebuilt from these edits and written as a JSON string.
      const parts: string[] = [];
      let last = 0;
      for (let k = before; k < this.editText.length; k++) {
        parts.push(value.slice(last, this.editStart[k]! - start - 1), this.editText[k]!);
        last = this.editEnd[k]! - start - 1;
      }
      parts.push(value.slice(last));
      this.editStart.length = this.editEnd.length = this.editText.length = before;
      this.edit(start, end + 1, JSON.stringify(parts.join('')));
      return;
    }
    const out = whole ? this.vs.whole(value, whole.type, whole.op) : value.length < 6 ? value : this.vs.text(value, key);
    if (out === value) return;
    if (!escaped && !needsJsonEscape(out)) this.edit(start + 1, end, out);
    else this.edit(start, end + 1, JSON.stringify(out));
  }

  private number(whole: ColumnDecision | undefined): void {
    const s = this.s;
    const start = this.i;
    let c = s.charCodeAt(this.i);
    while (c === 45 || c === 43 || c === 46 || c === 69 || c === 101 || (c >= 48 && c <= 57)) c = s.charCodeAt(++this.i);
    // A number is data, never free text (numbers.ts): only a PII key replaces it, and the
    // replacement stays a JSON number or becomes null, so the field keeps its type.
    if (!whole) return;
    const text = s.slice(start, this.i);
    const out = this.vs.whole(text, whole.type, whole.op);
    if (out !== text) this.edit(start, this.i, jsonNumberReplacement(out));
  }

  private literal(word: string): void {
    if (!this.s.startsWith(word, this.i)) throw MALFORMED;
    this.i += word.length;
  }

  /** Moves past one value without looking inside it (a dropped field). */
  private skipValue(): void {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (c === 34) {
      this.i = this.stringEnd(this.i) + 1;
      return;
    }
    if (c !== 123 && c !== 91) {
      let d = c;
      while (this.i < s.length && d !== 44 && d !== 125 && d !== 93 && d !== 32 && d !== 9 && d !== 13 && d !== 10) d = s.charCodeAt(++this.i);
      return;
    }
    let depth = 0;
    while (this.i < s.length) {
      const ch = s.charCodeAt(this.i);
      if (ch === 34) {
        this.i = this.stringEnd(this.i) + 1;
        continue;
      }
      if (ch === 123 || ch === 91) depth++;
      else if (ch === 125 || ch === 93) {
        depth--;
        if (depth === 0) {
          this.i++;
          return;
        }
      }
      this.i++;
    }
    throw MALFORMED;
  }
}

function decodeJsonString(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    throw MALFORMED;
  }
}
