import { describe, expect, it } from 'vitest';
import type { Backend, OpOptions, Tagger } from '../../../src/core/backend.js';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import { Classifier, sourceViewOf } from '../../../src/governance/classify/classifier.js';
import type { ContentDetector } from '../../../src/governance/classify/detectors.js';
import { LevelScale } from '../../../src/governance/classify/levels.js';
import { anchorGlob, compileClassification, levelNamed, matchPathRule, parseSidecar, raiseForFindings } from '../../../src/governance/classify/rules.js';
import type { LabelLookup } from '../../../src/governance/labels.js';

const scale = new LevelScale(['public', 'internal', 'confidential', 'restricted']);

describe('levels', () => {
  it('orders levels and ranks an unknown one above the highest (fail closed)', () => {
    expect(scale.above('restricted', 'confidential')).toBe(true);
    expect(scale.above('public', 'internal')).toBe(false);
    expect(scale.rank('secret')).toBeGreaterThan(scale.rank('restricted'));
    expect(scale.upTo('internal')).toEqual(['public', 'internal']);
    expect(levelNamed(scale, ' Confidential ', 'x')).toEqual({ level: 'confidential' });
    expect(levelNamed(scale, 'secret', 'sidecar s')).toMatchObject({ level: 'restricted', note: expect.stringContaining('unknown level') });
  });
});

describe('rules', () => {
  it('anchors relative globs anywhere in the full path, so the sync root does not matter', () => {
    expect(anchorGlob('hr/**')).toBe('**/hr/**');
    expect(anchorGlob('/data/hr/**')).toBe('/data/hr/**');
    expect(anchorGlob('s3://bucket/pii/**')).toBe('s3://bucket/pii/**');
    const s = compileClassification({
      levels: ['public', 'internal', 'confidential', 'restricted'],
      sidecar: '.hybridsync-classification',
      rules: [
        { path: 'hr/**', level: 'restricted' },
        { path: ['**/*.csv', '*.parquet'], level: 'confidential', environment: 'dc1' },
        { path: 's3://ml-public/**', level: 'public' },
      ],
      objectTags: { enabled: true, key: 'classification' },
      detectors: { pii: { enabled: true, level: 'confidential', maxBytes: 100, paths: [] } },
    });
    expect(matchPathRule(s.rules, { fullPath: '/data/hr/2024/pay.txt' })?.index).toBe(0);
    expect(matchPathRule(s.rules, { fullPath: '/data/x.csv' })).toBeUndefined(); // rule 2 is scoped to dc1
    expect(matchPathRule(s.rules, { fullPath: '/data/x.csv', environment: 'dc1' })?.index).toBe(1);
    expect(matchPathRule(s.rules, { fullPath: 's3://ml-public/a/b.bin' })?.index).toBe(2);
    expect(matchPathRule(s.rules, { fullPath: 's3://ml-public/hr/b.bin' })?.index).toBe(0); // first match wins
    expect(s.defaultLevel).toBe('internal');
  });

  it('reads a sidecar as a bare level or YAML, skipping comments and other keys', () => {
    expect(parseSidecar('restricted\n')).toBe('restricted');
    expect(parseSidecar('# owner: hr\n\nlevel: confidential # set by the DPO\nreason: payroll\n')).toBe('confidential');
    expect(parseSidecar('reason: x\nlevel: "public"\n')).toBe('public');
    expect(parseSidecar('# nothing\n')).toBeUndefined();
  });

  it('content findings raise a declared level to the floor, never an explicit label, never downwards', () => {
    const declared = { level: 'internal', source: 'path' as const, rule: 'path rule #1' };
    expect(raiseForFindings(declared, scale, 'confidential', 'pii', { email: 2 })).toMatchObject({ level: 'confidential', source: 'content', raisedFrom: 'internal', findings: { email: 2 } });
    expect(raiseForFindings({ ...declared, source: 'label' }, scale, 'confidential', 'pii', { email: 2 }).level).toBe('internal');
    expect(raiseForFindings({ ...declared, level: 'restricted' }, scale, 'confidential', 'pii', { email: 2 }).level).toBe('restricted');
  });
});

class TaggedMemory extends MemoryBackend implements Tagger {
  override readonly features = { ...new MemoryBackend().features, tags: true };
  tags = new Map<string, Record<string, string>>();
  tagCalls = 0;
  async getTags(key: string, _o?: OpOptions): Promise<Record<string, string>> {
    this.tagCalls++;
    return this.tags.get(key) ?? {};
  }
}

function labels(map: Record<string, string>): LabelLookup {
  return {
    labelFor(uri) {
      for (let u = uri; u.length > 0; u = u.replace(/[^/]*\/?$/, '')) {
        const level = map[u];
        if (level) return { uri: u, level, setAt: 0, setBy: 'alice' };
        if (u.endsWith('://')) break;
      }
      return undefined;
    },
  };
}

const piiDetector = (hits: string[]): ContentDetector & { scanned: string[] } => {
  const scanned: string[] = [];
  return {
    name: 'pii',
    scanned,
    async scan(sample, { key }): Promise<Record<string, number>> {
      scanned.push(key);
      if (sample.toString().includes('@')) return { email: 1 };
      return hits.includes(key) ? { ssn: 1 } : {};
    },
  };
};

describe('Classifier', () => {
  const settings = compileClassification({
    levels: ['public', 'internal', 'confidential', 'restricted'],
    sidecar: '.hybridsync-classification',
    rules: [{ path: 'public/**', level: 'public' }],
    objectTags: { enabled: true, key: 'classification' },
    detectors: { pii: { enabled: true, level: 'confidential', maxBytes: 1024, paths: [] } },
  });

  async function setup() {
    const b = new TaggedMemory('mem://src');
    b.put('public/readme.txt', 'hello');
    b.put('public/contacts.txt', 'mail bob@example.com');
    b.put('public/labelled/x.txt', 'x');
    b.put('hr/.hybridsync-classification', 'restricted\n');
    b.put('hr/pay/2024.csv', 'a,b');
    b.put('ml/model.bin', 'weights');
    b.put('ml/tagged.bin', 'weights');
    b.tags.set('ml/tagged.bin', { classification: 'confidential' });
    const detector = piiDetector([]);
    const c = new Classifier({ settings, labels: labels({ 'mem://src/public/labelled/': 'internal', 'mem://src/public/contacts.txt': 'public' }), detector });
    const view = sourceViewOf(b as Backend, () => undefined);
    const of = async (key: string) => c.classify((await b.stat(key))!, view);
    return { b, c, view, of, detector };
  }

  it('applies label > sidecar > path > tag > default, and says which rule decided', async () => {
    const { of } = await setup();
    expect(await of('public/labelled/x.txt')).toMatchObject({ level: 'internal', source: 'label', rule: expect.stringContaining('mem://src/public/labelled/') });
    expect(await of('hr/pay/2024.csv')).toMatchObject({ level: 'restricted', source: 'sidecar', rule: 'sidecar mem://src/hr/.hybridsync-classification' });
    expect(await of('public/readme.txt')).toMatchObject({ level: 'public', source: 'path', rule: 'path rule #1 "public/**"' });
    expect(await of('ml/tagged.bin')).toMatchObject({ level: 'confidential', source: 'tag', rule: 'object tag classification=confidential' });
    expect(await of('ml/model.bin')).toMatchObject({ level: 'internal', source: 'default' });
  });

  it('a file whose sample has PII is at least confidential; a label overrules the detector', async () => {
    const { b, c, view, of, detector } = await setup();
    b.put('public/leak.txt', 'write to eve@example.com');
    expect(await of('public/leak.txt')).toMatchObject({ level: 'confidential', source: 'content', raisedFrom: 'public' });
    expect(await of('public/contacts.txt')).toMatchObject({ level: 'public', source: 'label' });
    // already at or above the floor: nothing is read
    detector.scanned.length = 0;
    await c.classify((await b.stat('hr/pay/2024.csv'))!, view);
    expect(detector.scanned).toEqual([]);
  });

  it('asks the backend for tags only when nothing above decided, and reads each sidecar once', async () => {
    const { b, of } = await setup();
    await of('public/readme.txt');
    await of('hr/pay/2024.csv');
    expect(b.tagCalls).toBe(0);
    let reads = 0;
    const read = b.read.bind(b);
    b.read = async (k, o) => {
      if (k.endsWith('.hybridsync-classification')) reads++;
      return read(k, o);
    };
    await of('ml/model.bin');
    await of('ml/tagged.bin');
    expect(reads).toBe(1); // ml/ once for both files; the root's was looked up before
  });

  it('a sidecar with an unknown level classifies as the highest level and says why', async () => {
    const { b, of } = await setup();
    b.put('odd/.hybridsync-classification', 'top-secret');
    b.put('odd/f', 'x');
    expect(await of('odd/f')).toMatchObject({ level: 'restricted', source: 'sidecar', rule: expect.stringContaining('unknown level "top-secret"') });
  });
});
