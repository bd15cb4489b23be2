import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import type { GovernanceConfig } from '../../../src/config/governance.js';
import { ConfigError } from '../../../src/core/errors.js';
import { sourceViewOf } from '../../../src/governance/classify/classifier.js';
import { resolveLocation } from '../../../src/backends/registry.js';
import { RemoteSet } from '../../../src/config/remotes.js';
import { Governance, GovernanceGate, prepareGovernance } from '../../../src/governance/gate.js';
import { runSync } from '../../../src/sync/execute.js';
import type { SyncEvent } from '../../../src/sync/events.js';
import { StateDb } from '../../../src/sync/state.js';

const config: GovernanceConfig = {
  environments: {
    lab: { locations: ['mem://src'] },
    cloud: { kind: 'cloud', locations: ['mem://dst'] },
  },
  classification: {
    levels: ['public', 'internal', 'confidential', 'restricted'],
    sidecar: '.hybridsync-classification',
    rules: [
      { path: 'secret/**', level: 'restricted' },
      { path: 'people/**', level: 'confidential' },
    ],
    objectTags: { enabled: true, key: 'classification' },
    detectors: { pii: { enabled: true, level: 'confidential', maxBytes: 65536, paths: [] } },
  },
  policy: { unknownEnvironment: 'deny', environments: { cloud: { maxLevel: 'confidential', require: { confidential: ['pii-scrub'] } } } },
};

async function governed(cfg = config) {
  const governance = await Governance.create(cfg);
  const src = new MemoryBackend('mem://src');
  const dst = new MemoryBackend('mem://dst');
  const gate = new GovernanceGate({
    governance,
    classifier: governance.classifier(),
    src: sourceViewOf(src, () => undefined, governance.environmentOf(src.location)),
    dstEnv: governance.environmentOf(dst.location),
    keepNotes: true,
  });
  return { governance, src, dst, gate };
}

describe('GovernanceGate in a run', () => {
  it('never writes denied files, counts and reports them, and tags what it lets through', async () => {
    const { src, dst, gate } = await governed();
    src.put('secret/keys.txt', 'k');
    src.put('notes/plan.txt', 'plain text, nothing personal');
    const events: SyncEvent[] = [];
    const summary = await runSync({ mode: 'sync', src, dst, state: new StateDb(':memory:'), gate, onEvent: (e) => events.push(e) });
    expect([...dst.objects.keys()]).toEqual(['notes/plan.txt']);
    expect(summary.denied).toBe(1);
    expect(events.find((e) => e.type === 'denied')).toMatchObject({ key: 'secret/keys.txt', classification: 'restricted', rule: 'path rule #1 "secret/**"' });
    expect(dst.objects.get('notes/plan.txt')!.metadata).toEqual({ classification: 'internal', 'classification-source': 'default' });
    expect(gate.takeNote('notes/plan.txt')).toMatchObject({ classification: 'internal', reason: expect.stringContaining('allowed in cloud') });
    expect(gate.takeNote('notes/plan.txt')).toBeUndefined();
  });

  it('denies in a dry run too, before anything is planned', async () => {
    const { src, dst, gate } = await governed();
    src.put('secret/keys.txt', 'k');
    const events: SyncEvent[] = [];
    const summary = await runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:'), gate, dryRun: true, onEvent: (e) => events.push(e) });
    expect(summary.denied).toBe(1);
    expect(events.some((e) => e.type === 'plan')).toBe(false);
  });

  it('scrubs confidential data before it reaches the cloud, with hashes before and after', async () => {
    const { src, dst, gate } = await governed();
    const original = 'name,email,notes\nAda,ada@example.com,hello\nBob,bob@example.org,hi\n';
    src.put('people/contacts.csv', original);
    const events: SyncEvent[] = [];
    await runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:'), gate, onEvent: (e) => events.push(e) });
    const stored = dst.objects.get('people/contacts.csv')!.data.toString();
    expect(stored).not.toContain('ada@example.com');
    expect(stored).not.toContain('bob@example.org');
    const t = events.find((e) => e.type === 'transfer');
    expect(t).toMatchObject({ classification: 'confidential', transforms: [{ name: 'pii-scrub', report: expect.objectContaining({ counts: expect.objectContaining({ email: 2 }) }) }] });
    expect(t && t.type === 'transfer' && t.md5Before).not.toBe(t && t.type === 'transfer' && t.md5);
    expect(dst.objects.get('people/contacts.csv')!.metadata['hybridsync-transforms']).toBe('pii-scrub');
  });

  it('raises a file with PII found by content to confidential, and scrubs it', async () => {
    const { src, dst, gate } = await governed();
    src.put('notes/call.txt', 'call me at +44 20 7946 0958 or mail carol@example.net');
    const events: SyncEvent[] = [];
    await runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:'), gate, onEvent: (e) => events.push(e) });
    expect(events.find((e) => e.type === 'transfer')).toMatchObject({ classification: 'confidential' });
    expect(dst.objects.get('notes/call.txt')!.data.toString()).not.toContain('carol@example.net');
  });

  it('stops the run when the audit trail fails (a fatal error before any transfer)', async () => {
    const src = new MemoryBackend('mem://src');
    src.put('a', 'x');
    const dst = new MemoryBackend('mem://dst');
    const gate = new GovernanceGate({ health: () => new ConfigError('cannot write the audit log') });
    await expect(runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:'), gate })).rejects.toThrow(/audit log/);
    expect(dst.objects.size).toBe(0);
  });
});

describe('prepareGovernance', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gov-prep-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('audits a run with no config file, lists denials after the summary, and closes with a signed checkpoint', async () => {
    const err: string[] = [];
    const g = await prepareGovernance({
      loaded: { config: undefined, remotes: RemoteSet.empty() },
      statePath: join(dir, 'state.db'),
      src: resolveLocation(join(dir, 'src')),
      dst: resolveLocation('s3://bucket/x', { s3: { endpoint: 'http://127.0.0.1:1' }, env: {} }),
      openSpec: (spec) => resolveLocation(spec).open(),
      json: false,
      env: {},
      err: { write: (s: string) => err.push(s) } as unknown as NodeJS.WritableStream,
    });
    const state = new StateDb(join(dir, 'state.db'));
    const src = new MemoryBackend('mem://src');
    const gate = g.attach({ src, dst: new MemoryBackend('mem://dst'), state, emit: () => undefined });
    expect(gate).toBeUndefined(); // nothing to classify: the engine runs as without governance
    g.record({ type: 'run-start', runId: 1, mode: 'copy', src: 'a', dst: 'b', dryRun: false });
    g.record({ type: 'denied', key: 'k', size: 1, classification: 'restricted', reason: 'no' });
    g.record({ type: 'summary', summary: { runId: 1, mode: 'copy', dryRun: false, src: 'a', dst: 'b', transferred: 0, bytes: 0, bytesResumed: 0, serverSideCopies: 0, skipped: 0, deleted: 0, failed: 0, denied: 1, deniedKnown: 0, derived: 0, differences: 0, checks: 1, retries: 0, durationMs: 1, rate: 0, deletesHeldBack: 0, status: 'ok' } });
    await g.close();
    state.close();
    expect(err.join('')).toContain('denied by policy: 1 file(s)');
    const types = readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).type);
    expect(types).toEqual(['log-start', 'run-start', 'tls', 'denied', 'run-end', 'checkpoint']);
  });

  it('stops the run through its signal when the audit log cannot be written', async () => {
    mkdirSync(join(dir, 'audit', 'audit.jsonl'), { recursive: true }); // a directory where the log should be
    const err: string[] = [];
    const g = await prepareGovernance({
      loaded: { config: undefined, remotes: RemoteSet.empty() },
      statePath: join(dir, 'state.db'),
      src: resolveLocation(join(dir, 'src')),
      dst: resolveLocation(join(dir, 'dst')),
      openSpec: (spec) => resolveLocation(spec).open(),
      json: true,
      env: {},
      err: { write: (s: string) => err.push(s) } as unknown as NodeJS.WritableStream,
    });
    expect(g.signal.aborted).toBe(false);
    g.record({ type: 'run-start', runId: 1, mode: 'copy', src: 'a', dst: 'b', dryRun: false });
    for (let i = 0; i < 1100 && !g.signal.aborted; i++) g.record({ type: 'skip', key: `k${i}`, reason: 'identical' });
    expect(g.signal.aborted).toBe(true);
    expect(String(g.signal.reason)).toMatch(/cannot write the audit log/);
    await g.close();
    expect(err.join('')).toMatch(/audit trail could not be written, so the run was stopped/);
  });
});
