import { describe, expect, it } from 'vitest';
import { createFilter, parsePatternFile } from '../../../src/sync/filter.js';
import { parseConfig } from '../../../src/config/load.js';
import { parseDuration, parseSize } from '../../../src/lib/units.js';

describe('filters', () => {
  const f = createFilter({ include: ['**/*.bin', 'top.txt'], exclude: ['tmp/', '*.bak'] }, 10_000_000);
  it('globs: basename patterns match anywhere, directory patterns match below', () => {
    expect(f.matchesKey('a/b/c.bin')).toBe(true);
    expect(f.matchesKey('top.txt')).toBe(true);
    expect(f.matchesKey('a/top.txt')).toBe(true);
    expect(f.matchesKey('tmp/x.bin')).toBe(false);
    expect(f.matchesKey('a/c.bak')).toBe(false);
    expect(f.matchesKey('a/c.txt')).toBe(false);
  });
  it('size and age', () => {
    const g = createFilter({ minSize: 10, maxSize: 100, maxAgeMs: 1000 }, 10_000);
    expect(g.matches({ key: 'a', size: 50, mtimeMs: 9500, mtimeExact: true })).toBe(true);
    expect(g.matches({ key: 'a', size: 5, mtimeMs: 9500, mtimeExact: true })).toBe(false);
    expect(g.matches({ key: 'a', size: 500, mtimeMs: 9500, mtimeExact: true })).toBe(false);
    expect(g.matches({ key: 'a', size: 50, mtimeMs: 1000, mtimeExact: true })).toBe(false);
  });
  it('pattern files skip comments and blanks', () => {
    expect(parsePatternFile('# c\n\n*.tmp\r\n dir/ \n')).toEqual(['*.tmp', 'dir/']);
  });
});

describe('units', () => {
  it('sizes and durations', () => {
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize('10M')).toBe(10 * 1024 * 1024);
    expect(parseSize('1.5GB')).toBe(1.5e9);
    expect(parseDuration('2h30m')).toBe(9_000_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(() => parseSize('ten')).toThrow(/invalid size "ten"/);
    expect(() => parseDuration('soon')).toThrow(/invalid duration/);
  });
});

describe('config file errors name the line and column', () => {
  it('YAML syntax', () => {
    expect(() => parseConfig('version: 1\nfoo: [1, 2\n', 'my.yaml')).toThrow(/my\.yaml:3:1: YAML syntax error/);
  });
  it('schema violations point at the offending key', () => {
    expect(() => parseConfig('version: 1\nstateFile: 42\n', 'my.yaml')).toThrow(/my\.yaml:2:12: stateFile: /);
    expect(() => parseConfig('version: 1\nnope: true\n', 'my.yaml')).toThrow(/my\.yaml:2:1: nope: unknown key/);
  });
});
