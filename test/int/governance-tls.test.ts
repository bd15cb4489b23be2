/**
 * TLS 1.3 in transit, against real servers: two https proxies in front of Ceph RGW with a
 * certificate from a CA made in this test, one offering only TLS 1.2, one TLS 1.3. The S3
 * client refuses the 1.2-only endpoint; the CLI refuses it with a clear error (audited)
 * unless the config allows TLS 1.2 for that endpoint (then it warns and audits); the 1.3
 * endpoint just works.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocation } from '../../src/backends/registry.js';
import { ConfigError } from '../../src/core/errors.js';
import { createTestBucket, deleteBucket, listAll, s3Env, testClient } from '../helpers/s3.js';
import { readJsonl, tempDir, writeFile } from '../helpers/fs.js';
import { runCli } from '../helpers/cli.js';
import { makeTestPki, type TestPki } from '../unit/governance/tls-fixtures.js';

let client: S3Client;
let bucket: string;
let pki: TestPki;
let stateDir: string;
const servers: Server[] = [];
const endpoint: Record<'tls12' | 'tls13', string> = { tls12: '', tls13: '' };

/** An https server that forwards every request to Ceph unchanged (the Host header too, so signatures hold). */
async function tlsProxy(maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<string> {
  const upstream = new URL(s3Env().endpoint);
  const server = createServer({ key: pki.key, cert: pki.cert, minVersion: 'TLSv1.2', maxVersion }, (req, res) => {
    const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const auditRecords = (): Array<Record<string, unknown>> => readJsonl(join(stateDir, 'audit', 'audit.jsonl'));

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'gov-tls');
  pki = makeTestPki();
  stateDir = tempDir('gov-tls');
  endpoint.tls12 = await tlsProxy('TLSv1.2');
  endpoint.tls13 = await tlsProxy('TLSv1.3');
});
afterAll(async () => {
  for (const s of servers) s.close();
  await deleteBucket(client, bucket);
  client.destroy();
  rmSync(pki.dir, { recursive: true, force: true });
});

describe('the S3 client', () => {
  it('refuses a TLS 1.2-only endpoint, through the SDK and through the lean requests alike, and works over TLS 1.3', async () => {
    const old = openLocation(`s3://${bucket}`, { s3: { endpoint: endpoint.tls12, caBundle: pki.caFile }, transfer: { retries: 1 } });
    // stat goes through the lean HEAD (small-objects.ts), a listing through the SDK: both are
    // refused for the protocol version (not the certificate, not the network), as a config error
    const caught = (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    for (const err of [await caught(old.stat('x')), await caught(old.list({})[Symbol.asyncIterator]().next())]) {
      expect(err).toBeInstanceOf(ConfigError);
      expect(err).toMatchObject({ kind: 'config', fatal: true, retryable: false });
      // node:http reports the alert as EPROTO, a bare TLS socket by its OpenSSL code
      expect((err as Error).message).toMatch(new RegExp(`^TLS handshake with ${endpoint.tls12.replace(/[.]/g, '\\.')} failed \\((EPROTO|ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION)\\)$`));
      expect(((err as Error).cause as Error).message).toMatch(/alert protocol version/);
    }
    await old.close?.();
    const ok = openLocation(`s3://${bucket}`, { s3: { endpoint: endpoint.tls13, caBundle: pki.caFile }, transfer: { retries: 1 } });
    expect(await ok.stat('missing')).toBeUndefined(); // a real answer from Ceph, through TLS 1.3
    await ok.close?.();
  });
});

describe('the CLI', () => {
  const env = (): NodeJS.ProcessEnv => ({ HYBRIDSYNC_STATE_DIR: stateDir });

  it('refuses the TLS 1.2-only endpoint with a clear error, sends nothing and audits the refusal', async () => {
    const src = tempDir('gov-tls-src');
    writeFile(src, 'a.txt', 'a');
    const r = await runCli(['copy', src, `s3://${bucket}/refused`, '--s3-endpoint', endpoint.tls12, '--ca-bundle', pki.caFile], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing ${endpoint.tls12}: the endpoint does not offer TLSv1.3`);
    expect(r.stderr).toMatch(/fix: .*minVersion: TLSv1\.2/);
    expect(await listAll(client, bucket, 'refused/')).toEqual([]);
    expect(auditRecords().filter((x) => x.type === 'tls-refused').at(-1)).toMatchObject({ endpoint: endpoint.tls12, minVersion: 'TLSv1.3' });
  });

  it('uses TLS 1.2 where the config allows it for that endpoint, with a warning and an audit record', async () => {
    const src = tempDir('gov-tls-src');
    writeFile(src, 'b.txt', 'b');
    const config = join(stateDir, 'tls12.yaml');
    writeFileSync(config, `tls:\n  endpoints:\n    - url: ${endpoint.tls12}\n      minVersion: TLSv1.2\n      caBundle: ${pki.caFile}\n      reason: legacy appliance\n`);
    const r = await runCli(['copy', src, `s3://${bucket}/allowed`, '--s3-endpoint', endpoint.tls12, '--config', config], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/NOTICE .*negotiated TLSv1\.2, below TLS 1\.3: allowed by tls\.endpoints#1 \(legacy appliance\)/);
    expect((await listAll(client, bucket, 'allowed/')).map((o) => o.key)).toEqual(['allowed/b.txt']);
    const records = auditRecords();
    const run = records.filter((x) => x.type === 'run-start').at(-1)!.run;
    expect(records.find((x) => x.run === run && x.type === 'tls')).toMatchObject({ endpoint: endpoint.tls12, protocol: 'TLSv1.2', allowedBy: 'tls.endpoints#1', exceptionReason: 'legacy appliance' });
  });

  it('just works over TLS 1.3, and audits the protocol', async () => {
    const src = tempDir('gov-tls-src');
    writeFile(src, 'c.txt', 'c');
    const r = await runCli(['copy', src, `s3://${bucket}/modern`, '--s3-endpoint', endpoint.tls13, '--ca-bundle', pki.caFile], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('NOTICE');
    expect((await listAll(client, bucket, 'modern/')).map((o) => o.key)).toEqual(['modern/c.txt']);
    const records = auditRecords();
    const run = records.filter((x) => x.type === 'run-start').at(-1)!.run;
    expect(records.find((x) => x.run === run && x.type === 'tls')).toMatchObject({ endpoint: endpoint.tls13, protocol: 'TLSv1.3', minVersion: 'TLSv1.3' });
  });
});
