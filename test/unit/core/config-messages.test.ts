/**
 * What a user reads about a broken hybridsync.yaml: each unknown key at its own line and
 * column with the key it is probably a typo of, and list items numbered from 1 — the same
 * numbers `classify` gives path rules.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { assertGovernanceReferences } from '../../../src/config/governance.js';
import { formatConfigPath } from '../../../src/config/positions.js';
import { compileClassification, describePathRule, matchPathRule } from '../../../src/governance/classify/rules.js';

const messageOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
};

describe('unknown keys in hybridsync.yaml', () => {
  const YAML = [
    'version: 1', //                          1
    'jobs:', //                               2
    '  - name: nightly', //                   3
    '    source: /data/a', //                 4
    '    destination: /data/b', //            5
    '    schedul: "0 22 * * *"', //           6  <- typo
    '    transfer: { transferz: 4 }', //      7  <- typo, col 17
    'links:', //                              8
    '  - name: dx', //                        9
    '    capacity: 10Gbps', //               10
    '    warnabove: 0.5', //                 11  <- case typo
    'polcy: {}', //                          12  <- typo at the top level
    'remotes:', //                           13
    '  onprem:', //                          14
    '    type: s3', //                       15
    '    endpont: https://ceph.example', //  16  <- typo in one option of a union
  ].join('\n');

  it('reports each unknown key at its own line:column, in file order, with the key it is a typo of', () => {
    const lines = messageOf(() => parseConfig(YAML, 'h.yaml')).split('\n');
    // zod reports these on the enclosing object (line 3, 9, 1); the message names the key itself
    expect(lines).toEqual([
      'h.yaml:6:5: jobs#1.schedul: unknown key; did you mean "schedule"?',
      'h.yaml:7:17: jobs#1.transfer.transferz: unknown key; did you mean "transfers"?',
      'h.yaml:11:5: links#1.warnabove: unknown key; did you mean "warnAbove"?',
      'h.yaml:12:1: polcy: unknown key; did you mean "policy"?',
      'h.yaml:16:5: remotes.onprem.endpont: unknown key; did you mean "endpoint"?',
    ]);
  });

  it('suggests from the right option of a union, and lists the allowed keys when none is close', () => {
    const text = 'remotes:\n  blobs:\n    type: azureblob\n    acount: acct\n    zzqqxx: 1\n';
    const lines = messageOf(() => parseConfig(text, 'h.yaml')).split('\n');
    expect(lines[0]).toBe('h.yaml:4:5: remotes.blobs.acount: unknown key; did you mean "account"?');
    expect(lines[1]).toMatch(/^h\.yaml:5:5: remotes\.blobs\.zzqqxx: unknown key; allowed here: type, description, account, endpoint, connectionStringEnv, /);
    expect(lines[1]).not.toMatch(/secretAccessKeyEnv/); // an s3 key is no help in an azureblob remote
  });
});

describe('rule and item numbers', () => {
  const RULES = [
    'classification:', //                                       1
    '  rules:', //                                              2
    '    - { path: "public/**", level: public }', //            3
    '    - { path: "hr/**", level: secret }', //                4  <- rule #2: unknown level
  ].join('\n');

  it('names the second path rule #2 in config errors, as classify does', () => {
    const c = parseConfig(RULES, 'h.yaml');
    expect(messageOf(() => assertGovernanceReferences(c, RULES, 'h.yaml'))).toMatch(/^h\.yaml:4:\d+: classification\.rules#2\.level: unknown level "secret"/);
    const fixed = parseConfig(RULES.replace('secret', 'restricted'), 'h.yaml');
    const rule = matchPathRule(compileClassification(fixed.classification).rules, { fullPath: '/data/hr/pay.csv' })!;
    expect(describePathRule(rule)).toBe('path rule #2 "hr/**"');
  });

  it('numbers items from 1 in schema errors too (jobs#1, links#2)', () => {
    const text = 'links:\n  - { name: a, capacity: 1Gbps }\n  - { name: b, capacity: 10GB }\n';
    expect(messageOf(() => parseConfig(text, 'h.yaml'))).toMatch(/^h\.yaml:3:\d+: links#2\.capacity: not a line rate/);
    expect(formatConfigPath(['classification', 'rules', 0, 'level'])).toBe('classification.rules#1.level');
    expect(formatConfigPath(['environments', '0', 'remotes', 2])).toBe('environments.0.remotes#3'); // a key named "0" is a key
    expect(formatConfigPath([])).toBe('(top level)');
  });
});

describe('volumes in jobs', () => {
  it('refuses a job volume without a unit, quoted or not, at its line', () => {
    const job = (volume: string): string => `jobs:\n  - name: a\n    source: /a\n    destination: /b\n    volume: ${volume}\n`;
    expect(messageOf(() => parseConfig(job('"40"'), 'h.yaml'))).toMatch(/^h\.yaml:5:13: jobs#1\.volume: "40" has no unit, so it would mean 40 bytes: use a unit, e\.g\. 40TB/);
    expect(messageOf(() => parseConfig(job('40'), 'h.yaml'))).toMatch(/^h\.yaml:5:13: jobs#1\.volume: a size with its unit, e\.g\. 40TB \(10\^12 bytes\)/);
    expect(parseConfig(job('40TB'), 'h.yaml').jobs?.[0]?.volume).toBe('40TB');
    expect(parseConfig(job('512B'), 'h.yaml').jobs?.[0]?.volume).toBe('512B');
  });
});
