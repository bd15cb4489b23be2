/**
 * Canonical JSON: object keys sorted (by UTF-16 code unit, as RFC 8785) at every level, no whitespace, strings
 * and numbers as JSON.stringify writes them, `undefined` members left out. Two documents
 * that are equal as data have the same bytes, so a hash or signature over the bytes is a
 * hash or signature over the data (the JCS idea, RFC 8785, for the integer-and-string
 * documents hybridsync writes).
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue | undefined };

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no form for ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${(value as readonly JsonValue[]).map(canonicalJson).join(',')}]`;
  const obj = value as { readonly [k: string]: JsonValue | undefined };
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k]!)}`).join(',')}}`;
}
