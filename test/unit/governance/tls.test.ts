import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTls, tlsForEndpoint, tlsRefusal } from '../../../src/governance/tls/index.js';
import { makeTestPki, type TestPki } from './tls-fixtures.js';

describe('TLS policy per endpoint', () => {
  const tls = {
    caBundle: '/etc/ca.pem',
    endpoints: [
      { url: 'https://legacy.example:9000', minVersion: 'TLSv1.2' as const, reason: 'old appliance' },
      { url: 'http://minio.lab:9000', minVersion: 'TLSv1.3' as const, allowInsecureHttp: true, caBundle: '/x.pem' },
    ],
  };
  it('requires TLS 1.3 unless an endpoint is listed with TLSv1.2', () => {
    expect(tlsForEndpoint(tls, 'https://s3.amazonaws.com')).toEqual({ minVersion: 'TLSv1.3' });
    expect(tlsForEndpoint(undefined, 'https://x')).toEqual({ minVersion: 'TLSv1.3' });
    expect(tlsForEndpoint(tls, 'https://legacy.example:9000/')).toEqual({ minVersion: 'TLSv1.2', configEntry: 'tls.endpoints#1', reason: 'old appliance' });
    expect(tlsForEndpoint(tls, 'https://legacy.example:9001')).toEqual({ minVersion: 'TLSv1.3' });
    expect(tlsForEndpoint(tls, 'http://minio.lab:9000')).toMatchObject({ allowInsecureHttp: true, caBundle: '/x.pem' });
  });
});

describe('probeTls against local servers (self-signed CA made here)', () => {
  let pki: TestPki;
  const servers: Server[] = [];
  const urls: Record<string, string> = {};
  beforeAll(async () => {
    pki = makeTestPki();
    for (const [name, maxVersion] of [['tls12', 'TLSv1.2'], ['tls13', 'TLSv1.3']] as const) {
      const s = createServer({ key: pki.key, cert: pki.cert, minVersion: 'TLSv1.2', maxVersion }, (sock) => sock.end());
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
      urls[name] = `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
    }
  });
  afterAll(() => {
    for (const s of servers) s.close();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('refuses a TLS 1.2-only server with an error that says so', async () => {
    const p = await probeTls(urls.tls12!, { minVersion: 'TLSv1.3', ca: pki.ca });
    expect(p).toMatchObject({ ok: false, kind: 'protocol' });
    const e = tlsRefusal(urls.tls12!, p, 'TLSv1.3');
    expect(e?.message).toMatch(/does not offer TLSv1.3/);
    expect(e?.hint).toMatch(/minVersion: TLSv1.2/);
  });

  it('negotiates TLS 1.3 where offered, and TLS 1.2 only where allowed', async () => {
    expect(await probeTls(urls.tls13!, { minVersion: 'TLSv1.3', ca: pki.ca })).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    expect(await probeTls(urls.tls12!, { minVersion: 'TLSv1.2', ca: pki.ca })).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
  });

  it('reports an untrusted certificate as such, and an unreachable port as a network problem', async () => {
    const p = await probeTls(urls.tls13!, { minVersion: 'TLSv1.3' });
    expect(p).toMatchObject({ ok: false, kind: 'certificate' });
    expect(tlsRefusal(urls.tls13!, p, 'TLSv1.3')?.hint).toMatch(/--ca-bundle/);
    const down = await probeTls('https://127.0.0.1:1', { minVersion: 'TLSv1.3' });
    expect(down).toMatchObject({ ok: false, kind: 'network' });
    expect(tlsRefusal('https://127.0.0.1:1', down, 'TLSv1.3')).toBeUndefined();
  });
});
