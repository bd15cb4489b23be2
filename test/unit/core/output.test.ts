import { describe, expect, it } from 'vitest';
import { Reporter, formatSummary } from '../../../src/cli/output.js';
import type { RunSummary } from '../../../src/sync/events.js';
import { Stats } from '../../../src/sync/stats.js';

const summary: RunSummary = {
  runId: 1, mode: 'sync', dryRun: false, src: '/data', dst: 'cloud:b/x', transferred: 1, bytes: 2048, bytesResumed: 0, serverSideCopies: 0,
  skipped: 0, deleted: 0, failed: 0, denied: 1, deniedKnown: 0, derived: 0, differences: 0, checks: 2, retries: 0, durationMs: 1000, rate: 2048, deletesHeldBack: 0, status: 'denied',
};

function capture(): { stream: NodeJS.WritableStream & { isTTY?: boolean }; text: () => string } {
  let out = '';
  return { stream: { write: (s: string) => ((out += s), true), isTTY: false } as unknown as NodeJS.WritableStream, text: () => out };
}

describe('human output', () => {
  it('-v says what scrubbing replaced in each file, and the summary counts scrubbed files', () => {
    const err = capture();
    const r = new Reporter({ json: false, verbose: true, progress: false, statsIntervalMs: 5000, out: capture().stream, err: err.stream });
    r.event({
      type: 'transfer', key: 'crm/contacts.csv', size: 2048, bytesSent: 1900, md5: 'x', reason: 'missing', method: 'stream', durationMs: 5, attempts: 1,
      transforms: [{ name: 'pii-scrub', report: { counts: { email: 12, phone: 3, card: 0 } } }],
    } as never);
    r.event({ type: 'summary', summary } as never);
    expect(err.text()).toMatch(/copied crm\/contacts\.csv \(2.00 KiB\); scrubbed: 12 email, 3 phone\n/);
    expect(err.text()).toMatch(/scrubbed: {5}1 file had PII replaced on the way/);
    expect(err.text()).toMatch(/denied by policy: 1/);
  });

  it('a terminal gets a live progress bar', async () => {
    const stats = new Stats();
    stats.bytesPlanned = 4096;
    stats.bytesDone = 1024;
    const err = capture();
    err.stream.isTTY = true;
    const r = new Reporter({ json: false, verbose: false, progress: true, statsIntervalMs: 5000, out: capture().stream, err: err.stream });
    r.start(stats);
    await expect.poll(() => err.text(), { timeout: 5000 }).toMatch(/\d+% \| [\d.]+ \w+\/4\.00 KiB \| 0\/0 files/);
    r.stop();
  });

  it('a dry run says "would", with totals and no rate; one file is "1 file"', () => {
    const text = formatSummary({ ...summary, dryRun: true, status: 'ok', denied: 0, rate: 0 });
    expect(text).toMatch(/would transfer: 1 file, 2.00 KiB/);
    expect(text).toMatch(/would delete:\s+0/);
    expect(text).not.toMatch(/\/s/);
  });

  it('an interrupted run says how to resume', () => {
    expect(formatSummary({ ...summary, status: 'aborted' })).toMatch(/rerun the same command to resume/);
    expect(formatSummary({ ...summary, status: 'ok' })).not.toMatch(/rerun/);
  });
});
