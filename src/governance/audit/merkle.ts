/**
 * RFC 6962 (Certificate Transparency) Merkle tree hashing over the audit log's lines:
 * leaf = SHA-256(0x00 || line), node = SHA-256(0x01 || left || right), and the tree over
 * n leaves splits at the largest power of two below n. The log is append-only, so the
 * writer and the verifier keep only the roots of the perfect subtrees the leaves so far
 * form (one per set bit of n, largest first): appending costs O(1) amortized hashes and
 * the root O(log n), and memory never grows with the log.
 */
import { hash } from 'node:crypto';

// One-shot hashing over a reused scratch buffer: half the cost of a Hash object per call,
// which matters at one leaf per record. Safe because hashing is synchronous.
let scratch = Buffer.allocUnsafe(4096);
const pair = Buffer.allocUnsafe(65);

export function leafHash(data: Buffer | string): Buffer {
  const len = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (len + 1 > scratch.length) scratch = Buffer.allocUnsafe(Math.max(len + 1, scratch.length * 2));
  scratch[0] = 0;
  if (typeof data === 'string') scratch.write(data, 1, 'utf8');
  else data.copy(scratch, 1);
  return hash('sha256', scratch.subarray(0, len + 1), 'buffer');
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  pair[0] = 1;
  left.copy(pair, 1);
  right.copy(pair, 33);
  return hash('sha256', pair, 'buffer');
}

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT = hash('sha256', Buffer.alloc(0), 'buffer');

export class MerkleFrontier {
  /** Roots of perfect subtrees, largest first; subtree i has 2^(bit i of size) leaves. */
  private readonly roots: Buffer[];
  private count: number;

  constructor(size = 0, roots: readonly Buffer[] = []) {
    const expected = popcount(size);
    if (roots.length !== expected) throw new RangeError(`a tree of ${size} leaves has ${expected} subtree roots, got ${roots.length}`);
    this.count = size;
    this.roots = [...roots];
  }

  get size(): number {
    return this.count;
  }

  /** Appends a leaf given its leaf hash. */
  pushLeafHash(h: Buffer): void {
    let node = h;
    // merge while the new subtree has the same size as the last one: the number of
    // merges is the number of trailing one bits of the old size
    for (let n = this.count; n & 1; n >>>= 1) node = nodeHash(this.roots.pop()!, node);
    this.roots.push(node);
    this.count++;
  }

  push(line: Buffer | string): void {
    this.pushLeafHash(leafHash(line));
  }

  root(): Buffer {
    if (this.roots.length === 0) return EMPTY_ROOT;
    let acc = this.roots[this.roots.length - 1]!;
    for (let i = this.roots.length - 2; i >= 0; i--) acc = nodeHash(this.roots[i]!, acc);
    return acc;
  }

  /** The subtree roots as hex, for persisting the frontier. */
  toHex(): string[] {
    return this.roots.map((r) => r.toString('hex'));
  }

  static fromHex(size: number, roots: readonly string[]): MerkleFrontier {
    return new MerkleFrontier(size, roots.map((r) => Buffer.from(r, 'hex')));
  }
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}

/** MTH over a whole list of leaves, straight from the RFC's recursive definition (for tests). */
export function merkleRootOf(leaves: ReadonlyArray<Buffer | string>): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leafHash(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(merkleRootOf(leaves.slice(0, k)), merkleRootOf(leaves.slice(k)));
}
