/**
 * Numbers are data, not text. A JSON number, or a CSV cell shaped exactly like one
 * (`-1.5e-7`, `4155550123`; not `+49…`, `0049…` or ` 42`, which stay text), is never
 * scanned as free text and never counts as evidence when a column is profiled: metrics,
 * counters and ids keep their bytes exactly (`1.50` stays `1.50`). Such a value is
 * replaced only under a key or column already decided to be PII (a rule, its name, or
 * its sampled text values); JSON then gets `null` unless the operator's output is itself
 * a JSON number (`generalize`), so the document stays valid and the field typed.
 */

/** True when `s` is exactly a JSON number (RFC 8259 grammar, nothing around it). */
export function isJsonNumber(s: string): boolean {
  const n = s.length;
  let i = 0;
  if (s.charCodeAt(i) === 45) i++;
  if (i >= n) return false;
  if (s.charCodeAt(i) === 48) i++;
  else if (isDigit(s.charCodeAt(i))) i = digitsFrom(s, i);
  else return false;
  if (s.charCodeAt(i) === 46) {
    const j = digitsFrom(s, i + 1);
    if (j === i + 1) return false;
    i = j;
  }
  const e = s.charCodeAt(i);
  if (e === 101 || e === 69) {
    i++;
    const sign = s.charCodeAt(i);
    if (sign === 43 || sign === 45) i++;
    const j = digitsFrom(s, i);
    if (j === i) return false;
    i = j;
  }
  return i === n;
}

/** What replaces a JSON number under a PII key: the operator's output if it is a JSON number, else `null`. */
export function jsonNumberReplacement(scrubbed: string): string {
  return isJsonNumber(scrubbed) ? scrubbed : 'null';
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function digitsFrom(s: string, start: number): number {
  let i = start;
  while (isDigit(s.charCodeAt(i))) i++;
  return i;
}
