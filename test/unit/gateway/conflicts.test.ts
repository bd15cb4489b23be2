/**
 * Conflicts between a write through the gateway and the cloud: the pure decision (did the
 * cloud change since the write was made?) and the write-back settling them by the source of
 * truth — over an in-memory upstream and an uploader that copies the outbox into it. The
 * gateway process against Ceph with a config's datasets is in test/int/gateway.test.ts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import type { Entry } from '../../../src/core/entry.js';
import type { ConflictRow } from '../../../src/gateway/cache-index.js';
import { cloudChange, type KeyTruth } from '../../../src/gateway/conflicts.js';
import { GatewayCore } from '../../../src/gateway/gateway.js';
import { WriteBack, type BatchUploader } from '../../../src/gateway/writeback.js';
import { tempDir } from '../../helpers/fs.js';

const up = (etag: string, mtimeMs = 1000): Entry => ({ key: 'k', size: 1, mtimeMs, mtimeExact: false, etag });

describe('cloudChange', () => {
  const put = { op: 'put' as const, md5: 'a'.repeat(32), sinceMs: 5000 };
  it('a known base: changed when the cloud ETag differs or the object is gone; unchanged when it is the base', () => {
    expect(cloudChange({ ...put, base: 'e1' }, up('e1'))).toBeUndefined();
    expect(cloudChange({ ...put, base: 'e1' }, up('e2'))).toMatchObject({ cloudEtag: 'e2', why: expect.stringMatching(/ETag e1 when this write was accepted, now e2/) });
    expect(cloudChange({ ...put, base: 'e1' }, undefined)).toMatchObject({ cloudEtag: null, why: expect.stringMatching(/deleted in the cloud/) });
  });
  it("'' (known absent): changed when an object appeared; null (unknown): changed when modified after the write", () => {
    expect(cloudChange({ ...put, base: '' }, undefined)).toBeUndefined();
    expect(cloudChange({ ...put, base: '' }, up('e3'))).toMatchObject({ why: expect.stringMatching(/created in the cloud/) });
    expect(cloudChange({ ...put, base: null }, up('e4', 4000))).toBeUndefined();
    expect(cloudChange({ ...put, base: null }, up('e4', 6000))).toMatchObject({ cloudEtag: 'e4' });
  });
  it('not a conflict: the cloud already holds exactly this write (a lost reply), or a delete finds nothing', () => {
    expect(cloudChange({ ...put, base: 'e1' }, up('a'.repeat(32)))).toBeUndefined();
    expect(cloudChange({ op: 'delete', md5: null, sinceMs: 0, base: 'e1' }, undefined)).toBeUndefined();
    expect(cloudChange({ op: 'delete', md5: null, sinceMs: 0, base: 'e1' }, up('e9'))).toMatchObject({ cloudEtag: 'e9' });
  });
});

const opened: Array<{ core: GatewayCore; wb: WriteBack }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.wb.stop();
    o.core.close();
  }
});

/** A gateway over memory whose key `d/x` was read (so its base is known), rewritten locally, and changed in the cloud before the upload. */
async function conflicted(truth: KeyTruth) {
  const upstream = new MemoryBackend('mem://up');
  upstream.put('d/x', 'v1 from the cloud');
  const cacheDir = tempDir('gw-conflict');
  const core = await GatewayCore.open({ upstream, cacheDir, maxSize: 1e9 });
  const e = await core.lookup('d/x');
  for await (const _ of core.read(e!, 0, e!.size)) void _;
  const conflicts: ConflictRow[] = [];
  const uploads: string[] = [];
  // as the engine's sync run: every file in the outbox goes up
  const upload: BatchUploader = async ({ outbox, puts, deletes }) => {
    for (const k of (readdirSync(outbox, { recursive: true }) as string[]).filter((f) => statSync(join(outbox, f)).isFile())) {
      upstream.put(k, readFileSync(join(outbox, k)), Date.now());
      uploads.push(k);
    }
    for (const k of deletes) await upstream.remove(k);
    return new Map([...puts, ...deletes].map((k) => [k, { ok: true as const }]));
  };
  const wb = new WriteBack(core, upload, { pollMs: 20, truthOf: () => truth, onConflict: (c) => conflicts.push(c) });
  opened.push({ core, wb });
  await core.put('d/x', Readable.from([Buffer.from('written on-prem')]), { size: 15 });
  await core.put('d/y', Readable.from([Buffer.from('no conflict')]), { size: 11 }); // in the same batch: the run happens
  upstream.put('d/x', 'v2 written in the cloud meanwhile', 1_800_000_000_000);
  wb.start();
  const flushed = await wb.flush();
  const local = async (): Promise<string> => {
    const now = await core.lookup('d/x');
    let s = '';
    for await (const b of core.read(now!, 0, now!.size)) s += b.toString();
    return s;
  };
  return { upstream, core, wb, cacheDir, conflicts, uploads, flushed, local };
}

describe('the write-back settles a conflict by the source of truth', () => {
  it("ssot onprem (the gateway wins): the write goes up over the cloud's version, recorded", async () => {
    const t = await conflicted({ dataset: 'labels', ssot: 'onprem', winner: 'gateway' });
    expect((await t.upstream.stat('d/x'))?.size).toBe(15);
    expect(t.conflicts).toEqual([expect.objectContaining({ key: 'd/x', outcome: 'gateway-won', dataset: 'labels', ssot: 'onprem', kept: null })]);
    expect(t.core.journal()).toEqual([]);
  });

  it("ssot cloud (the cloud wins): nothing uploaded, the gateway shows the cloud's version, the write is kept under conflicts/ and recorded", async () => {
    const t = await conflicted({ dataset: 'labels', ssot: 'cloud', winner: 'cloud' });
    expect(t.uploads).toEqual(['d/y']);
    expect(existsSync(join(t.cacheDir, 'data', 'd', 'x')), 'the written file left the tree').toBe(false);
    expect(await t.local()).toBe('v2 written in the cloud meanwhile');
    const [c] = t.conflicts;
    expect(c).toMatchObject({ outcome: 'cloud-won', kept: expect.stringMatching(/\/conflicts\/\d{8}T\d{6}Z\/d\/x$/) });
    expect(readFileSync(c!.kept!, 'utf8')).toBe('written on-prem');
    expect(t.core.journal()).toEqual([]);
  });

  it('none declared: held, not uploaded, still served locally, named by flush; resolve --keep gateway uploads it, --keep cloud keeps it aside', async () => {
    const t = await conflicted({});
    expect(t.uploads).toEqual(['d/y']);
    expect(t.flushed.conflicts).toEqual(['d/x']);
    expect(t.core.journal()).toEqual([expect.objectContaining({ key: 'd/x', status: 'conflict', lastError: expect.stringMatching(/no source of truth is declared.*gateway resolve d\/x --keep gateway\|cloud/) })]);
    expect(await t.local()).toBe('written on-prem');
    expect((await t.upstream.stat('d/x'))?.size).toBe(33);
    await expect(t.wb.resolve('d/other', 'gateway')).rejects.toThrow(/has no conflict to resolve/);
    await t.wb.resolve('d/x', 'gateway');
    await t.wb.flush();
    expect(t.uploads).toEqual(['d/y', 'd/x']);
    expect(t.conflicts.map((c) => c.outcome)).toEqual(['held', 'gateway-won']);

    const u = await conflicted({});
    const r = await u.wb.resolve('d/x', 'cloud');
    expect(readFileSync(r.kept!, 'utf8')).toBe('written on-prem');
    expect(await u.local()).toBe('v2 written in the cloud meanwhile');
    expect(u.uploads).toEqual(['d/y']);
  });

  it('a write made over an object the gateway never saw pins its base with one HEAD, so a later cloud change is still caught', async () => {
    const upstream = new MemoryBackend('mem://up');
    upstream.put('n', 'old, in the cloud before the write');
    const core = await GatewayCore.open({ upstream, cacheDir: tempDir('gw-pin'), maxSize: 1e9 });
    const wb = new WriteBack(core, async () => new Map(), { pollMs: 20 });
    opened.push({ core, wb });
    await core.put('n', Readable.from([Buffer.from('new')]), { size: 3 });
    for (let i = 0; i < 100 && core.journal()[0]?.base === null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(core.journal()[0]?.base).toBe((await upstream.stat('n'))!.md5);
  });
});
