import { describe, expect, it } from 'vitest';
import { EMPTY_ROOT, MerkleFrontier, merkleRootOf } from '../../../src/governance/audit/merkle.js';

// The leaves and roots of the RFC 6962 reference tests (certificate-transparency).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('RFC 6962 Merkle tree', () => {
  it('the empty tree hashes to SHA-256 of nothing', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new MerkleFrontier().root()).toEqual(EMPTY_ROOT);
  });

  it('matches the reference roots for 1..8 leaves, incrementally and from scratch', () => {
    const f = new MerkleFrontier();
    LEAVES.forEach((leaf, i) => {
      f.push(leaf);
      expect(f.root().toString('hex')).toBe(ROOTS[i]);
      expect(merkleRootOf(LEAVES.slice(0, i + 1)).toString('hex')).toBe(ROOTS[i]);
    });
  });

  it('the frontier agrees with the recursive definition for every size up to 300, and survives a round trip', () => {
    const leaves = Array.from({ length: 300 }, (_, i) => `line ${i}`);
    const f = new MerkleFrontier();
    for (let n = 1; n <= leaves.length; n++) {
      f.push(leaves[n - 1]!);
      if (n % 37 === 0 || n < 20 || (n & (n - 1)) === 0) {
        expect(f.root()).toEqual(merkleRootOf(leaves.slice(0, n)));
        const copy = MerkleFrontier.fromHex(f.size, f.toHex());
        expect(copy.root()).toEqual(f.root());
      }
    }
  });

  it('refuses a frontier whose shape does not fit its size', () => {
    expect(() => MerkleFrontier.fromHex(3, ['00'])).toThrow(RangeError);
  });
});
