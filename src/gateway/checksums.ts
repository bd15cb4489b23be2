/**
 * The checksums S3 clients send with a body (x-amz-checksum-* headers and aws-chunked
 * trailers): CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256, each as the big-endian digest in
 * base64. Table-driven CRCs (reflected); CRC64 is kept in two 32-bit halves so no BigInt
 * arithmetic runs per byte.
 */
import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

export interface Checksummer {
  update(data: Buffer): void;
  /** The digest, base64, as S3 writes it. */
  digest(): string;
}

function crc32Table(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
}

const CRC32C = crc32Table(0x82f63b78);

function crc32c(): Checksummer {
  let c = 0xffffffff;
  return {
    update(d) {
      for (let i = 0; i < d.length; i++) c = CRC32C[(c ^ d[i]!) & 0xff]! ^ (c >>> 8);
    },
    digest() {
      const b = Buffer.alloc(4);
      b.writeUInt32BE((c ^ 0xffffffff) >>> 0);
      return b.toString('base64');
    },
  };
}

function crc32(): Checksummer {
  let c = 0;
  return {
    update(d) {
      c = zlibCrc32(d, c);
    },
    digest() {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(c >>> 0);
      return b.toString('base64');
    },
  };
}

// CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones.
const CRC64_LO = new Uint32Array(256);
const CRC64_HI = new Uint32Array(256);
{
  const POLY_LO = 0xac4bc9b5;
  const POLY_HI = 0x9a6c9329;
  for (let i = 0; i < 256; i++) {
    let lo = i;
    let hi = 0;
    for (let k = 0; k < 8; k++) {
      const bit = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (bit) {
        lo = (lo ^ POLY_LO) >>> 0;
        hi = (hi ^ POLY_HI) >>> 0;
      }
    }
    CRC64_LO[i] = lo;
    CRC64_HI[i] = hi;
  }
}

function crc64nvme(): Checksummer {
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  return {
    update(d) {
      for (let i = 0; i < d.length; i++) {
        const idx = (lo ^ d[i]!) & 0xff;
        lo = (((lo >>> 8) | (hi << 24)) ^ CRC64_LO[idx]!) >>> 0;
        hi = ((hi >>> 8) ^ CRC64_HI[idx]!) >>> 0;
      }
    },
    digest() {
      const b = Buffer.alloc(8);
      b.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
      b.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
      return b.toString('base64');
    },
  };
}

function hashing(name: 'sha1' | 'sha256'): Checksummer {
  const h = createHash(name);
  return { update: (d) => void h.update(d), digest: () => h.digest('base64') };
}

export function createChecksummer(alg: ChecksumAlgorithm): Checksummer {
  switch (alg) {
    case 'crc32':
      return crc32();
    case 'crc32c':
      return crc32c();
    case 'crc64nvme':
      return crc64nvme();
    case 'sha1':
    case 'sha256':
      return hashing(alg);
  }
}

/** `x-amz-checksum-crc32` → 'crc32'; undefined for any other header. */
export function checksumAlgorithmOfHeader(header: string): ChecksumAlgorithm | undefined {
  const m = /^x-amz-checksum-([a-z0-9]+)$/.exec(header.toLowerCase());
  const alg = m?.[1] as ChecksumAlgorithm | undefined;
  return alg && CHECKSUM_ALGORITHMS.includes(alg) ? alg : undefined;
}
