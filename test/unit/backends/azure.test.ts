/** Azure backend pieces that need no server: listing order, URLs, connections, metadata, errors. */
import { describe, expect, it } from 'vitest';
import { compareKeys } from '../../../src/core/entry.js';
import { AZURITE_KEY, describeAzureConnection, resolveAzureConnection } from '../../../src/backends/azure/client.js';
import { mapAzureError } from '../../../src/backends/azure/errors.js';
import { accessTierOf, parseAzureUrl } from '../../../src/backends/azure/index.js';
import { inByteOrder } from '../../../src/backends/azure/order.js';

async function reorder(keys: string[]): Promise<string[]> {
  async function* src() {
    for (const key of keys) yield { key };
  }
  const out: string[] = [];
  for await (const e of inByteOrder(src())) out.push(e.key);
  return out;
}

const utf16Sort = (keys: string[]): string[] => [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('azure listing order', () => {
  it('turns a UTF-16-ordered listing into byte order where the two differ (U+E000–U+FFFF vs astral)', async () => {
    const keys = ['big🙂', 'bigé', 'big！', 'big\uFFFD', 'big𐀀', 'a/🙂/x', 'a/！/x', 'a/b', 'z'];
    const listed = utf16Sort(keys);
    expect(listed).not.toEqual([...keys].sort(compareKeys)); // the orders really differ here
    expect(await reorder(listed)).toEqual([...keys].sort(compareKeys));
  });

  it('matches compareKeys for random names mixing ASCII, BMP-high and astral characters', async () => {
    const alphabet = ['a', 'b', '/', 'é', '\uE000', '！', '\uFFFD', '🙂', '𐀀', '😀'];
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const set = new Set<string>();
      const n = 1 + rnd(40);
      while (set.size < n) {
        let k = '';
        const len = 1 + rnd(5);
        for (let i = 0; i < len; i++) k += alphabet[rnd(alphabet.length)];
        set.add(k);
      }
      const keys = [...set];
      expect(await reorder(utf16Sort(keys))).toEqual([...keys].sort(compareKeys));
    }
  });

  it('holds nothing back for names without astral characters (streams)', async () => {
    const seen: string[] = [];
    async function* src() {
      for (const key of ['a', 'b', 'c']) {
        yield { key };
        seen.push(key);
      }
    }
    const it = inByteOrder(src())[Symbol.asyncIterator]();
    expect((await it.next()).value?.key).toBe('a');
    expect(seen).toEqual([]); // 'a' came out before the source was asked for 'b'
  });
});

describe('az:// URLs', () => {
  it('parses container and prefix', () => {
    expect(parseAzureUrl('az://data')).toEqual({ container: 'data', prefix: '' });
    expect(parseAzureUrl('az://data/train/shards')).toEqual({ container: 'data', prefix: 'train/shards/' });
    expect(parseAzureUrl('az://my-container/x/')).toEqual({ container: 'my-container', prefix: 'x/' });
  });
  it.each(['az://', 'az:///x', 's3://bucket', 'az:data'])('rejects malformed %s with a ConfigError', (u) => {
    expect(() => parseAzureUrl(u)).toThrow(expect.objectContaining({ kind: 'config', hint: expect.stringContaining('az://container') }));
  });
  it.each(['az://Data', 'az://ab', 'az://a_b_c', 'az://-abc', 'az://abc-', 'az://a--b', `az://${'a'.repeat(64)}`])('rejects invalid container name in %s', (u) => {
    expect(() => parseAzureUrl(u)).toThrow(expect.objectContaining({ kind: 'config', hint: expect.stringContaining('3-63 lowercase') }));
  });
});

describe('azure connections', () => {
  const azurite = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`;

  it('describes a connection string without its secret', () => {
    const d = describeAzureConnection({ connectionString: azurite });
    expect(d).toEqual({ endpoint: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1' });
    expect(JSON.stringify(d)).not.toContain(AZURITE_KEY.slice(0, 10));
  });
  it('builds the public endpoint from account name and suffix', () => {
    expect(describeAzureConnection({ connectionString: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net' })).toEqual({
      endpoint: 'https://acct.blob.core.windows.net',
      account: 'acct',
    });
    expect(describeAzureConnection({ account: 'acct', accountKey: 'c2VjcmV0' }).endpoint).toBe('https://acct.blob.core.windows.net');
    expect(describeAzureConnection({ endpoint: 'https://other.blob.core.windows.net/', sasToken: 'sv=1&sig=x' }).account).toBe('other');
  });
  it('takes the account from a path-style endpoint, and UseDevelopmentStorage', () => {
    expect(describeAzureConnection({ endpoint: 'http://127.0.0.1:10000/devstoreaccount1', accountKey: 'a2V5' }).account).toBe('devstoreaccount1');
    expect(describeAzureConnection({ connectionString: 'UseDevelopmentStorage=true' })).toEqual({ endpoint: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1' });
  });
  it('keeps a SAS from an endpoint URL out of the description', () => {
    const r = resolveAzureConnection({ endpoint: 'https://acct.blob.core.windows.net?sv=2024&sig=SECRETSIG' });
    expect(r.sasToken).toBe('sv=2024&sig=SECRETSIG');
    expect(JSON.stringify(describeAzureConnection({ endpoint: 'https://acct.blob.core.windows.net?sv=2024&sig=SECRETSIG' }))).not.toContain('SECRETSIG');
  });
  it('refuses plain http to a non-loopback host unless allowed', () => {
    expect(() => describeAzureConnection({ endpoint: 'http://storage.example.com/acct', accountKey: 'a2V5' })).toThrow(expect.objectContaining({ kind: 'config', message: expect.stringContaining('plain http') }));
    expect(describeAzureConnection({ endpoint: 'http://storage.example.com/acct', accountKey: 'a2V5', allowInsecureHttp: true }).account).toBe('acct');
  });
  it('a malformed connection string is a ConfigError that does not echo it', () => {
    let err: unknown;
    try {
      describeAzureConnection({ connectionString: 'AccountKey' + AZURITE_KEY.replace(/=/g, '') });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: 'config' });
    expect(String((err as Error).message)).not.toContain(AZURITE_KEY.slice(0, 10));
  });
});

describe('azure metadata', () => {
  it('maps storage classes to access tiers', () => {
    expect(accessTierOf('cool')).toBe('Cool');
    expect(accessTierOf('ARCHIVE')).toBe('Archive');
    expect(() => accessTierOf('GLACIER')).toThrow(expect.objectContaining({ kind: 'config', hint: expect.stringContaining('Hot, Cool, Cold') }));
  });
});

describe('azure error mapping', () => {
  const rest = (statusCode: number | undefined, code: string | undefined, message = '') => Object.assign(new Error(message), { name: 'RestError', statusCode, code });
  it.each([
    [404, 'ContainerNotFound', 'not-found', true],
    [404, 'BlobNotFound', 'not-found', false],
    [403, 'AuthenticationFailed', 'auth', true],
    [403, 'AuthorizationPermissionMismatch', 'permission', false],
    [400, 'Md5Mismatch', 'integrity', false],
    [400, 'InvalidOperation', 'integrity', false, "Provided contentMD5 doesn't match."],
    [412, 'ConditionNotMet', 'source-changed', false],
    [503, 'ServerBusy', 'throttled', false],
    [500, 'InternalError', 'transient', false],
    [undefined, 'ECONNREFUSED', 'unreachable', false],
    [undefined, 'ECONNRESET', 'transient', false],
  ] as Array<[number | undefined, string, string, boolean, string?]>)('HTTP %s %s → %s', (status, code, kind, fatal, message = '') => {
    const e = mapAzureError(rest(status, code, message), 'az://c/k', 'http://127.0.0.1:10000/devstoreaccount1');
    expect(e.kind).toBe(kind);
    expect(e.fatal).toBe(fatal);
  });
  it('reads the error code from x-ms-error-code when a HEAD response had no body', () => {
    const err = Object.assign(rest(404, undefined), { response: { headers: { get: (h: string) => (h === 'x-ms-error-code' ? 'ContainerNotFound' : undefined) } } });
    expect(mapAzureError(err, 'az://c/k', 'e')).toMatchObject({ kind: 'not-found', fatal: true, hint: expect.stringContaining('--create-bucket') });
  });
});
