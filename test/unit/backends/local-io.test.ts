import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ioModeFor } from '../../../src/backends/local/io.js';

describe('local I/O mode', () => {
  it('is inline on a local filesystem, also for a destination not created yet (its nearest existing parent decides)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'io-'));
    expect(ioModeFor(dir, {})).toBe('inline');
    expect(ioModeFor(join(dir, 'not', 'yet', 'there'), {})).toBe('inline');
  });

  it('can be forced either way (HYBRIDSYNC_LOCAL_IO)', () => {
    expect(ioModeFor(tmpdir(), { HYBRIDSYNC_LOCAL_IO: 'pool' })).toBe('pool');
    expect(ioModeFor(tmpdir(), { HYBRIDSYNC_LOCAL_IO: 'inline' })).toBe('inline');
  });
});
