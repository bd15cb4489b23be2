/**
 * Snapshots, model versions and lineage on local trees, through the library: what a user
 * of `hybridsync snapshot|model|lineage` gets, checked on the files themselves. The same
 * flows against Ceph RGW are in test/int/lineage.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { check, sync } from '../../../src/api/transfer.js';
import { createSnapshot, lineageOf, listModels, listSnapshots, modelsTrainedOn, promoteModel, pushModel, verifySnapshot } from '../../../src/api/lineage.js';
import { readJsonl, tempDir, treeHashes, writeFile } from '../../helpers/fs.js';

let root: string;
let data: string;
let statePath: string;
let repo: string;
let head: string;
const ctx = () => ({ statePath, config: join(root, 'none.yaml') });

beforeAll(() => {
  root = tempDir('lineage');
  writeFileSync(join(root, 'none.yaml'), 'version: 1\n');
  statePath = join(root, 'state', 'state.db');
  data = join(root, 'data');
  writeFile(data, 'train/shard-0.jsonl', '{"x":1}\n{"x":2}\n');
  writeFile(data, 'train/shard-1.jsonl', '{"x":3}\n');
  writeFile(data, 'labels.csv', 'id,label\n1,cat\n');
  // the training code's checkout, with the model written inside it
  repo = join(root, 'repo');
  writeFile(repo, 'train.py', 'print("train")\n');
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } }).trim();
  git('init', '-q');
  git('add', 'train.py');
  git('commit', '-qm', 'train');
  head = git('rev-parse', 'HEAD');
  writeFile(repo, 'out/resnet/weights.bin', Buffer.alloc(4096, 7));
  writeFile(repo, 'out/resnet/config.json', '{"layers":50}\n');
});

describe('the .hybridsync/ directory is never user data', () => {
  it('sync neither copies nor deletes it, on either side, at any depth; check does not count it', async () => {
    const src = tempDir('reserved-src');
    const dst = tempDir('reserved-dst');
    writeFile(src, 'a.txt', 'a');
    writeFile(src, '.hybridsync/manifests/ds-src-0123456789abcdef.json', '{}');
    writeFile(dst, '.hybridsync/manifests/ds-dst-0123456789abcdef.json', '{"keep":true}');
    writeFile(dst, 'sub/.hybridsync/manifests/model-m-v1.json', '{"keep":true}');
    const o = { statePath: join(src, '..', `${Date.now()}-state.db`), config: join(root, 'none.yaml') };
    const s = await sync(src, dst, o);
    expect(s).toMatchObject({ status: 'ok', transferred: 1, deleted: 0 });
    expect(existsSync(join(dst, '.hybridsync/manifests/ds-src-0123456789abcdef.json'))).toBe(false);
    expect(readFileSync(join(dst, '.hybridsync/manifests/ds-dst-0123456789abcdef.json'), 'utf8')).toBe('{"keep":true}');
    expect(readFileSync(join(dst, 'sub/.hybridsync/manifests/model-m-v1.json'), 'utf8')).toBe('{"keep":true}');
    expect((await check(src, dst, o)).differences).toBe(0);
  });
});

describe('snapshot, push, lineage, promote on local trees', () => {
  let snapId: string;

  it('snapshot create records every file with its MD5 at <location>/.hybridsync/manifests/<id>.json', async () => {
    const s = await createSnapshot(data, { ...ctx(), name: 'toy' });
    snapId = s.id;
    expect(s).toMatchObject({ name: 'toy', files: 3, bytes: 16 + 8 + 15 });
    expect(s.id).toBe(`ds-toy-${s.sha256.slice(0, 16)}`);
    const doc = JSON.parse(readFileSync(join(data, '.hybridsync/manifests', `${s.id}.json`), 'utf8')) as { files: Array<{ path: string; md5: string }> };
    expect(new Map(doc.files.map((f) => [f.path, f.md5]))).toEqual(new Map([...treeHashes(data)].filter(([k]) => !k.startsWith('.hybridsync/'))));
    const listed = await listSnapshots(data, ctx());
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ valid: true, info: { id: s.id } });
  });

  it('model push records the snapshot, the run and the commit of the checkout; lineage answers both ways', async () => {
    const r = await pushModel(join(repo, 'out/resnet'), join(root, 'models'), { ...ctx(), run: 'run-1', dataset: 'toy', cwd: root });
    expect(r).toMatchObject({ versionId: 'resnet@1', alreadyPushed: false, run: 'run-1', commit: head, commitDirty: false, files: 2, dataset: { id: snapId } });
    expect(treeHashes(join(root, 'models/resnet/v1'))).toEqual(treeHashes(join(repo, 'out/resnet')));
    const l = await lineageOf('resnet@1', { ...ctx(), files: true });
    expect(l).toMatchObject({ run: 'run-1', commit: head, dataset: { id: snapId, files: 3 } });
    expect(l.datasetFiles!.map((f) => f.path)).toEqual(['labels.csv', 'train/shard-0.jsonl', 'train/shard-1.jsonl']);
    expect(l.modelFiles!.map((f) => f.path)).toEqual(['config.json', 'weights.bin']);
    const rev = await modelsTrainedOn('toy', ctx());
    expect(rev.models.map((m) => m.versionId)).toEqual(['resnet@1']);
    expect((await listModels(join(root, 'models'), ctx())).map((m) => m.info?.versionId)).toEqual(['resnet@1']);
  });

  it('pushing the same version with other bytes is refused and nothing is overwritten; with the same bytes it is a no-op', async () => {
    const before = treeHashes(join(root, 'models'));
    const changed = tempDir('resnet-changed');
    writeFile(changed, 'weights.bin', Buffer.alloc(4096, 8));
    writeFile(changed, 'config.json', '{"layers":50}\n');
    await expect(pushModel(changed, join(root, 'models'), { ...ctx(), model: 'resnet', version: 1, run: 'run-1', dataset: 'toy', commit: head })).rejects.toThrow(/resnet@1 already exists .* immutable; nothing was sent/);
    expect(treeHashes(join(root, 'models'))).toEqual(before);
    const again = await pushModel(join(repo, 'out/resnet'), join(root, 'models'), { ...ctx(), version: 1, run: 'run-1', dataset: 'toy', commit: head });
    expect(again.alreadyPushed).toBe(true);
    expect(treeHashes(join(root, 'models'))).toEqual(before);
  });

  it('promote copies the version to the target, every MD5 checked there, and audits it', async () => {
    const target = join(root, 'prod/resnet');
    const p = await promoteModel('resnet@1', target, ctx());
    expect(p).toMatchObject({ versionId: 'resnet@1', files: 2 });
    expect(treeHashes(target)).toEqual(treeHashes(join(root, 'models/resnet/v1')));
    const audit = readJsonl(join(root, 'state/audit/audit.jsonl'));
    expect(audit.find((r) => r.type === 'promote')).toMatchObject({ version: 'resnet@1', to: `file://${target}/`, files: 2 });
    expect(audit.filter((r) => r.type === 'model-push')).toHaveLength(1);
    expect((await lineageOf('resnet@1', ctx())).promotions.map((x) => x.target)).toEqual([target]);
  });

  it('verify: intact passes; a changed byte, an edited manifest, a deleted file are each reported precisely', async () => {
    expect((await verifySnapshot(data, 'toy', ctx())).ok).toBe(true);
    const shard = join(data, 'train/shard-1.jsonl');
    writeFileSync(shard, '{"x":4}\n'); // same size
    let r = await verifySnapshot(data, 'toy', ctx());
    expect(r.ok).toBe(false);
    expect(r.files!.problems).toEqual([expect.objectContaining({ path: 'train/shard-1.jsonl', kind: 'modified' })]);
    writeFileSync(shard, '{"x":3}\n');

    const manifest = join(data, '.hybridsync/manifests', `${snapId}.json`);
    const original = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, original.replace('"size":8', '"size":9'));
    r = await verifySnapshot(data, 'toy', ctx());
    expect(r.ok).toBe(false);
    expect(r.manifest.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['digest', 'signature', 'index']));
    writeFileSync(manifest, original);

    rmSync(join(data, 'labels.csv'));
    r = await verifySnapshot(data, 'toy', ctx());
    expect(r.files!.problems).toEqual([expect.objectContaining({ path: 'labels.csv', kind: 'missing' })]);
    writeFile(data, 'labels.csv', 'id,label\n1,cat\n');
    expect((await verifySnapshot(data, `toy@${snapId}`, ctx())).ok).toBe(true);
  });

  it('bad input: an unknown snapshot, a location without manifests, no commit: each named with the fix', async () => {
    await expect(verifySnapshot(data, 'nosuch', ctx())).rejects.toThrow(/no snapshot nosuch at .*/);
    await expect(verifySnapshot(join(repo, 'out'), 'toy', ctx())).rejects.toThrow(/no dataset snapshots at .* \(nothing under \.hybridsync\/manifests\/\)/);
    await expect(pushModel(join(repo, 'out/resnet'), join(root, 'models'), { ...ctx(), run: 'r', dataset: 'nosuch', commit: head })).rejects.toThrow(/unknown dataset snapshot nosuch/);
    const outside = tempDir('no-git');
    writeFile(outside, 'm.bin', 'm');
    await expect(pushModel(outside, join(root, 'models'), { ...ctx(), run: 'r', dataset: 'toy', cwd: outside })).rejects.toThrow(/no git commit to record/);
    expect(existsSync(join(root, 'models/no-git'))).toBe(false);
  });
});

describe('model push and promote are governed like any copy', () => {
  it('a file the destination may not hold stops the push (nothing recorded); promotion to the cloud scrubs PII and checks the scrubbed bytes', async () => {
    const g = tempDir('lineage-gov');
    const config = join(g, 'hybridsync.yaml');
    writeFileSync(
      config,
      `environments:
  lab: { kind: onprem, locations: ["${g}/lab/**", "${g}/registry/**"] }
  cloud: { kind: cloud, locations: ["${g}/cloud/**"] }
classification:
  levels: [public, internal, confidential, restricted]
  default: internal
  rules:
    - { path: "**/*.pem", level: restricted }
    - { path: "eval/**", level: confidential }
policy:
  unknownEnvironment: deny
  environments:
    lab: { maxLevel: restricted }
    cloud: { maxLevel: confidential, require: { confidential: [pii-scrub] } }
`,
    );
    const o = { statePath: join(g, 'state', 'state.db'), config };
    writeFile(g, 'lab/data/x.bin', 'x');
    await createSnapshot(join(g, 'lab/data'), { ...o, name: 'gov' });

    writeFile(g, 'lab/bad/weights.bin', 'w');
    writeFile(g, 'lab/bad/deploy.pem', '-----BEGIN PRIVATE KEY-----\n');
    await expect(pushModel(join(g, 'lab/bad'), join(g, 'cloud/models'), { ...o, run: 'r', dataset: 'gov', commit: head })).rejects.toMatchObject({
      kind: 'policy-denied',
      message: expect.stringMatching(/1 file\(s\) denied .*deploy\.pem/),
    });
    expect(existsSync(join(g, 'cloud/models/.hybridsync'))).toBe(false);
    const left = join(g, 'cloud/models');
    expect(existsSync(left) ? [...treeHashes(left).keys()] : []).toEqual([]); // weights.bin, copied before the denial, is removed
    expect(await listModels(undefined, o)).toEqual([]);

    writeFile(g, 'lab/good/weights.bin', Buffer.alloc(100, 1));
    writeFile(g, 'lab/good/eval/predictions.csv', 'id,email,label\n1,ada@example.com,cat\n');
    const pushed = await pushModel(join(g, 'lab/good'), join(g, 'registry'), { ...o, model: 'clf', run: 'r', dataset: 'gov', commit: head });
    expect(pushed.files).toBe(2);
    const p = await promoteModel('clf@1', join(g, 'cloud/prod'), o);
    expect(p.transformed).toEqual(['eval/predictions.csv']);
    const scrubbed = readFileSync(join(g, 'cloud/prod/eval/predictions.csv'), 'utf8');
    expect(scrubbed).not.toContain('ada@example.com');
    expect(readFileSync(join(g, 'cloud/prod/weights.bin'))).toEqual(Buffer.alloc(100, 1));
    expect(readJsonl(join(g, 'state/audit/audit.jsonl')).find((r) => r.type === 'promote')).toMatchObject({ version: 'clf@1', transformed: ['eval/predictions.csv'] });
  });
});
