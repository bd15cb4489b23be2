/**
 * Lock-step merge of two sorted listings (rclone's march): yields each key once with the
 * source and/or destination entry. Holds one entry per side, so memory is flat in the
 * number of files. A listing out of order would make the merge call files missing that
 * exist (and a sync delete them), so order is checked and a violation stops the run.
 */
import { compareKeys, type Entry } from '../core/entry.js';
import { InternalError } from '../core/errors.js';

export interface MarchPair {
  readonly key: string;
  readonly src?: Entry;
  readonly dst?: Entry;
}

/** Passes items through in order, stopping the run at one out of order. */
export async function* ordered<T extends { readonly key: string }>(it: AsyncIterable<T>, side: string): AsyncGenerator<T> {
  let prev: string | undefined;
  for await (const e of it) {
    if (prev !== undefined && compareKeys(prev, e.key) >= 0) {
      throw new InternalError(`${side} listing is not sorted: "${e.key}" came after "${prev}"; refusing to continue`);
    }
    prev = e.key;
    yield e;
  }
}

export async function* march(src: AsyncIterable<Entry>, dst: AsyncIterable<Entry>): AsyncGenerator<MarchPair> {
  const a = ordered(src, 'source')[Symbol.asyncIterator]();
  const b = ordered(dst, 'destination')[Symbol.asyncIterator]();
  try {
    let [ra, rb] = await Promise.all([a.next(), b.next()]);
    while (!ra.done || !rb.done) {
      if (rb.done || (!ra.done && compareKeys(ra.value.key, rb.value.key) < 0)) {
        const s = ra.value as Entry;
        yield { key: s.key, src: s };
        ra = await a.next();
      } else if (ra.done || compareKeys(ra.value.key, rb.value.key) > 0) {
        yield { key: rb.value.key, dst: rb.value };
        rb = await b.next();
      } else {
        yield { key: ra.value.key, src: ra.value, dst: rb.value };
        [ra, rb] = await Promise.all([a.next(), b.next()]);
      }
    }
  } finally {
    await Promise.allSettled([a.return?.(undefined), b.return?.(undefined)]);
  }
}
