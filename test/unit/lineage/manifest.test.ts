/**
 * Manifests are canonical JSON whose digest and signature cover the data, not its
 * formatting: a re-ordered or re-indented copy still verifies, any edited value does not,
 * and a manifest signed with another key is named as such.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyIdOf, type Signer } from '../../../src/governance/audit/signing.js';
import { canonicalJson } from '../../../src/lib/canonical-json.js';
import {
  datasetId,
  parseDatasetId,
  parseManifest,
  parseModelKey,
  parseModelVersion,
  signatureProblem,
  signManifest,
  type DatasetManifest,
} from '../../../src/lineage/manifest.js';

function signer(): Signer & { publicKey: ReturnType<typeof generateKeyPairSync>['publicKey'] } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyId: keyIdOf(publicKey), publicKeyPem: '', publicKey, sign: (m) => sign(null, m, privateKey).toString('base64') };
}

const body: DatasetManifest = {
  format: 'hybridsync-manifest/v1',
  kind: 'dataset',
  name: 'imagenet',
  created: '2026-01-02T03:04:05.000Z',
  createdBy: { user: 'ml', host: 'dc1' },
  location: { spec: 'onprem:training/v3', id: 'https://ceph.dc1/training/v3/' },
  totals: { files: 2, bytes: 30 },
  files: [
    { path: 'a.bin', size: 10, md5: '0'.repeat(32), etag: 'e1' },
    { path: 'b/c.bin', size: 20, md5: 'f'.repeat(32), etag: 'abc-2' },
  ],
};

describe('canonical JSON', () => {
  it('sorts keys at every level and drops undefined members, so equal data has equal bytes', () => {
    expect(canonicalJson({ b: 1, a: [{ z: 'x', y: null }], c: undefined })).toBe('{"a":[{"y":null,"z":"x"}],"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/no form/);
  });
});

describe('signed manifests', () => {
  const s = signer();
  const { text, digest } = signManifest(body, s);

  it('round-trip: the stored text parses back to the same body, digest and a valid signature', () => {
    const m = parseManifest(text);
    expect(m.body).toEqual(body);
    expect(m.digest).toBe(digest);
    expect(signatureProblem(m, s.publicKey)).toBeUndefined();
    expect(datasetId('imagenet', digest)).toBe(`ds-imagenet-${digest.slice(0, 16)}`);
  });

  it('formatting is not content: pretty-printed with other key order, it still verifies', () => {
    const doc = JSON.parse(text) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(doc).reverse());
    const m = parseManifest(JSON.stringify(reordered, null, 2));
    expect(m.digest).toBe(digest);
    expect(signatureProblem(m, s.publicKey)).toBeUndefined();
  });

  it('one edited value (a size, an md5, a path) changes the digest and breaks the signature', () => {
    for (const edit of [(d: DatasetManifest) => (d.files[0] as { size: number }).size++, (d: DatasetManifest) => ((d.files[1] as { md5: string }).md5 = 'e'.repeat(32)), (d: DatasetManifest) => ((d.files[0] as { path: string }).path = 'x.bin')]) {
      const doc = JSON.parse(text) as DatasetManifest;
      edit(doc);
      const m = parseManifest(JSON.stringify(doc));
      expect(m.digest).not.toBe(digest);
      expect(signatureProblem(m, s.publicKey)).toMatch(/does not verify/);
    }
  });

  it('another key, a missing signature, broken JSON and a foreign document are each named', () => {
    const other = signer();
    expect(signatureProblem(parseManifest(text), other.publicKey)).toMatch(/not with the trusted key/);
    const { signature: _sig, ...unsigned } = JSON.parse(text) as Record<string, unknown>;
    expect(signatureProblem(parseManifest(JSON.stringify(unsigned)), s.publicKey)).toMatch(/not signed/);
    expect(() => parseManifest(text.slice(0, 40))).toThrow(/not valid JSON/);
    expect(() => parseManifest('{"format":"something-else"}')).toThrow(/not a hybridsync manifest: format/);
    expect(() => parseManifest(text.replace('"name":"imagenet"', '"name":"imagenet","extra":1'))).toThrow(/not a hybridsync manifest/);
  });
});

describe('ids and references', () => {
  it('snapshot ids, model keys and model versions parse back; bad forms are refused with the form to use', () => {
    expect(parseDatasetId('ds-image-net-0123456789abcdef')).toEqual({ name: 'image-net', hash: '0123456789abcdef' });
    expect(parseDatasetId('imagenet')).toBeUndefined();
    expect(parseModelKey('.hybridsync/manifests/model-resnet-v12.json')).toEqual({ model: 'resnet', version: 12 });
    expect(parseModelKey('.hybridsync/manifests/ds-x-0123456789abcdef.json')).toBeUndefined();
    expect(parseModelVersion('resnet@3')).toEqual({ model: 'resnet', version: 3 });
    expect(() => parseModelVersion('resnet')).toThrow(/not a model version/);
    expect(() => parseModelVersion('resnet@0')).toThrow(/not a model version/);
  });
});
