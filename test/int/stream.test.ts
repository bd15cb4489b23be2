/**
 * Streaming lanes against a real Ceph RGW, through the built CLI as a user runs it:
 * a pusher with several segments in flight, SIGKILLed again and again while a writer
 * appends, still ships every byte exactly once, cut at record boundaries; rotation and
 * truncation are followed; a puller killed again and again rebuilds the file exactly; a
 * segment that arrives after a later one (in flight) is waited for, a missing one stops the
 * pull naming it; a lane under a PII-scrub policy stores no planted PII value, and audits
 * every segment; a lane to or from a place no environment declares is refused up front.
 */
import Database from 'better-sqlite3';
import { CopyObjectCommand, GetObjectCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteOptions } from '../../src/lib/sqlite.js';
import { parseSegmentKey } from '../../src/stream/keys.js';
import { events, runCli, spawnCli } from '../helpers/cli.js';
import { readJsonl, tempDir } from '../helpers/fs.js';
import { createTestBucket, deleteBucket, listAll, testClient } from '../helpers/s3.js';

let client: S3Client;
let bucket: string;
beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'stream');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});

async function getObject(key: string): Promise<Buffer> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const chunks: Buffer[] = [];
  for await (const c of r.Body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Segment objects under `prefix`, in key order, parsed. */
async function segments(prefix: string) {
  const objs = await listAll(client, bucket, prefix);
  return objs.map((o) => ({ ...o, seg: parseSegmentKey(o.key.slice(prefix.length))! }));
}

/** The concatenation of each (file-id, generation)'s segments in key order. */
async function streams(prefix: string): Promise<Map<string, { data: Buffer; segs: Array<{ start: number; end: number; seq: number; data: Buffer }> }>> {
  const out = new Map<string, { data: Buffer; segs: Array<{ start: number; end: number; seq: number; data: Buffer }> }>();
  for (const o of await segments(prefix)) {
    const id = `${o.seg.fileId}/${o.seg.generation}`;
    const data = await getObject(o.key);
    const s = out.get(id) ?? { data: Buffer.alloc(0), segs: [] };
    s.segs.push({ start: o.seg.start, end: o.seg.end, seq: o.seg.seq, data });
    s.data = Buffer.concat([s.data, data]);
    out.set(id, s);
  }
  return out;
}

/** Contiguous: seq 0,1,2… and each segment starts where the last ended, from 0. */
function expectContiguous(segs: Array<{ start: number; end: number; seq: number }>): void {
  let end = 0;
  segs.forEach((s, i) => {
    expect(s.seq).toBe(i);
    expect(s.start).toBe(end);
    end = s.end;
  });
}

/**
 * A writer process: appends JSONL records in writes that often end inside a record, until
 * the file `stop` exists; then it completes the last record and exits.
 */
/** Writers still running: a test that fails before it stops its writer must not leave it appending forever. */
const writers = new Set<ChildProcess>();
afterAll(() => {
  for (const w of writers) w.kill('SIGKILL');
});

function startWriter(file: string, stop: string, pauseMs: number): ChildProcess {
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(file)}, 'a');
    let pending = '';
    let i = 0;
    const tick = () => {
      const last = fs.existsSync(${JSON.stringify(stop)});
      if (!last) for (let k = 0; k < 5; k++, i++) pending += JSON.stringify({ i, pad: 'x'.repeat((i * 37) % 300) }) + '\\n';
      const cut = last ? pending.length : Math.floor(pending.length * 0.7);
      fs.writeSync(fd, pending.slice(0, cut));
      pending = pending.slice(cut);
      if (last) { fs.closeSync(fd); return; }
      setTimeout(tick, ${pauseMs});
    };
    tick();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  writers.add(child);
  child.on('exit', () => writers.delete(child));
  return child;
}

/** Runs the CLI until `ready` says so (polled on observed progress, not a timer), then SIGKILLs it. */
async function killWhen(args: string[], env: NodeJS.ProcessEnv, ready: (stdout: string) => Promise<boolean> | boolean, maxMs = 60_000): Promise<void> {
  const child = spawnCli(args, env);
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const start = Date.now();
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !(await ready(stdout)) && Date.now() - start < maxMs) await sleep(20);
  child.kill('SIGKILL');
  await exited;
}

const segmentEvents = (stdout: string): number => events(stdout).filter((e) => e.type === 'segment').length;

/**
 * What a killed pusher left in its journal: the segments journaled and not committed. They
 * must be the contiguous run of seqs and byte ranges right after the committed offset.
 */
function journaledInFlight(stateDir: string): number {
  const db = new Database(join(stateDir, 'stream.db'), { ...sqliteOptions(), readonly: true });
  try {
    let n = 0;
    for (const f of db.prepare('SELECT file_id, generation, offset, next_seq FROM push_files').all() as Array<{ file_id: string; generation: number; offset: number; next_seq: number }>) {
      const intents = db.prepare('SELECT seq, start, end, generation FROM push_intents WHERE file_id = ? ORDER BY seq').all(f.file_id) as Array<{ seq: number; start: number; end: number; generation: number }>;
      let [seq, start] = [f.next_seq, f.offset];
      for (const i of intents) {
        expect(i).toMatchObject({ generation: f.generation, seq, start });
        [seq, start] = [i.seq + 1, i.end];
      }
      n += intents.length;
    }
    return n;
  } finally {
    db.close();
  }
}

describe('stream push', () => {
  it('with 4 segments in flight, SIGKILLed many times while a writer appends: the segments concatenate to the file byte for byte, each ending at a record boundary', async () => {
    const dir = tempDir('stream-src');
    const file = join(dir, 'features.jsonl');
    writeFileSync(file, '');
    const stateDir = tempDir('stream-state');
    const env = { HYBRIDSYNC_STATE_DIR: stateDir };
    const prefix = 'kill/';
    const args = ['stream', 'push', file, `s3://${bucket}/kill`, '--segment-size', '12K', '--segment-age', '150ms', '--poll', '20ms', '--in-flight', '4', '--json'];
    const stop = join(dir, 'stop');
    const writer = startWriter(file, stop, 40);
    const writerDone = new Promise<void>((r) => writer.on('exit', () => r()));

    let kills = 0;
    const leftInFlight: number[] = [];
    for (let round = 0; round < 12; round++) {
      if (round % 3 === 2) {
        // while the journal holds segments not yet committed (read from the running process's journal)
        await killWhen(args, env, () => existsSync(join(stateDir, 'stream.db')) && journaledInFlight(stateDir) >= 2);
      } else if (round % 3 === 0) {
        // right after a segment event: between the audit record and the offset commit
        await killWhen(args, env, (out) => segmentEvents(out) >= 1 + (round % 2));
      } else {
        // once the object count grew: the upload landed, anything after it may not have
        const before = (await listAll(client, bucket, prefix)).length;
        await killWhen(args, env, async () => (await listAll(client, bucket, prefix)).length > before + (round % 3));
      }
      kills++;
      const journaled = journaledInFlight(stateDir);
      if (journaled > 0 && !leftInFlight.some((n) => n > 0)) {
        // stream status tells the user what the killed run left for the next one
        const st = await runCli(['stream', 'status', '--json'], { env });
        expect(JSON.parse(st.stdout.trim().split('\n')[0]!)).toMatchObject({ inFlight: journaled, running: false });
      }
      leftInFlight.push(journaled);
    }
    // the backlog of each restart goes out several segments at once: some kills hit them in flight
    expect(Math.max(...leftInFlight), `segments journaled at each kill: ${leftInFlight.join(' ')}`).toBeGreaterThanOrEqual(1);
    writeFileSync(stop, '');
    await writerDone;
    const final = await runCli([...args, '--once'], { env });
    expect(final.code, final.stderr).toBe(0);
    expect(kills).toBe(12);

    const want = readFileSync(file);
    const got = await streams(prefix);
    expect(got.size).toBe(1); // one file, one generation
    const [s] = [...got.values()];
    expectContiguous(s!.segs);
    expect(s!.segs.length).toBeGreaterThan(20);
    expect(s!.data.length).toBe(want.length);
    expect(s!.data.equals(want)).toBe(true);
    for (const seg of s!.segs) {
      expect(seg.data.at(-1)).toBe(0x0a); // every segment ends at a record boundary
      expect(seg.data.length).toBe(seg.end - seg.start);
    }
    // every record of the file arrived once
    const lines = s!.data.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
    expect(lines).toEqual(Array.from({ length: lines.length }, (_, i) => i));

    const status = await runCli(['stream', 'status', '--json'], { env });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout.trim().split('\n')[0]!)).toMatchObject({ direction: 'push', lagBytes: 0, inFlight: 0, running: false });
  }, 600_000);

  it('follows rotation by rename to the end of the old file, starts a generation on truncation, and ships a file under 1 KiB', async () => {
    const dir = tempDir('stream-rot');
    const file = join(dir, 'app.log');
    writeFileSync(file, 'first line\n');
    const env = { HYBRIDSYNC_STATE_DIR: tempDir('stream-rot-state') };
    const prefix = 'rot/';
    const child = spawnCli(['stream', 'push', file, `s3://${bucket}/rot`, '--segment-age', '100ms', '--poll', '20ms', '--rotate-quiet', '400ms', '--json'], env);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const shipped = async (bytes: number): Promise<void> => {
      for (;;) {
        const total = (await segments(prefix)).reduce((n, o) => n + o.size, 0);
        if (total >= bytes) return;
        await sleep(30);
      }
    };
    let total = 11;
    await shipped(total); // a 11-byte file is shipped
    appendFileSync(file, 'second line\n');
    total += 12;
    await shipped(total);

    // rotate: rename, a new file at the old name; the writer still appends to the old inode
    renameSync(file, join(dir, 'app.log.1'));
    appendFileSync(join(dir, 'app.log.1'), 'late line to the rotated file\n');
    writeFileSync(file, 'new file line 1\n');
    total += 30 + 16;
    await shipped(total);

    // truncate the new file and write other content: a new generation
    appendFileSync(file, 'new file line 2\n');
    total += 16;
    await shipped(total);
    truncateSync(file, 0);
    appendFileSync(file, 'after truncation\n');
    total += 17;
    await shipped(total);
    child.kill('SIGTERM');
    expect(await exited).toBe(130);

    const got = await streams(prefix);
    const byContent = [...got.entries()].map(([id, s]) => ({ id, text: s.data.toString() }));
    expect(byContent.map((x) => x.text).sort()).toEqual(['after truncation\n', 'first line\nsecond line\nlate line to the rotated file\n', 'new file line 1\nnew file line 2\n'].sort());
    const rotated = byContent.find((x) => x.text.startsWith('first'))!;
    const gen0 = byContent.find((x) => x.text.startsWith('new file'))!;
    const gen1 = byContent.find((x) => x.text.startsWith('after'))!;
    expect(rotated.id.endsWith('/0')).toBe(true);
    // the truncated file keeps its file id; its new content is generation 1
    expect(gen0.id.replace(/\/0$/, '')).toBe(gen1.id.replace(/\/1$/, ''));
    expect(gen1.id.endsWith('/1')).toBe(true);
    expect(rotated.id.split('/')[0]).not.toBe(gen0.id.split('/')[0]);
    for (const s of got.values()) expectContiguous(s.segs);
    expect(events(stdout).some((e) => e.type === 'notice' && String(e.message).includes('truncated'))).toBe(true);
  });
});

describe('stream pull', () => {
  it('killed and restarted many times: the local file equals the concatenation of the segments exactly; a missing segment stops the lane naming it', async () => {
    const dir = tempDir('stream-pull-src');
    const file = join(dir, 'events.log');
    const lines: string[] = [];
    for (let i = 0; i < 1500; i++) lines.push(`event ${i} ${'y'.repeat((i * 13) % 200)}\n`);
    writeFileSync(file, lines.join(''));
    const pushEnv = { HYBRIDSYNC_STATE_DIR: tempDir('stream-pull-push-state') };
    const push = await runCli(['stream', 'push', file, `s3://${bucket}/pull`, '--segment-size', '2K', '--in-flight', '4', '--once'], { env: pushEnv });
    expect(push.code, push.stderr).toBe(0);
    const segs = await segments('pull/');
    expect(segs.length).toBeGreaterThan(50);

    const out = tempDir('stream-pull-dst');
    const env = { HYBRIDSYNC_STATE_DIR: tempDir('stream-pull-state') };
    const args = ['stream', 'pull', `s3://${bucket}/pull`, out, '--poll', '20ms', '--json'];
    const local = join(out, segs[0]!.seg.fileId, '000000');
    const size = (): number => (existsSync(local) ? statSync(local).size : 0);
    for (let round = 0; round < 10; round++) {
      const before = size();
      if (round % 2 === 0) await killWhen(args, env, () => size() > before);
      else await killWhen(args, env, (o) => segmentEvents(o) >= 1 + (round % 3));
    }
    const final = await runCli([...args, '--once'], { env });
    expect(final.code, final.stderr).toBe(0);
    expect(readFileSync(local).equals(readFileSync(file))).toBe(true);
    expect(readdirSync(out)).toEqual([segs[0]!.seg.fileId]);

    // a missing middle segment: a fresh lane stops at it, naming it, and exits non-zero
    const gone = segs[40]!;
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: gone.key }));
    const out2 = tempDir('stream-pull-gap');
    const r = await runCli(['stream', 'pull', `s3://${bucket}/pull`, out2, '--once'], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`missing segment s3://${bucket}/pull/${gone.seg.fileId}/000000/${String(gone.seg.seq).padStart(10, '0')}-${String(gone.seg.start).padStart(15, '0')}`);
    // at once: the later segments prove it was stored (a pusher storing 4 at once had cut seq 44 only after it)
    expect(r.stderr).toMatch(/storing at most 4 at once/);
    // everything before the gap was applied, nothing after it
    expect(statSync(join(out2, gone.seg.fileId, '000000')).size).toBe(gone.seg.start);
  }, 600_000);

  it('a segment that appears after later ones (still in flight) is waited for and applied in order; a hole no pusher could still be storing is named after --gap-grace', async () => {
    const dir = tempDir('stream-ooo-src');
    const file = join(dir, 'events.log');
    writeFileSync(file, Array.from({ length: 300 }, (_, i) => `event ${i} ${'z'.repeat((i * 7) % 90)}\n`).join(''));
    const push = await runCli(['stream', 'push', file, `s3://${bucket}/ooo-src`, '--segment-size', '2K', '--in-flight', '4', '--once'], { env: { HYBRIDSYNC_STATE_DIR: tempDir('stream-ooo-push') } });
    expect(push.code, push.stderr).toBe(0);
    const segs = await segments('ooo-src/');
    expect(segs.length).toBeGreaterThan(8);
    // the object store as a reader sees it while the pusher's last segments are in flight:
    // the next-to-last segment not there yet, the last one (cut after it) already there
    const late = segs.at(-2)!;
    const copy = async (to: string, o: { key: string }): Promise<void> => {
      await client.send(new CopyObjectCommand({ Bucket: bucket, CopySource: `${bucket}/${o.key}`, Key: `${to}/${o.key.slice('ooo-src/'.length)}` }));
    };
    for (const o of segs) if (o !== late) await copy('ooo', o);

    const out = tempDir('stream-ooo-dst');
    const local = join(out, late.seg.fileId, '000000');
    const child = spawnCli(['stream', 'pull', `s3://${bucket}/ooo`, out, '--poll', '50ms', '--gap-grace', '10m', '--json'], { HYBRIDSYNC_STATE_DIR: tempDir('stream-ooo-state') });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // it applies everything before the gap, says it waits, and applies nothing after it
    while (!events(stdout).some((e) => e.type === 'notice' && String(e.message).includes('waiting for it'))) {
      expect(child.exitCode, stdout).toBeNull();
      await sleep(50);
    }
    while (!existsSync(local) || statSync(local).size < late.seg.start) await sleep(50);
    expect(statSync(local).size).toBe(late.seg.start);
    // the segment lands: the lane goes on, in order, to the end
    await copy('ooo', late);
    while (statSync(local).size < statSync(file).size) await sleep(50);
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect(readFileSync(local).equals(readFileSync(file))).toBe(true);
    expect(events(stdout).filter((e) => e.type === 'segment').map((e) => e.seq)).toEqual(segs.map((_, i) => i));

    // a hole that never fills, with too few segments after it to prove it was stored: named once the grace is over
    for (const o of segs) if (o !== late) await copy('hole', o);
    const out2 = tempDir('stream-hole-dst');
    const r = await runCli(['stream', 'pull', `s3://${bucket}/hole`, out2, '--poll', '50ms', '--gap-grace', '1s', '--once'], { env: { HYBRIDSYNC_STATE_DIR: tempDir('stream-hole-state') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`missing segment s3://${bucket}/hole/${late.seg.fileId}/000000/${String(late.seg.seq).padStart(10, '0')}-${String(late.seg.start).padStart(15, '0')}`);
    expect(r.stderr).toMatch(/has been missing for \d+s while later segments exist \(--gap-grace 1s\)/);
    expect(statSync(join(out2, late.seg.fileId, '000000')).size).toBe(late.seg.start);
  });

  it('plain mode: new objects under a prefix become local files', async () => {
    const put = async (key: string, body: string): Promise<void> => {
      const { PutObjectCommand } = await import('@aws-sdk/client-s3');
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    };
    await put('infer/2026/12/01/00/a.jsonl', '{"a":1}\n');
    await put('infer/2026/12/01/01/b.jsonl', '{"b":2}\n');
    const out = tempDir('stream-plain');
    const env = { HYBRIDSYNC_STATE_DIR: tempDir('stream-plain-state') };
    const args = ['stream', 'pull', `s3://${bucket}/infer`, out, '--mode', 'plain', '--once', '--json'];
    const r1 = await runCli(args, { env });
    expect(r1.code, r1.stderr).toBe(0);
    await put('infer/2026/12/01/02/c.jsonl', '{"c":3}\n');
    const r2 = await runCli(args, { env });
    expect(r2.code, r2.stderr).toBe(0);
    expect(events(r2.stdout).filter((e) => e.type === 'segment').map((e) => e.key)).toEqual(['2026/12/01/02/c.jsonl']); // only the new one
    expect(readFileSync(join(out, '2026/12/01/00/a.jsonl'), 'utf8')).toBe('{"a":1}\n');
    expect(readFileSync(join(out, '2026/12/01/02/c.jsonl'), 'utf8')).toBe('{"c":3}\n');
  });
});

describe('stream governance', () => {
  it('a lane under a PII-scrub policy stores no planted PII value; every segment is audited and the audit trail verifies', async () => {
    const stateDir = tempDir('stream-gov-state');
    const dir = tempDir('stream-gov-src');
    const config = join(stateDir, 'hybridsync.yaml');
    writeFileSync(
      config,
      `environments:
  onprem:
    kind: onprem
    locations: ["${dir}"]
  cloud:
    kind: cloud
    locations: ["s3://${bucket}"]
classification:
  rules:
    - path: "**/*.jsonl"
      level: confidential
    - path: "**/*.csv"
      level: confidential
policy:
  environments:
    cloud:
      maxLevel: confidential
      require:
        confidential: [pii-scrub]
`,
    );
    const planted: string[] = [];
    const jsonl: string[] = [];
    const csv: string[] = ['id,email,note\n'];
    for (let i = 0; i < 400; i++) {
      const email = `user${i}.planted@example.com`;
      const phone = `+1 415 555 ${String(1000 + i).slice(-4)}`;
      planted.push(email);
      jsonl.push(`${JSON.stringify({ id: i, email, text: `call me at ${phone}`, score: i / 10 })}\n`);
      csv.push(`${i},${email},"line one\nline two ${i}"\n`);
    }
    writeFileSync(join(dir, 'clicks.jsonl'), jsonl.join(''));
    writeFileSync(join(dir, 'users.csv'), csv.join(''));
    const env = { HYBRIDSYNC_STATE_DIR: stateDir };
    const r = await runCli(['stream', 'push', dir, `s3://${bucket}/gov`, '--config', config, '--segment-size', '4K', '--once', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const segEvents = events(r.stdout).filter((e) => e.type === 'segment');
    expect(segEvents.length).toBeGreaterThan(10);

    const objs = await listAll(client, bucket, 'gov/');
    expect(objs.length).toBe(segEvents.length);
    let text = '';
    for (const o of objs) text += (await getObject(o.key)).toString('utf8');
    for (const p of planted) expect(text).not.toContain(p);
    expect(text).not.toMatch(/415 555/);
    // scrubbed records are still records: every JSONL line parses, the CSV keeps its quoted newlines
    const got = await streams('gov/');
    for (const s of got.values()) {
      const t = s.data.toString('utf8');
      if (t.startsWith('{')) for (const l of t.trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow();
      else expect(t.split('\n').filter((l) => l.startsWith('line two')).length).toBe(400);
    }

    const audit = readJsonl(join(stateDir, 'audit', 'audit.jsonl'));
    const segRecords = audit.filter((x) => x.type === 'segment');
    expect(segRecords.length).toBe(segEvents.length);
    for (const rec of segRecords) {
      expect(rec).toMatchObject({ direction: 'push', classification: 'confidential', hashAlgorithm: 'sha256' });
      expect(rec.range).toHaveLength(2);
      expect((rec.transforms as Array<{ name: string }>)[0]!.name).toBe('pii-scrub');
      expect(String(rec.dst)).toContain(`/${bucket}/gov/`);
      expect(rec.hashBefore).not.toBe(rec.hashAfter);
    }
    expect(JSON.stringify(audit)).not.toContain('planted@example.com');
    const v = await runCli(['audit', 'verify', '--json'], { env });
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('a lane to or from a place no environment declares is refused before anything moves, naming it and the fix, with the exit code of sync (3)', async () => {
    const stateDir = tempDir('stream-unplaced-state');
    const dir = tempDir('stream-unplaced-src');
    writeFileSync(join(dir, 'clicks.jsonl'), '{"a":1}\n');
    const config = join(stateDir, 'hybridsync.yaml');
    writeFileSync(
      config,
      `environments:
  onprem:
    kind: onprem
    locations: ["${dir}", "${stateDir}/pulled"]
  cloud:
    kind: cloud
    locations: ["s3://${bucket}/declared"]
policy:
  environments:
    onprem: { maxLevel: restricted }
    cloud: { maxLevel: confidential }
`,
    );
    const env = { HYBRIDSYNC_STATE_DIR: stateDir };
    const push = await runCli(['stream', 'push', dir, `s3://${bucket}/declaredd`, '--config', config, '--once'], { env });
    expect(push.stderr).toContain(`s3://${bucket}/declaredd is in no declared environment and policy.unknownEnvironment is deny: every file would be denied, so nothing was sent`);
    expect(push.stderr).toContain(`did you mean s3://${bucket}/declared?`);
    // sync says the same of the same destination, with the same exit code
    const sync = await runCli(['copy', dir, `s3://${bucket}/declaredd`, '--config', config], { env });
    expect(sync.stderr).toContain(`s3://${bucket}/declaredd is in no declared environment`);
    expect(push.code).toBe(3);
    expect(sync.code).toBe(3);
    expect(await listAll(client, bucket, 'declaredd')).toEqual([]);

    // pull: from an object store no environment declares, and into a directory none declares
    const fromNowhere = await runCli(['stream', 'pull', `s3://${bucket}/elsewhere`, join(stateDir, 'pulled'), '--config', config, '--once'], { env });
    expect(fromNowhere.code).toBe(3);
    expect(fromNowhere.stderr).toContain(`s3://${bucket}/elsewhere is in no declared environment and policy.unknownEnvironment is deny`);
    expect(fromNowhere.stderr).toContain('fix: check the source, or declare it under environments:');
    const intoNowhere = await runCli(['stream', 'pull', `s3://${bucket}/declared`, join(stateDir, 'unlisted'), '--config', config, '--once'], { env });
    expect(intoNowhere.code).toBe(3);
    expect(intoNowhere.stderr).toContain(`${join(stateDir, 'unlisted')} is in no declared environment`);
    expect(existsSync(join(stateDir, 'unlisted'))).toBe(false);
    // nothing was journaled: no lane exists
    const status = await runCli(['stream', 'status', '--json'], { env });
    expect(status.stdout.trim()).toBe('');
  });
});
