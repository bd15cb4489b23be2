import { describe, expect, it } from 'vitest';
import { crossOriginReason, hostAllowed } from '../../../src/server/same-origin.js';

describe('hostAllowed', () => {
  it('on loopback: the loopback names with the bound port, nothing else', () => {
    const served = { host: '127.0.0.1', port: 8787 };
    for (const h of ['127.0.0.1:8787', 'localhost:8787', 'LOCALHOST:8787', '[::1]:8787']) expect(hostAllowed(h, served), h).toBe(true);
    for (const h of ['evil.example:8787', 'localhost:8788', 'localhost', '127.0.0.1', 'evil.example', '', 'a@127.0.0.1:8787']) expect(hostAllowed(h, served), h).toBe(false);
    expect(hostAllowed(undefined, served)).toBe(false);
  });

  it('on a specific address: that address; server.allowedHosts adds names', () => {
    const served = { host: '10.0.0.5', port: 8787, allowedHosts: ['sync.corp.example', 'proxy.example:443'] };
    expect(hostAllowed('10.0.0.5:8787', served)).toBe(true);
    expect(hostAllowed('127.0.0.1:8787', served)).toBe(false);
    expect(hostAllowed('sync.corp.example', served)).toBe(true);
    expect(hostAllowed('sync.corp.example:8787', served)).toBe(true);
    expect(hostAllowed('proxy.example:443', served)).toBe(true);
    expect(hostAllowed('proxy.example:80', served)).toBe(false);
    expect(hostAllowed('evil.example:8787', served)).toBe(false);
  });

  it('on a wildcard address: IP literals with the bound port (DNS rebinding always sends a name)', () => {
    for (const host of ['0.0.0.0', '::']) {
      const served = { host, port: 8787 };
      expect(hostAllowed('192.168.1.9:8787', served)).toBe(true);
      expect(hostAllowed('[fe80::1]:8787', served)).toBe(true);
      expect(hostAllowed('localhost:8787', served)).toBe(true);
      expect(hostAllowed('evil.example:8787', served)).toBe(false);
      expect(hostAllowed('192.168.1.9:9999', served)).toBe(false);
    }
  });
});

describe('crossOriginReason', () => {
  const host = '127.0.0.1:8787';
  it('lets same-origin and non-browser requests through', () => {
    expect(crossOriginReason({ host })).toBeUndefined();
    expect(crossOriginReason({ host, origin: 'http://127.0.0.1:8787', secFetchSite: 'same-origin' })).toBeUndefined();
    expect(crossOriginReason({ host: 'sync.example', origin: 'https://sync.example' })).toBeUndefined(); // behind a TLS proxy
  });
  it('refuses other origins and sites', () => {
    for (const origin of ['http://evil.example', 'http://127.0.0.1:8788', 'http://localhost:8787', 'null', 'file://', 'ftp://127.0.0.1:8787']) {
      expect(crossOriginReason({ host, origin }), origin).toMatch(/cross-origin request refused/);
    }
    expect(crossOriginReason({ host, secFetchSite: 'cross-site' })).toMatch(/Sec-Fetch-Site: cross-site/);
    expect(crossOriginReason({ host, secFetchSite: 'same-site' })).toMatch(/Sec-Fetch-Site: same-site/);
  });
});
