/**
 * The Azure Blob backend against Azurite (started by scripts/services/start-azurite.sh):
 * server-side checksum verification (a proxy corrupts bodies in transit), typed errors with
 * hints and no secrets, access tiers, rclone-compatible metadata, listings that carry MD5
 * and mtime, SAS auth, TLS 1.3, and `rclone check` agreeing with what we wrote.
 */
import { AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, StorageSharedKeyCredential, generateAccountSASQueryParameters, type BlobServiceClient } from '@azure/storage-blob';
import { execFile, execFileSync } from 'node:child_process';
import { rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureBlobBackend, type AzureConnectionOptions } from '../../src/backends/azure/index.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, describeAzureConnection } from '../../src/backends/azure/client.js';
import type { Entry } from '../../src/core/entry.js';
import { md5OfStream } from '../../src/lib/accounting.js';
import { azureEnv, azureLocation, azureTestClient, createTestContainer, deleteContainer } from '../helpers/azure.js';
import { md5, tempDir, writeFile } from '../helpers/fs.js';
import { makeTestPki, type TestPki } from '../unit/governance/tls-fixtures.js';
import { writeObject } from '../../src/sync/chunked.js';
import { runCli } from '../helpers/cli.js';

/** Chunked from 1 MiB on, in 1 MiB blocks, two at a time. */
const MIB_CHUNKS = { threshold: 1024 * 1024, chunkSize: 1024 * 1024, concurrency: 2 };

const run = promisify(execFile);
let client: BlobServiceClient;
let container: string;
const servers: Server[] = [];

const body = (data: Buffer | string): Readable => Readable.from([Buffer.from(data)]);
const backend = (path = 'int/', conn: AzureConnectionOptions = azureEnv(), opts: ConstructorParameters<typeof AzureBlobBackend>[2] = {}) =>
  new AzureBlobBackend(azureLocation(container, path, conn), conn, opts);
async function collect(it: AsyncIterable<Entry>): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of it) out.push(e);
  return out;
}
async function caught(p: Promise<unknown>): Promise<Error & { kind?: string; hint?: string; fatal?: boolean }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}
/** An account SAS for the Azurite account with these permissions, valid for an hour. */
function accountSas(permissions: string): string {
  return generateAccountSASQueryParameters(
    {
      permissions: AccountSASPermissions.parse(permissions),
      services: AccountSASServices.parse('b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      expiresOn: new Date(Date.now() + 3600_000),
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString();
}
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** Forwards to Azurite; with `corrupt`, flips one byte of every PUT body (headers, and so the signature, untouched). */
function forwarder(corrupt: boolean) {
  const upstream = new URL(describeAzureConnection(azureEnv()).endpoint);
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const data = Buffer.concat(parts);
      if (corrupt && req.method === 'PUT' && data.length > 0) data.writeUInt8(data.readUInt8(data.length >> 1) ^ 0xff, data.length >> 1);
      const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(data);
    });
  };
}

beforeAll(async () => {
  client = azureTestClient();
  container = await createTestContainer(client, 'int');
});
afterAll(async () => {
  for (const s of servers) s.close();
  await deleteContainer(client, container);
});

describe('azure: the server verifies every body', () => {
  let corrupting: AzureConnectionOptions;
  beforeAll(async () => {
    const port = await listen(createHttpServer(forwarder(true)));
    corrupting = { endpoint: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`, accountKey: AZURITE_KEY };
  });

  it('a Put Blob whose bytes were damaged in transit is rejected (Content-MD5): IntegrityError, nothing left', async () => {
    const b = backend('corrupt/', corrupting, { retries: 1 });
    const data = Buffer.from('bytes that will not arrive intact');
    const err = await caught(b.write('put.txt', body(data), { size: data.length, mtimeMs: Date.now() }));
    expect(err.kind).toBe('integrity');
    expect(await backend('corrupt/').stat('put.txt')).toBeUndefined();
  });

  it('a staged block whose bytes were damaged is rejected, and nothing becomes visible', async () => {
    const b = backend('corrupt/', corrupting, { retries: 1 });
    const chunk = Buffer.alloc(1024 * 1024, 3);
    const up = await b.openChunkedUpload('block.bin', { size: chunk.length, mtimeMs: Date.now() });
    expect((await caught(up.writeChunk(0, chunk, ''))).kind).toBe('integrity');
    expect(await collect(backend('corrupt/').list())).toEqual([]);
  });
});

describe('azure: errors name the problem and the fix', () => {
  it('a missing container is MissingRootError with a hint; --create-bucket creates it', async () => {
    const conn = azureEnv();
    const name = `missing-${Date.now()}`;
    const b = new AzureBlobBackend(azureLocation(name, 'x/', conn), conn);
    const err = await caught(collect(b.list()));
    expect(err).toMatchObject({ kind: 'not-found', fatal: true, name: 'MissingRootError' });
    expect(err.message).toContain(`az://${name}/x/`);
    expect(err.hint).toContain('--create-bucket');
    expect(await collect(b.list({ allowMissingRoot: true }))).toEqual([]);
    expect(await caught(b.write('f', body('x'), { size: 1, mtimeMs: Date.now() }))).toMatchObject({ name: 'MissingRootError' });
    await b.createContainer();
    await b.createContainer(); // exists: fine
    await b.write('f', body('x'), { size: 1, mtimeMs: Date.now() });
    expect((await collect(b.list())).map((e) => e.key)).toEqual(['f']);
    await deleteContainer(client, name);
  });

  it('a bad account key is AuthError, and no secret appears in the message, hint or the inspected error', async () => {
    const badKey = Buffer.from('not-the-key-'.repeat(6)).toString('base64');
    const conn = { endpoint: describeAzureConnection(azureEnv()).endpoint, accountKey: badKey };
    const err = await caught(collect(backend('int/', conn).list()));
    expect(err).toMatchObject({ kind: 'auth', fatal: true });
    expect(err.hint).toMatch(/account key|SAS/);
    const everything = `${err.message} ${err.hint} ${inspect(err, { depth: 8 })}`;
    expect(everything).not.toContain(badKey);
    expect(everything).not.toContain(badKey.slice(0, 16));
  });

  it('probeAccount checks the credentials without the container', async () => {
    expect(await backend('int/').probeAccount()).toMatch(/^account devstoreaccount1 at http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1: \d+\+? containers? visible$/);
    const conn = { endpoint: describeAzureConnection(azureEnv()).endpoint, accountKey: Buffer.from('wrong').toString('base64') };
    expect(await caught(new AzureBlobBackend(azureLocation('no-such-container', '', conn), conn).probeAccount())).toMatchObject({ kind: 'auth' });
  });

  it('an unreachable endpoint is UnreachableError', async () => {
    const conn = { endpoint: `http://127.0.0.1:9/${AZURITE_ACCOUNT}`, accountKey: AZURITE_KEY };
    expect(await caught(collect(backend('int/', conn, { retries: 1 }).list()))).toMatchObject({ kind: 'unreachable' });
  });
});

describe('azure: metadata, tiers, tags, listings', () => {
  it('stores mtime in rclone format, md5chksum and Content-MD5; stat and list return them', async () => {
    const b = backend('meta/');
    const data = Buffer.from('metadata round trip');
    await b.write('m.txt', body(data), { size: data.length, mtimeMs: 1_700_000_000_123, metadata: { 'classification-source': 'path' } });
    const raw = await client.getContainerClient(container).getBlockBlobClient('meta/m.txt').getProperties();
    expect(raw.metadata).toMatchObject({ mtime: '2023-11-14T22:13:20.123000000Z', md5chksum: Buffer.from(md5(data), 'hex').toString('base64'), classification_source: 'path' });
    expect(Buffer.from(raw.contentMD5!).toString('hex')).toBe(md5(data));
    const st = await b.stat('m.txt');
    expect(st).toMatchObject({ size: data.length, mtimeMs: 1_700_000_000_123, mtimeExact: true, md5: md5(data) });
    const [listed] = await collect(b.list());
    expect(listed).toMatchObject({ key: 'm.txt', size: data.length, mtimeMs: 1_700_000_000_123, mtimeExact: true, md5: md5(data) });
  });

  it('a blob written by another tool lists with the server MD5 and an inexact mtime; directory markers are skipped', async () => {
    const cc = client.getContainerClient(container);
    await cc.getBlockBlobClient('foreign/plain.bin').upload('plain', 5);
    await cc.getBlockBlobClient('foreign/dir/').upload('', 0);
    await cc.getBlockBlobClient('foreign/adls').upload('', 0, { metadata: { hdi_isfolder: 'true' } });
    const listed = await collect(backend('foreign/').list());
    expect(listed.map((e) => e.key)).toEqual(['plain.bin']);
    expect(listed[0]).toMatchObject({ md5: md5('plain'), mtimeExact: false });
  });

  it('sets the access tier from storageClass (single and chunked) and reads it back', async () => {
    const b = backend('tier/', azureEnv(), { accessTier: 'Hot' });
    await b.write('cool.txt', body('cool'), { size: 4, mtimeMs: Date.now(), storageClass: 'Cool' });
    await b.write('default.txt', body('hot'), { size: 3, mtimeMs: Date.now() });
    const chunk = Buffer.alloc(1024 * 1024, 1);
    const up = await b.openChunkedUpload('cold.bin', { size: chunk.length, mtimeMs: Date.now(), storageClass: 'cold' });
    await up.complete([{ index: 0, token: await up.writeChunk(0, chunk, ''), size: chunk.length, sha256: '' }], md5(chunk));
    expect((await b.stat('cool.txt'))?.storageClass).toBe('Cool');
    expect((await b.stat('default.txt'))?.storageClass).toBe('Hot');
    expect(Object.fromEntries((await collect(b.list())).map((e) => [e.key, e.storageClass]))).toEqual({ 'cold.bin': 'Cold', 'cool.txt': 'Cool', 'default.txt': 'Hot' });
    expect(await caught(b.write('bad.txt', body('x'), { size: 1, mtimeMs: Date.now(), storageClass: 'GLACIER' }))).toMatchObject({ kind: 'config' });
  });

  it('stores tags as blob index tags', async () => {
    const b = backend('tags/');
    await b.write('t.txt', body('t'), { size: 1, mtimeMs: Date.now(), tags: { classification: 'internal' } });
    expect(await b.getTags('t.txt')).toEqual({ classification: 'internal' });
  });

  it('a large body through the engine driver stages blocks and commits them, with the whole MD5', async () => {
    const b = backend('big/', azureEnv());
    const data = Buffer.alloc(3.5 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 1000) data[i] = i % 253;
    const r = await writeObject(b, 'big.bin', body(data), { size: data.length, mtimeMs: 1_700_000_000_000 }, { chunking: MIB_CHUNKS });
    expect(r).toMatchObject({ md5: md5(data), bytesSent: data.length });
    const blocks = await client.getContainerClient(container).getBlockBlobClient('big/big.bin').getBlockList('committed');
    expect(blocks.committedBlocks).toHaveLength(4);
    expect((await b.stat('big.bin'))?.md5).toBe(md5(data));
    expect((await md5OfStream((await b.read('big.bin')) as AsyncIterable<Buffer>)).md5).toBe(md5(data));
  });
});

describe('azure: connections', () => {
  it('works with a SAS token instead of the account key', async () => {
    const b = backend('sas/', { endpoint: describeAzureConnection(azureEnv()).endpoint, sasToken: accountSas('rwdlac') });
    await b.write('s.txt', body('sas'), { size: 3, mtimeMs: Date.now() });
    expect((await collect(b.list())).map((e) => e.key)).toEqual(['s.txt']);
  });

  describe('TLS', () => {
    let pki: TestPki;
    const endpoint = { tls12: '', tls13: '' };
    beforeAll(async () => {
      pki = makeTestPki();
      for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
        const port = await listen(createHttpsServer({ key: pki.key, cert: pki.cert, minVersion: 'TLSv1.2', maxVersion: v }, forwarder(false)));
        endpoint[v === 'TLSv1.2' ? 'tls12' : 'tls13'] = `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
      }
    });
    afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

    it('refuses an endpoint that offers only TLS 1.2; works over TLS 1.3 with the CA bundle', async () => {
      const conn = (e: string): AzureConnectionOptions => ({ endpoint: e, accountKey: AZURITE_KEY, caBundle: pki.caFile });
      const err = await caught(collect(backend('tls/', conn(endpoint.tls12), { retries: 1 }).list()));
      expect(err).toMatchObject({ kind: 'config', hint: expect.stringContaining('TLS 1.3') });
      await backend('tls/', conn(endpoint.tls13)).write('ok.txt', body('tls'), { size: 3, mtimeMs: Date.now() });
      expect((await collect(backend('tls/', conn(endpoint.tls13)).list())).map((e) => e.key)).toEqual(['ok.txt']);
    });
  });
});

describe('azure: rclone agrees with what hybridsync wrote', () => {
  it('rclone check (size + MD5) finds no differences, and rclone reads our mtimes', async () => {
    const local = tempDir('az-rclone');
    const b = backend('rclone/', azureEnv());
    const files: Record<string, Buffer> = {
      'small.txt': Buffer.from('small file\n'),
      'dir/chunked.bin': Buffer.alloc(2.5 * 1024 * 1024, 9),
      'dir/ünïcode.txt': Buffer.from('names too\n'),
    };
    const mtime = new Date(1_700_000_000_000);
    for (const [k, v] of Object.entries(files)) {
      writeFile(local, k, v, mtime);
      await writeObject(b, k, body(v), { size: v.length, mtimeMs: mtime.getTime() }, { chunking: MIB_CHUNKS }); // the 2.5 MiB file in blocks
    }
    // rclone 1.60's use_emulator builds scheme-less container URLs ("unsupported protocol
    // scheme"); an account SAS URL works, path-style, on any port.
    const sasUrl = `${describeAzureConnection(azureEnv()).endpoint}?${accountSas('rl')}`;
    const env: NodeJS.ProcessEnv = { ...process.env, RCLONE_CONFIG: '/dev/null', RCLONE_AZUREBLOB_SAS_URL: sasUrl };
    delete env.AWS_CA_BUNDLE;
    const remote = `:azureblob:${container}/rclone`;
    const { stderr } = await run('rclone', ['check', local, remote], { env });
    expect(stderr).toMatch(/0 differences found/);
    expect(stderr).toMatch(/3 matching files/);
    const { stdout } = await run('rclone', ['lsjson', '-R', '--files-only', remote], { env });
    const times = (JSON.parse(stdout) as Array<{ Path: string; ModTime: string }>).map((f) => [f.Path, Date.parse(f.ModTime)]);
    expect(Object.fromEntries(times)).toEqual(Object.fromEntries(Object.keys(files).map((k) => [k, mtime.getTime()])));
    rmSync(local, { recursive: true, force: true });
  });

  it('files copied by the CLI carry their mtime to the nanosecond: rclone copy finds no mtime to update', async () => {
    const local = tempDir('az-rclone-ns');
    for (let i = 0; i < 3; i++) writeFile(local, `f${i}.txt`, `file ${i}\n`);
    utimesSync(join(local, 'f1.txt'), new Date('2026-01-01T10:00:00.123Z'), new Date('2026-01-01T10:00:00.123Z'));
    execFileSync('touch', ['-d', '2026-01-01 10:00:00.123456789 UTC', join(local, 'f2.txt')]);
    const r = await runCli(['copy', local, `az://${container}/rclone-ns`], { env: { HYBRIDSYNC_STATE_DIR: tempDir('az-rclone-ns-state') } });
    expect(r.code, r.stderr).toBe(0);
    const sasUrl = `${describeAzureConnection(azureEnv()).endpoint}?${accountSas('rl')}`;
    const env: NodeJS.ProcessEnv = { ...process.env, RCLONE_CONFIG: '/dev/null', RCLONE_AZUREBLOB_SAS_URL: sasUrl };
    delete env.AWS_CA_BUNDLE;
    const { stderr } = await run('rclone', ['copy', local, `:azureblob:${container}/rclone-ns`, '--dry-run', '-v'], { env });
    expect(stderr).not.toMatch(/modification time/);
    expect(stderr).toMatch(/There was nothing to transfer/);
  });
});
