import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileFilter, csvHeader, toCsvRow, toOcsf } from '../../../src/governance/audit/export.js';
import type { AuditRecord } from '../../../src/governance/audit/format.js';
import { AuditLog } from '../../../src/governance/audit/log.js';
import { AuditRecorder } from '../../../src/governance/audit/recorder.js';
import { createRedactor, redactCredentials, redactUri } from '../../../src/governance/audit/redact.js';
import { ReportAggregator } from '../../../src/governance/audit/report.js';
import { loadOrCreateSigner } from '../../../src/governance/audit/signing.js';
import { LevelScale } from '../../../src/governance/classify/levels.js';

describe('redaction', () => {
  it('removes credentials from URLs and messages', () => {
    expect(redactUri('https://user:pw@s3.example.com/bucket?X-Amz-Signature=abc#x')).toBe('https://s3.example.com/bucket');
    const msg = redactCredentials('denied for AKIAIOSFODNN7EXAMPLE with aws_secret_access_key=wJalrXUtnFEMI/K7MDENG secret; url http://u:p@h/x?X-Amz-Credential=AKIA/x&a=1 Authorization: AWS4-HMAC-SHA256 Credential=zzz');
    expect(msg).not.toMatch(/AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI|u:p@|Credential=zzz/);
    expect(msg).toContain('[aws-access-key-id]');
  });

  it('replaces e-mail addresses always, and what the PII engine finds', () => {
    const r = createRedactor((t) => t.replace(/\d{3}-\d{2}-\d{4}/g, '[ssn]'));
    expect(r('exports/alice@example.com/ssn-078-05-1120.csv')).toBe('exports/[email]/ssn-[ssn].csv');
  });
});

describe('AuditRecorder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gov-rec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records every kind of event with URIs and environments; names with PII are redacted and digested', async () => {
    const log = new AuditLog({ file: join(dir, 'a.jsonl'), signer: loadOrCreateSigner(join(dir, 'k.pem')), checkpointEvery: 1000, flushIntervalMs: 0 });
    const notes = new Map([['ok.csv', { classification: 'internal', rule: 'path rule #1', source: 'path', reason: 'internal allowed in cloud' }]]);
    const rec = new AuditRecorder(log, { srcUri: '/data/x', dstUri: 's3://b/p/', srcEnv: 'dc1', dstEnv: 'cloud' }, { skips: true, redact: createRedactor(), takeNote: (k) => notes.get(k) });
    rec.note({ type: 'tls', endpoint: 'https://s3', protocol: 'TLSv1.3' });
    rec.record({ type: 'run-start', runId: 7, mode: 'sync', src: '/data/x', dst: 's3://b/p', dryRun: false });
    rec.record({ type: 'transfer', key: 'ok.csv', size: 10, bytesSent: 10, md5: 'aa', md5Before: 'bb', reason: 'missing', method: 'stream', durationMs: 3, attempts: 1, classification: 'internal', transforms: [{ name: 'pii-scrub', report: { counts: { email: 1 } } }] });
    rec.record({ type: 'denied', key: 'to/bob@example.com/data.csv', size: 5, classification: 'restricted', reason: 'no', rule: 'sidecar' });
    rec.record({ type: 'skip', key: 'same', reason: 'identical' });
    rec.record({ type: 'delete', key: 'gone' });
    rec.record({ type: 'differ', key: 'd', reason: 'content' });
    rec.record({ type: 'error', key: 'e', kind: 'permission', message: 'denied with key AKIAIOSFODNN7EXAMPLE' });
    rec.record({ type: 'retry', what: 'x', attempt: 1, message: 'm' });
    rec.record({ type: 'summary', summary: { runId: 7, mode: 'sync', dryRun: false, src: '', dst: '', transferred: 1, bytes: 10, bytesResumed: 0, serverSideCopies: 0, skipped: 1, deleted: 1, failed: 1, denied: 1, deniedKnown: 0, derived: 0, differences: 0, checks: 3, retries: 1, durationMs: 5, rate: 1, deletesHeldBack: 0, status: 'failed' } });
    await log.close();
    const rs = readFileSync(join(dir, 'a.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    expect(rs.map((r) => r.type)).toEqual(['log-start', 'run-start', 'tls', 'transfer', 'denied', 'skip', 'delete', 'verification', 'error', 'run-end', 'checkpoint']);
    const run = rs[1]!.run;
    expect(rs.slice(1, -1).every((r) => r.run === run)).toBe(true);
    expect(rs[3]).toMatchObject({ src: '/data/x/ok.csv', dst: 's3://b/p/ok.csv', srcEnv: 'dc1', dstEnv: 'cloud', hashBefore: 'bb', hashAfter: 'aa', classification: 'internal', rule: 'path rule #1', decision: 'allow' });
    expect(rs[4]).toMatchObject({ key: 'to/[email]/data.csv', decision: 'deny', keyDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.stringify(rs)).not.toMatch(/bob@example\.com|AKIAIOSFODNN7EXAMPLE/);
  });
});

const rec = (r: Partial<AuditRecord> & { type: string }): AuditRecord => ({ seq: 1, time: '2026-03-01T10:00:00.000Z', prev: '', hash: '', ...r }) as AuditRecord;

describe('export', () => {
  const scale = new LevelScale(['public', 'internal', 'confidential', 'restricted']);

  it('filters by time, environment, classification (exact or and-above) and type', () => {
    const rs = [
      rec({ type: 'transfer', classification: 'public', dstEnv: 'cloud' }),
      rec({ type: 'transfer', classification: 'confidential', dstEnv: 'cloud', time: '2026-03-05T00:00:00Z' }),
      rec({ type: 'denied', classification: 'restricted', srcEnv: 'dc1', dstEnv: 'cloud' }),
      rec({ type: 'run-start' }),
    ];
    const keep = (f: Parameters<typeof compileFilter>[0]) => rs.filter(compileFilter(f, scale)).length;
    expect(keep({ classification: 'confidential+' })).toBe(2);
    expect(keep({ classification: 'public' })).toBe(1);
    expect(keep({ environment: 'dc1' })).toBe(1);
    expect(keep({ since: Date.parse('2026-03-02T00:00:00Z') })).toBe(1);
    expect(keep({ until: Date.parse('2026-03-02T00:00:00Z'), types: ['transfer'] })).toBe(1);
  });

  it('writes CSV that a spreadsheet cannot execute', () => {
    expect(csvHeader().split(',')[0]).toBe('time');
    const row = toCsvRow(rec({ type: 'transfer', key: '=HYPERLINK("x")', reason: 'a, "b"', transforms: [{ name: 'pii-scrub' }] as unknown[] }));
    expect(row).toContain(`"'=HYPERLINK(""x"")"`);
    expect(row).toContain('"a, ""b"""');
    expect(row).toContain('pii-scrub');
  });

  it('maps transfers, denials and deletions to OCSF File Hosting Activity', () => {
    const t = toOcsf(rec({ type: 'transfer', key: 'a/b.csv', src: '/d/a/b.csv', dst: 's3://x/a/b.csv', bytes: 9, classification: 'confidential', hashBefore: 'h1', hashAfter: 'h2', run: 'r', dstEnv: 'cloud' }), { user: 'alice', host: 'h' }, 'LOG');
    expect(t).toMatchObject({
      class_uid: 6006,
      category_uid: 6,
      activity_id: 1,
      type_uid: 600601,
      status_id: 1,
      actor: { user: { name: 'alice' } },
      src_endpoint: { hostname: 'h' },
      file: { name: 'b.csv', path: '/d/a/b.csv', size: 9, confidentiality: 'confidential', confidentiality_id: 2, fingerprints: [{ algorithm_id: 1, value: 'h1' }] },
      file_result: { path: 's3://x/a/b.csv', fingerprints: [{ value: 'h2' }] },
      metadata: { uid: 'LOG:1', product: { name: 'hybridsync' } },
    });
    expect(toOcsf(rec({ type: 'denied', src: 's3://x/k', dst: '/local/k', reason: 'no' }), {})).toMatchObject({ activity_id: 2, status_id: 2, status_detail: 'no' });
    expect(toOcsf(rec({ type: 'delete', dst: '/local/k' }), {})).toMatchObject({ activity_id: 4, type_uid: 600604 });
    // canonical location URIs: an object store is its endpoint URL, a local tree file:///
    expect(toOcsf(rec({ type: 'transfer', src: 'file:///d/k', dst: 'http://127.0.0.1:7480/bucket/k' }), {})).toMatchObject({ activity_id: 1, dst_endpoint: { svc_name: 'object-storage' } });
    expect(toOcsf(rec({ type: 'transfer', src: 'https://acct.blob.core.windows.net/c/k', dst: 'file:///d/k' }), {})).toMatchObject({ activity_id: 2, dst_endpoint: { svc_name: 'file' } });
    expect(toOcsf(rec({ type: 'skip' }), {})).toBeUndefined();
  });
});

describe('report', () => {
  it('summarises transfers by classification × destination, denials and TLS, escaping everything', () => {
    const agg = new ReportAggregator(['public', 'internal', 'confidential', 'restricted']);
    agg.add(rec({ type: 'run-start', run: 'r', mode: 'sync' }));
    agg.add(rec({ type: 'transfer', classification: 'public', dstEnv: 'cloud', bytes: 2048 }));
    agg.add(rec({ type: 'transfer', classification: 'confidential', dstEnv: 'cloud', bytes: 10, transforms: [{ name: 'pii-scrub', report: { counts: { email: 3 } } }] as unknown[] }));
    agg.add(rec({ type: 'denied', classification: 'restricted', dstEnv: 'cloud', key: '<script>x</script>', reason: 'too secret' }));
    agg.add(rec({ type: 'tls', endpoint: 'https://legacy:9000', protocol: 'TLSv1.2', allowedBy: 'tls.endpoints#1' }));
    agg.add(rec({ type: 'run-end', run: 'r', status: 'ok' }));
    const html = agg.html({ title: 't', logFile: 'f', generated: 'g', filter: '' });
    expect(html).toContain('Files transferred</dt><dd>2 (2.01 KiB)');
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('email 3');
    expect(html).toContain('TLSv1.2');
    expect(html).toContain('Denied by policy</dt><dd>1');
  });
});
