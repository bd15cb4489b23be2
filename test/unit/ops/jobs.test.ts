import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { JobHistory } from '../../../src/ops/history.js';
import { HISTORY_MIN_RUNS, jobRequest, jobWorkloads, linkBytesPerSecond, resolveOperations, windowLengthMs } from '../../../src/ops/jobs.js';
import { resolveTransferOptions } from '../../../src/config/options.js';
import { planBandwidth } from '../../../src/ops/planner.js';
import { formatBitRate } from '../../../src/ops/format.js';

const YAML = `
links:
  - name: dx
    capacity: 10Gbps
jobs:
  - name: nightly
    source: /data/train
    destination: s3://bucket/train
    schedule: "0 22 * * *"
    timezone: UTC
    window: "22:00-06:00"
    link: dx
    volume: 40TB
    transfer: { transfers: 4, bwlimit: 10M, maxDelete: 5 }
    filters: { exclude: ["*.tmp"], minSize: 1K }
  - name: metadata
    kind: copy
    source: /data/meta
    destination: s3://bucket/meta
    lane: metadata
    transfer: { maxDelete: "10%" }
`;

describe('jobs in hybridsync.yaml', () => {
  it('parses jobs and links with defaults', () => {
    const ops = resolveOperations(parseConfig(YAML), 'hybridsync.yaml', ':memory:');
    expect(ops.jobs.map((j) => [j.name, j.kind, j.lane, j.catchUp])).toEqual([
      ['nightly', 'sync', 'bulk', 'once'],
      ['metadata', 'copy', 'metadata', 'once'],
    ]);
    expect(linkBytesPerSecond(ops.links[0]!)).toBe(1.25e9);
    expect(ops.links[0]!.warnAbove).toBe(0.7);
    // a job is a typed library request: its options mean what the same flags mean, defaults included
    const req = jobRequest({ ...ops, file: '/nonexistent/hybridsync.yaml' }, ops.jobs[0]!, {});
    expect(req).toMatchObject({ mode: 'sync', src: '/data/train', dst: 's3://bucket/train', statePath: ':memory:' });
    expect(resolveTransferOptions(req.options)).toMatchObject({ transfers: 4, bwlimit: '10M', maxDelete: { count: 5 }, exclude: ['*.tmp'], minSize: 1024, checkers: 16, retries: 3 });
    const meta = jobRequest({ ...ops, file: '/nonexistent/hybridsync.yaml' }, ops.jobs[1]!, {});
    expect(resolveTransferOptions(meta.options)).toMatchObject({ maxDelete: { percent: 10 } });
  });

  it('reports bad schedules, windows and links with their position', () => {
    expect(() => parseConfig('jobs:\n  - name: a\n    source: x\n    destination: y\n    schedule: "every night"\n')).toThrow(/hybridsync.yaml:5:\d+: jobs#1\.schedule: not a cron expression/);
    expect(() => parseConfig('jobs:\n  - name: a\n    source: x\n    destination: y\n    window: "22-06"\n')).toThrow(/jobs#1\.window: use HH:MM-HH:MM/);
    expect(() => parseConfig('links:\n  - name: a\n    capacity: 10GB\n')).toThrow(/links#1\.capacity: not a line rate/);
    expect(() => resolveOperations(parseConfig('jobs:\n  - name: a\n    source: x\n    destination: y\n    link: nope\n'), 'f.yaml')).toThrow(
      /jobs.a.link: no link named "nope"/,
    );
  });

  it('plans from the jobs: 40 TB nightly in 22:00-06:00 needs 11.1 Gbps; measured history wins over the configured volume', () => {
    const ops = resolveOperations(parseConfig(YAML), 'hybridsync.yaml', ':memory:');
    expect(windowLengthMs('22:00-06:00')).toBe(8 * 3_600_000);
    const history = new JobHistory(':memory:');
    const fromConfig = jobWorkloads(ops, history, Date.UTC(2026, 0, 5, 12));
    expect(fromConfig).toHaveLength(1); // the unscheduled metadata job has no cadence
    expect(fromConfig[0]).toMatchObject({ name: 'nightly', everyMs: 86_400_000, windowMs: 28_800_000, source: 'config' });
    expect(formatBitRate(planBandwidth(fromConfig).peakBitsPerSecond)).toBe('11.1 Gbps');

    // a declared volume wins over history: one small test run does not shrink the plan
    const id = history.start('nightly', 'schedule', 1, 1);
    history.finish(id, 2, 'ok', { bytes: 240 * 1024, transferred: 10, failed: 0 } as never);
    expect(jobWorkloads(ops, history, Date.UTC(2026, 0, 5, 12))[0]).toMatchObject({ volumeBytes: 40e12, source: 'config' });

    // without a declared volume, history counts once it is representative (HISTORY_MIN_RUNS runs)
    const undeclared = resolveOperations(parseConfig(YAML.replace('    volume: 40TB\n', '')), 'hybridsync.yaml', ':memory:');
    expect(jobWorkloads(undeclared, history, Date.UTC(2026, 0, 5, 12))).toEqual([]);
    for (let i = 0; i < HISTORY_MIN_RUNS - 1; i++) {
      const r = history.start('nightly', 'schedule', 10 + i, 10 + i);
      history.finish(r, 20 + i, 'ok', { bytes: 20e12, transferred: 10, failed: 0 } as never);
    }
    const measured = jobWorkloads(undeclared, history, Date.UTC(2026, 0, 5, 12));
    expect(measured[0]).toMatchObject({ volumeBytes: 20e12, source: 'history' });
    expect(formatBitRate(planBandwidth(measured).peakBitsPerSecond)).toBe('5.56 Gbps');
    history.close();
  });

  it('keeps job history newest first and marks runs a dead daemon left running', () => {
    const h = new JobHistory(':memory:');
    const a = h.start('j', 'schedule', 1000, 1000);
    h.finish(a, 2000, 'window-end', undefined, 'stopped at the end of the run window');
    h.start('j', 'manual', 3000);
    expect(h.recoverInterrupted(4000)).toBe(1);
    expect(h.list('j').map((r) => [r.trigger, r.status])).toEqual([
      ['manual', 'interrupted'],
      ['schedule', 'window-end'],
    ]);
    expect(h.lastScheduled('j')).toBe(1000);
    h.close();
  });
});

describe('job lock across processes', () => {
  it('a second holder is refused while the first is alive; a dead holder is taken over', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lock-')), 'state.db');
    const a = new JobHistory(file);
    const b = new JobHistory(file);
    expect(a.tryLock('nightly')).toBeUndefined();
    // another live process holds it: pid 1 (init) is always alive
    b.unlock('nightly');
    expect(b.tryLock('nightly', 1)).toBeUndefined();
    expect(a.tryLock('nightly')).toBe(1);
    // a dead holder (no such pid) is taken over
    b.unlock('nightly', 1);
    expect(b.tryLock('nightly', 2 ** 22 + 12345)).toBeUndefined();
    expect(a.tryLock('nightly')).toBeUndefined();
    a.close();
    b.close();
  });
});
