import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { assertGovernanceReferences } from '../../../src/config/governance.js';
import { loadGovernanceConfig } from '../../../src/governance/gate.js';

const example = new URL('../../../examples/hybridsync.yaml', import.meta.url);

describe('governance config', () => {
  it('the example config is valid', () => {
    const text = readFileSync(example, 'utf8');
    const c = parseConfig(text, 'hybridsync.yaml');
    expect(() => assertGovernanceReferences(c, text, 'hybridsync.yaml')).not.toThrow();
    expect(c.policy?.environments['aws-us-east-1']).toEqual({ maxLevel: 'confidential', require: { confidential: ['pii-scrub'] } });
    expect(c.audit).toMatchObject({ enabled: true, checkpointEvery: 1000 });
  });

  it('the published JSON schema describes the governance sections', () => {
    const schema = JSON.parse(readFileSync(new URL('../../../schema/hybridsync.schema.json', import.meta.url), 'utf8')) as { properties: Record<string, { properties?: Record<string, unknown> }> };
    for (const k of ['environments', 'classification', 'policy', 'audit', 'tls', 'pii']) expect(schema.properties).toHaveProperty(k);
    expect(schema.properties.tls!.properties).toHaveProperty('endpoints');
  });

  it('reports schema errors and dangling references with line and column', () => {
    expect(() => parseConfig('policy:\n  environments:\n    cloud:\n      maxLevel: 3\n', 'h.yaml')).toThrow(/h\.yaml:4:17: policy\.environments\.cloud\.maxLevel/);
    const text = 'environments:\n  cloud:\n    locations: [s3://x]\npolicy:\n  environments:\n    cloud:\n      maxLevel: secret\n    moon:\n      maxLevel: public\n';
    const c = parseConfig(text, 'h.yaml');
    expect(() => assertGovernanceReferences(c, text, 'h.yaml')).toThrow(/h\.yaml:7:17: policy\.environments\.cloud\.maxLevel: unknown level "secret"[\s\S]*h\.yaml:9:7: policy\.environments\.moon: unknown environment "moon"/);
  });

  it('finds the config from --config, HYBRIDSYNC_CONFIG or ./hybridsync.yaml, and none otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gov-cfg-'));
    try {
      expect(loadGovernanceConfig(undefined, {}, dir).config).toBeUndefined();
      writeFileSync(join(dir, 'hybridsync.yaml'), 'audit:\n  checkpointEvery: 7\n');
      expect(loadGovernanceConfig(undefined, {}, dir)).toMatchObject({ config: { audit: { checkpointEvery: 7 } }, file: join(dir, 'hybridsync.yaml') });
      writeFileSync(join(dir, 'other.yaml'), 'audit:\n  checkpointEvery: 9\n');
      expect(loadGovernanceConfig(undefined, { HYBRIDSYNC_CONFIG: 'other.yaml' }, dir).config?.audit?.checkpointEvery).toBe(9);
      expect(() => loadGovernanceConfig('missing.yaml', {}, dir)).toThrow(/cannot read config file/);
      writeFileSync(join(dir, 'rel.yaml'), 'environments:\n  x:\n    locations: [data/x]\n');
      expect(() => loadGovernanceConfig('rel.yaml', {}, dir)).toThrow(/absolute path, a URL or REMOTE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
