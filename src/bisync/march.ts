/**
 * The three-way march: path1's listing, path2's listing and the merge base's rows, all in
 * key order, merged in lock step (the one-way march of src/sync/march.ts with a third
 * input). Holds one item per input: memory is flat in the number of files.
 */
import { compareKeys, type Entry } from '../core/entry.js';
import { ordered } from '../sync/march.js';
import type { BaseRow, Triple } from './plan.js';

async function* asEntries(rows: AsyncIterable<BaseRow> | Iterable<BaseRow>): AsyncGenerator<{ key: string; row: BaseRow }> {
  for await (const row of rows) yield { key: row.key, row };
}

export async function* march3(l1: AsyncIterable<Entry>, l2: AsyncIterable<Entry>, base: AsyncIterable<BaseRow> | Iterable<BaseRow>): AsyncGenerator<Triple> {
  const a = ordered(l1, 'path1')[Symbol.asyncIterator]();
  const b = ordered(l2, 'path2')[Symbol.asyncIterator]();
  const c = ordered(asEntries(base), 'merge base')[Symbol.asyncIterator]();
  try {
    let [ra, rb, rc] = await Promise.all([a.next(), b.next(), c.next()]);
    while (!ra.done || !rb.done || !rc.done) {
      let key: string | undefined;
      for (const r of [ra, rb, rc]) if (!r.done && (key === undefined || compareKeys(r.value.key, key) < 0)) key = r.value.key;
      const k = key!;
      const t: { key: string; e1?: Entry; e2?: Entry; base?: BaseRow } = { key: k };
      const next: Array<Promise<void>> = [];
      if (!ra.done && ra.value.key === k) {
        t.e1 = ra.value;
        next.push(a.next().then((r) => void (ra = r)));
      }
      if (!rb.done && rb.value.key === k) {
        t.e2 = rb.value;
        next.push(b.next().then((r) => void (rb = r)));
      }
      if (!rc.done && rc.value.key === k) {
        t.base = rc.value.row;
        next.push(c.next().then((r) => void (rc = r)));
      }
      // the next items are fetched while the consumer works on this one; a consumer that
      // stops early must not leave their failure unhandled
      const fetched = Promise.all(next);
      fetched.catch(() => undefined);
      yield t;
      await fetched;
    }
  } finally {
    await Promise.allSettled([a.return?.(undefined), b.return?.(undefined), c.return?.(undefined)]);
  }
}
