/**
 * SigV4 and aws-chunked decoding against AWS's published example for
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD (the "chunkObject.txt" PUT of 66560 bytes of 'a' in
 * 64 KiB chunks, documented seed and chunk signatures), and the CRC check values.
 */
import { describe, expect, it } from 'vitest';
import { verifyRequest, type SignedRequest } from '../../../src/gateway/auth/sigv4.js';
import { verifiedBody } from '../../../src/gateway/body.js';
import { createChecksummer } from '../../../src/gateway/checksums.js';
import { S3Error } from '../../../src/gateway/errors.js';

const KEYS = new Map([['AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY']]);
const NOW = Date.UTC(2013, 4, 24, 0, 0, 30);
const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const CHUNK_SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];

function exampleRequest(signature = SEED): SignedRequest {
  return {
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    query: [],
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${signature}`,
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'content-length': '66824',
    },
  };
}

function exampleBody(sigs = CHUNK_SIGS, tamper = false): Buffer[] {
  const a64 = Buffer.alloc(65536, 'a');
  const a1 = Buffer.alloc(1024, 'a');
  if (tamper) a1[10] = 0x62;
  return [
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`),
    a64,
    Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`),
    a1,
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n\r\n`),
  ];
}

async function drain(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe('SigV4 with signed aws-chunked payloads (AWS example)', () => {
  it('accepts the documented seed signature and decodes the chunks, checking each chunk signature', async () => {
    const r = exampleRequest();
    const v = verifyRequest(r, KEYS, 'us-east-1', NOW);
    expect(v.payload).toEqual({ kind: 'chunked', signed: true, trailer: false });
    const body = await drain(verifiedBody((async function* () { yield* exampleBody(); })(), { verified: v, headers: r.headers }));
    expect(body).toEqual(Buffer.alloc(66560, 'a'));
  });

  it('rejects a changed chunk with SignatureDoesNotMatch', async () => {
    const r = exampleRequest();
    const v = verifyRequest(r, KEYS, 'us-east-1', NOW);
    await expect(drain(verifiedBody((async function* () { yield* exampleBody(CHUNK_SIGS, true); })(), { verified: v, headers: r.headers }))).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  it('names the error S3 names: wrong key, wrong region, skewed clock', () => {
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as S3Error).code;
      }
      return 'none';
    };
    expect(code(() => verifyRequest(exampleRequest('0'.repeat(64)), KEYS, 'us-east-1', NOW))).toBe('SignatureDoesNotMatch');
    expect(code(() => verifyRequest(exampleRequest(), KEYS, 'eu-west-1', NOW))).toBe('AuthorizationHeaderMalformed');
    expect(code(() => verifyRequest(exampleRequest(), new Map([['OTHER', 'x']]), 'us-east-1', NOW))).toBe('InvalidAccessKeyId');
    expect(code(() => verifyRequest(exampleRequest(), KEYS, 'us-east-1', NOW + 3600_000))).toBe('RequestTimeTooSkewed');
  });
});

describe('checksums', () => {
  it('match the catalogue check values for "123456789"', () => {
    const hex = (alg: 'crc32' | 'crc32c' | 'crc64nvme'): string => {
      const c = createChecksummer(alg);
      c.update(Buffer.from('1234'));
      c.update(Buffer.from('56789'));
      return Buffer.from(c.digest(), 'base64').toString('hex');
    };
    expect(hex('crc32')).toBe('cbf43926');
    expect(hex('crc32c')).toBe('e3069283');
    expect(hex('crc64nvme')).toBe('ae8b14860a799888');
  });

  it('an unsigned aws-chunked body with a wrong CRC64NVME trailer is refused with BadDigest', async () => {
    const good = createChecksummer('crc64nvme');
    good.update(Buffer.from('hello'));
    const v = { accessKeyId: 'k', payload: { kind: 'chunked', signed: false, trailer: true } as const, seedSignature: '', signingKey: Buffer.alloc(0), amzDate: '', scope: '' };
    const headers = { 'x-amz-trailer': 'x-amz-checksum-crc64nvme', 'x-amz-decoded-content-length': '5' };
    const send = (sum: string) => drain(verifiedBody((async function* () { yield Buffer.from(`5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:${sum}\r\n\r\n`); })(), { verified: v, headers }));
    expect((await send(good.digest())).toString()).toBe('hello');
    await expect(send('AAAAAAAAAAA=')).rejects.toMatchObject({ code: 'BadDigest' });
  });
});
