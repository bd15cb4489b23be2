/**
 * HMAC-SHA256 (RFC 2104 over FIPS 180-4 SHA-256) for many short messages under one key.
 *
 * node:crypto costs about 4 us per HMAC of a short value, almost all of it per-call
 * overhead, which caps pseudonymization at a few MB/s on PII-dense data. Here the key's
 * inner and outer pad blocks are compressed once; a value up to 55 bytes then costs two
 * compressions and no allocation. The output is checked against node:crypto in the
 * tests for every message length up to several blocks, and for non-ASCII text.
 */

const K = new Int32Array(64);
const IV = new Int32Array(8);

/** First 32 bits of the fractional parts of roots of the first primes (FIPS 180-4, 4.2.2 and 5.3.3). */
function initConstants(): void {
  const primes: number[] = [];
  for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p !== 0)) primes.push(n);
  const frac32 = (x: number): number => ((x - Math.floor(x)) * 0x100000000) | 0;
  primes.forEach((p, i) => {
    K[i] = frac32(Math.cbrt(p));
    if (i < 8) IV[i] = frac32(Math.sqrt(p));
  });
}
initConstants();

const W = new Int32Array(64);

/** One SHA-256 compression of the 64-byte `block` into `state`. */
function compress(state: Int32Array, block: Uint8Array): void {
  for (let t = 0; t < 16; t++) {
    const j = t * 4;
    W[t] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let t = 16; t < 64; t++) {
    const w15 = W[t - 15]!;
    const w2 = W[t - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[t]! + W[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

const encoder = new TextEncoder();

export class HmacSha256 {
  private readonly innerStart = new Int32Array(8);
  private readonly outerStart = new Int32Array(8);
  private readonly state = new Int32Array(8);
  private readonly block = new Uint8Array(64);
  private message = new Uint8Array(256);
  private readonly out = Buffer.alloc(32);

  constructor(key: Uint8Array) {
    if (key.length > 64) throw new RangeError('HmacSha256 keys longer than one block are not used here');
    const pad = new Uint8Array(64);
    pad.set(key);
    for (const [start, byte] of [
      [this.innerStart, 0x36],
      [this.outerStart, 0x5c],
    ] as const) {
      const block = pad.map((x) => x ^ byte);
      start.set(IV);
      compress(start, block);
    }
  }

  /** HMAC of the UTF-8 bytes of `message`. The returned buffer is reused by the next call. */
  digest(message: string): Buffer {
    return this.digestScratch(this.encode(message));
  }

  /**
   * The message buffer, with room for at least `n` bytes: a caller writes a message into
   * it and calls `digestScratch` with its length (no string in between).
   */
  scratch(n: number): Uint8Array {
    if (this.message.length < n) this.message = new Uint8Array(Math.max(n, this.message.length * 2));
    return this.message;
  }

  /** HMAC of the first `len` bytes of the message buffer. The returned buffer is reused by the next call. */
  digestScratch(len: number): Buffer {
    // inner = SHA256((K ^ ipad) || message), continuing from the precomputed pad state
    this.state.set(this.innerStart);
    this.hashTail(this.message, len, 64 + len);
    this.writeState(this.block, 0);
    // outer = SHA256((K ^ opad) || inner): 32 bytes, one padded block
    const block = this.block;
    block.fill(0, 32);
    block[32] = 0x80;
    block[62] = (768 >>> 8) & 0xff;
    block[63] = 768 & 0xff;
    this.state.set(this.outerStart);
    compress(this.state, block);
    this.writeState(this.out, 0);
    return this.out;
  }

  /** Encodes `message` as UTF-8 into the scratch buffer; returns its length in bytes. */
  private encode(message: string): number {
    const n = message.length;
    if (this.message.length < n * 3) this.message = new Uint8Array(n * 3);
    const buf = this.message;
    for (let i = 0; i < n; i++) {
      const c = message.charCodeAt(i);
      if (c >= 0x80) return encoder.encodeInto(message, buf).written;
      buf[i] = c;
    }
    return n;
  }

  /** Hashes `len` bytes of `data` as the end of a message of `total` bytes, with padding. */
  private hashTail(data: Uint8Array, len: number, total: number): void {
    const block = this.block;
    let off = 0;
    while (len - off >= 64) {
      compress(this.state, data.subarray(off, off + 64));
      off += 64;
    }
    const rest = len - off;
    for (let k = 0; k < rest; k++) block[k] = data[off + k]!;
    block[rest] = 0x80;
    if (rest >= 56) {
      block.fill(0, rest + 1);
      compress(this.state, block);
      block.fill(0, 0, 56);
    } else {
      block.fill(0, rest + 1, 56);
    }
    const bits = total * 8;
    const hi = Math.floor(bits / 0x100000000);
    block[56] = (hi >>> 24) & 0xff;
    block[57] = (hi >>> 16) & 0xff;
    block[58] = (hi >>> 8) & 0xff;
    block[59] = hi & 0xff;
    block[60] = (bits >>> 24) & 0xff;
    block[61] = (bits >>> 16) & 0xff;
    block[62] = (bits >>> 8) & 0xff;
    block[63] = bits & 0xff;
    compress(this.state, block);
  }

  private writeState(to: Uint8Array, at: number): void {
    for (let i = 0; i < 8; i++) {
      const v = this.state[i]!;
      to[at + i * 4] = v >>> 24;
      to[at + i * 4 + 1] = (v >>> 16) & 0xff;
      to[at + i * 4 + 2] = (v >>> 8) & 0xff;
      to[at + i * 4 + 3] = v & 0xff;
    }
  }
}
