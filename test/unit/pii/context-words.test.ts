import { describe, expect, it } from 'vitest';
import {
  askWindow,
  BIRTH_WORDS,
  CARD_WORDS,
  ContextQuestion,
  ID_WORDS_BEFORE,
  PHONE_WORDS,
  SSN_WORDS,
  VERSION_WORDS_BEFORE,
} from '../../../src/governance/pii/detect/context.js';
import { detectPii } from '../../../src/governance/pii/index.js';
import { seededRandom as rng } from '../../helpers/rng.js';

/**
 * The context words before a candidate (phone, SSN, birth and card words, identifier and
 * version words at the end of the window) are checked without regular expressions for
 * ASCII windows. These tests hold the fast checks to the regular expressions, which stay
 * the definition, on random windows built from the words themselves, near misses and
 * every separator the expressions treat specially.
 */

const REGEX: Record<ContextQuestion, RegExp> = {
  [ContextQuestion.Phone]: PHONE_WORDS,
  [ContextQuestion.Ssn]: SSN_WORDS,
  [ContextQuestion.Birth]: BIRTH_WORDS,
  [ContextQuestion.Card]: CARD_WORDS,
  [ContextQuestion.Identifier]: ID_WORDS_BEFORE,
  [ContextQuestion.Version]: VERSION_WORDS_BEFORE,
};

function wordsOf(re: RegExp): string[] {
  const alternation = /\(\?:([^()]*)\)/g;
  const out: string[] = [];
  for (const m of re.source.matchAll(alternation)) for (const w of m[1]!.split('|')) out.push(w.replaceAll('\\.', '.'));
  return out.filter((w) => /[a-z]/.test(w));
}

const WORDS = [...new Set(Object.values(REGEX).flatMap(wordsOf))];
const SEPARATORS = [' ', ' ', '  ', '_', '-', '#', ':', '=', '.', '"', "'", '(', ')', '@', '/', ',', '\t', '0', '12', 'x', 'no', 'id', 'nr'];


function randomWindow(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  let s = '';
  const parts = 1 + Math.floor(r() * 6);
  for (let k = 0; k < parts; k++) {
    let w = pick(WORDS);
    const variant = r();
    if (variant < 0.15) w = w.toUpperCase();
    else if (variant < 0.25) w = w[0]!.toUpperCase() + w.slice(1);
    else if (variant < 0.35) w = `x${w}`;
    else if (variant < 0.45) w = `${w}s`;
    else if (variant < 0.5) w = w.slice(0, -1);
    s += w;
    const seps = Math.floor(r() * 3);
    for (let j = 0; j < seps; j++) s += pick(SEPARATORS);
  }
  return s.slice(-40);
}

describe('context words without regular expressions', () => {
  it('answer every question as the regular expression does, on random ASCII windows', () => {
    const r = rng(11);
    const mismatches: string[] = [];
    const yes = new Array(6).fill(0);
    for (let n = 0; n < 40_000; n++) {
      const w = randomWindow(r);
      // The window sits inside a longer text, as before a candidate.
      const text = `zz ${w}5551234`;
      const from = 3;
      const to = from + w.length;
      for (const q of [0, 1, 2, 3, 4, 5] as ContextQuestion[]) {
        const want = REGEX[q].test(w.toLowerCase());
        if (want) yes[q]++;
        if (askWindow(q, text, from, to, true) !== want) mismatches.push(`${q} ${JSON.stringify(w)}: want ${want}`);
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    // Not vacuous: every question is answered yes hundreds of times.
    for (const n of yes) expect(n).toBeGreaterThan(200);
  });

  it('pins the expressions (they are built from word lists)', () => {
    expect(SSN_WORDS.source).toBe('(?:^|[^a-z])(?:ssn|ssns|ss#|ss no|social security|social_security|socsec|soc sec|taxpayer|itin)(?![a-z])');
    expect(BIRTH_WORDS.source).toBe('(?:^|[^a-z])(?:born|birth|birthdate|birthday|bday|dob|d\\.o\\.b|geb|geboren|nacimiento|naissance|nascita)(?![a-z])');
    expect(ID_WORDS_BEFORE.source.endsWith('(?:[ _-]*(?:no|nr|num|number|id|#|code))?[\\s:#=."\'()-]*$')).toBe(true);
  });

  it('decides findings as before, ASCII or not', () => {
    const found = (t: string): string[] => detectPii(t).map((f) => `${f.type}:${t.slice(f.start, f.end)}`);
    expect(found('Order #123-45-6789 shipped')).toEqual([]);
    expect(found('SSN 123 45 6789')).toEqual(['ssn:123 45 6789']);
    expect(found('Ünïcödé SSN 123 45 6789')).toEqual(['ssn:123 45 6789']);
    expect(found('D.O.B. 1980-01-02')).toEqual(['dob:1980-01-02']);
    expect(found('ordernumber: 4111 1111 1111 1111')).toEqual([]);
    expect(found('ÖRDER NR 4111 1111 1111 1111')).toEqual(['card:4111 1111 1111 1111']);
    expect(found('firmware v1.2.3.4 and host 10.0.0.1')).toEqual(['ip:10.0.0.1']);
    expect(found('call me: 415 555 0100')).toEqual(['phone:415 555 0100']);
  });
});
