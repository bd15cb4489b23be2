/**
 * The rules of copies through the gateway (CopyObject, UploadPartCopy): the copy-source
 * range and the x-amz-copy-source-if-* conditions, as S3 documents them. aws-cli copying a
 * large object through the gateway is in test/int/gateway.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { copyPreconditions, copyRange } from '../../../src/gateway/server.js';

describe('x-amz-copy-source-range', () => {
  it('is inclusive, zero-based; the whole object without one', () => {
    expect(copyRange(undefined, 100)).toEqual([0, 100]);
    expect(copyRange('bytes=0-9', 100)).toEqual([0, 10]);
    expect(copyRange('bytes=90-99', 100)).toEqual([90, 100]);
  });
  it('refuses open, suffix, reversed and out-of-object ranges with S3 codes', () => {
    expect(() => copyRange('bytes=5-', 100)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => copyRange('bytes=-5', 100)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => copyRange('bytes=9-3', 100)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => copyRange('bytes=50-100', 100)).toThrow(expect.objectContaining({ code: 'InvalidRange', status: 416 }));
  });
});

describe('x-amz-copy-source-if-*', () => {
  const e = { etag: 'abc', mtimeMs: Date.parse('2026-01-10T00:00:00Z') + 400 };
  const ok = (h: Record<string, string>): boolean => {
    try {
      copyPreconditions(h, e);
      return true;
    } catch (err) {
      expect(err).toMatchObject({ code: 'PreconditionFailed', status: 412 });
      return false;
    }
  };
  it('if-match / if-none-match compare the ETag, quoted or not, lists and *', () => {
    expect(ok({ 'x-amz-copy-source-if-match': '"abc"' })).toBe(true);
    expect(ok({ 'x-amz-copy-source-if-match': '"x", "abc"' })).toBe(true);
    expect(ok({ 'x-amz-copy-source-if-match': '"other"' })).toBe(false);
    expect(ok({ 'x-amz-copy-source-if-none-match': 'abc' })).toBe(false);
    expect(ok({ 'x-amz-copy-source-if-none-match': '*' })).toBe(false);
    expect(ok({ 'x-amz-copy-source-if-none-match': '"other"' })).toBe(true);
  });
  it('dates at second resolution; a matching if-match overrides if-unmodified-since, a failing if-none-match wins over if-modified-since', () => {
    expect(ok({ 'x-amz-copy-source-if-modified-since': 'Sat, 10 Jan 2026 00:00:00 GMT' })).toBe(false);
    expect(ok({ 'x-amz-copy-source-if-modified-since': 'Fri, 09 Jan 2026 00:00:00 GMT' })).toBe(true);
    expect(ok({ 'x-amz-copy-source-if-unmodified-since': 'Sat, 10 Jan 2026 00:00:00 GMT' })).toBe(true);
    expect(ok({ 'x-amz-copy-source-if-unmodified-since': 'Fri, 09 Jan 2026 00:00:00 GMT' })).toBe(false);
    expect(ok({ 'x-amz-copy-source-if-match': 'abc', 'x-amz-copy-source-if-unmodified-since': 'Fri, 09 Jan 2026 00:00:00 GMT' })).toBe(true);
    expect(ok({ 'x-amz-copy-source-if-none-match': 'abc', 'x-amz-copy-source-if-modified-since': 'Fri, 09 Jan 2026 00:00:00 GMT' })).toBe(false);
  });
});
