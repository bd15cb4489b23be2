/**
 * The context-word checks of context.ts, read straight from the text between two
 * offsets, for windows of ASCII characters: no slice, no lower-casing, no regular
 * expression. They give exactly the answers of the regular expressions (the unit tests
 * compare them on random windows); context.ts uses the expressions themselves for a
 * window with any other character, where lower-casing can change letters and length.
 *
 * Words are maximal runs of ASCII letters, compared without case. A phrase is a sequence
 * of words and single separator characters (`ss no`, `d.o.b`, `ss#`).
 */

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c | 0x20 : c;
}

function isLetter(c: number): boolean {
  const l = c | 0x20;
  return l >= 97 && l <= 122;
}

/** One token of a phrase: a word (letters), or one separator character. */
interface Token {
  word: string | undefined;
  sep: number;
}

function tokenize(phrase: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < phrase.length) {
    if (isLetter(phrase.charCodeAt(i))) {
      let j = i;
      while (j < phrase.length && isLetter(phrase.charCodeAt(j))) j++;
      tokens.push({ word: phrase.slice(i, j), sep: -1 });
      i = j;
    } else {
      tokens.push({ word: undefined, sep: phrase.charCodeAt(i) });
      i++;
    }
  }
  return tokens;
}

/** True when text[start, end) is `word` (lower-case ASCII) without regard to case. */
function sameWord(text: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (lower(text.charCodeAt(start + k)) !== word.charCodeAt(k)) return false;
  return true;
}

/** A set of words, looked up by the length and letters of a run of the text. */
class WordSet {
  private readonly byLength: string[][] = [];

  constructor(words: readonly string[]) {
    for (const w of words) (this.byLength[w.length] ??= []).push(w);
  }

  has(text: string, start: number, end: number): boolean {
    const list = this.byLength[end - start];
    if (!list) return false;
    for (const w of list) if (sameWord(text, start, end, w)) return true;
    return false;
  }
}

/**
 * `(?:^|[^a-z])(?:phrase|phrase|...)(?![a-z])` over the lower-cased window
 * text[from, to): some phrase starts at the window start or after a non-letter and is
 * not followed by a letter.
 */
export class PhraseMatcher {
  private readonly byFirstLength: Token[][][] = [];

  constructor(phrases: readonly string[]) {
    for (const p of phrases) {
      const tokens = tokenize(p);
      const first = tokens[0]!;
      if (first.word === undefined) throw new Error(`phrase ${p} must start with a word`);
      (this.byFirstLength[first.word.length] ??= []).push(tokens);
    }
  }

  test(text: string, from: number, to: number): boolean {
    let i = from;
    while (i < to) {
      if (!isLetter(text.charCodeAt(i))) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < to && isLetter(text.charCodeAt(j))) j++;
      const list = this.byFirstLength[j - i];
      if (list) for (const tokens of list) if (this.matchAt(text, i, j, to, tokens)) return true;
      i = j;
    }
    return false;
  }

  /** The phrase from the word text[i, j) on. */
  private matchAt(text: string, i: number, j: number, to: number, tokens: Token[]): boolean {
    if (!sameWord(text, i, j, tokens[0]!.word!)) return false;
    let p = j;
    for (let k = 1; k < tokens.length; k++) {
      const t = tokens[k]!;
      if (t.word === undefined) {
        if (p >= to || text.charCodeAt(p) !== t.sep) return false;
        p++;
      } else {
        let q = p;
        while (q < to && isLetter(text.charCodeAt(q))) q++;
        // Inside a phrase a word is followed by a separator token, so it is a whole run.
        if (!sameWord(text, p, q, t.word)) return false;
        p = q;
      }
    }
    return p >= to || !isLetter(text.charCodeAt(p));
  }
}

/** `\s` of JavaScript regular expressions, for ASCII: tab, LF, VT, FF, CR, space. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Start of the maximal letter run ending at `end` (exclusive), not before `from`. */
function runStart(text: string, from: number, end: number): number {
  let r = end;
  while (r > from && isLetter(text.charCodeAt(r - 1))) r--;
  return r;
}

/**
 * `(?:^|[^a-z])(?:word|...)(?:[ _-]*(?:suffix|...))?[trailing]*$` over the lower-cased
 * window text[from, to): a word at the end of the window, optionally with a suffix glued
 * or joined by spaces, `_` or `-`, then only trailing characters.
 */
export class WordAtEnd {
  private readonly words: WordSet;
  private readonly suffixWords: string[];
  private readonly hashSuffix: boolean;

  constructor(
    words: readonly string[],
    suffixes: readonly string[],
    private readonly trailing: (c: number) => boolean,
  ) {
    this.words = new WordSet(words);
    this.suffixWords = suffixes.filter((s) => s !== '#');
    this.hashSuffix = suffixes.includes('#');
  }

  test(text: string, from: number, to: number): boolean {
    let t = to;
    while (t > from && this.trailing(text.charCodeAt(t - 1))) t--;
    // The word (or its letter suffix) ends right before the trailing characters.
    if (t > from && isLetter(text.charCodeAt(t - 1))) {
      const r = runStart(text, from, t);
      if (this.words.has(text, r, t)) return true;
      for (const s of this.suffixWords) {
        const p = t - s.length;
        if (p < r || !sameWord(text, p, t, s)) continue;
        if (p > r) {
          // Glued: "orderno", "invoiceid".
          if (this.words.has(text, r, p)) return true;
        } else if (this.wordBeforeJoiners(text, from, r)) {
          return true;
        }
      }
    }
    // A `#` suffix lies among the trailing characters: "order #", "ref-#:".
    if (this.hashSuffix) {
      for (let h = t; h < to; h++) if (text.charCodeAt(h) === 35 && this.wordBeforeJoiners(text, from, h)) return true;
    }
    return false;
  }

  /** A word ends at `at`, or before a run of ` `, `_` and `-` that ends at `at`. */
  private wordBeforeJoiners(text: string, from: number, at: number): boolean {
    let v = at;
    while (v > from) {
      const c = text.charCodeAt(v - 1);
      if (c !== 32 && c !== 95 && c !== 45) break;
      v--;
    }
    if (v === from || !isLetter(text.charCodeAt(v - 1))) return false;
    return this.words.has(text, runStart(text, from, v), v);
  }
}

/** ID trailing characters `[\s:#=."'()-]`. */
export function idTrailing(c: number): boolean {
  return isSpace(c) || c === 58 || c === 35 || c === 61 || c === 46 || c === 34 || c === 39 || c === 40 || c === 41 || c === 45;
}

/** Version trailing characters `[\s:=#"'()@-]`. */
export function versionTrailing(c: number): boolean {
  return isSpace(c) || c === 58 || c === 61 || c === 35 || c === 34 || c === 39 || c === 40 || c === 41 || c === 64 || c === 45;
}

/** True when text[from, to) holds only ASCII characters. */
export function asciiOnly(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}
