/**
 * Azure (and Azurite) list blobs in UTF-16 code-unit order; hybridsync's listings are in
 * UTF-8 byte order (compareKeys, S3's order). The two differ in one case only: at the first
 * position where two names differ, one has a character in U+E000–U+FFFF and the other a
 * character above U+FFFF (a surrogate pair): UTF-16 puts the surrogate first, UTF-8 the
 * BMP character (EE–EF lead byte < F0–F4).
 *
 * inByteOrder() re-orders a UTF-16-ordered stream, streaming: after reading name C, every
 * later name X (X > C in UTF-16) is byte-greater than C unless C has a high surrogate; if
 * C's first high surrogate is at j, X is still byte-greater than C[0..j) + U+E000. Entries
 * byte-below that bound are emitted, the rest are held. Only names containing characters
 * above U+FFFF are ever held, and only while names under the same prefix that sort between
 * them may still come: memory stays flat for ordinary trees.
 */
import { compareKeys } from '../../core/entry.js';

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** The byte-order lower bound on every name that may follow `key` in a UTF-16-ordered listing. */
export function laterNamesFloor(key: string): string {
  for (let i = 0; i < key.length; i++) if (isHighSurrogate(key.charCodeAt(i))) return key.slice(0, i) + '\ue000';
  return key;
}

/** Min-heap on compareKeys of the held items. */
class KeyHeap<T extends { key: string }> {
  private readonly a: T[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): T | undefined {
    return this.a[0];
  }
  push(v: T): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (compareKeys(a[p]!.key, a[i]!.key) <= 0) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && compareKeys(a[l]!.key, a[m]!.key) < 0) m = l;
        if (r < a.length && compareKeys(a[r]!.key, a[m]!.key) < 0) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Re-orders items listed in UTF-16 order of `key` into compareKeys (UTF-8 byte) order. */
export async function* inByteOrder<T extends { key: string }>(utf16Ordered: AsyncIterable<T>): AsyncGenerator<T> {
  const held = new KeyHeap<T>();
  for await (const item of utf16Ordered) {
    held.push(item);
    const floor = laterNamesFloor(item.key);
    const inclusive = floor === item.key; // no surrogate: nothing byte-smaller can follow
    for (let top = held.peek(); top; top = held.peek()) {
      const c = compareKeys(top.key, floor);
      if (c < 0 || (inclusive && c === 0)) yield held.pop()!;
      else break;
    }
  }
  while (held.size > 0) yield held.pop()!;
}
