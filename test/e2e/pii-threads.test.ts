/**
 * The sync's PII scrub stage on worker threads, run through the built CLI: a run that has
 * more than 64 MiB to scrub hands its files to threads (`pii.threads`), their scans for
 * classification too, and what arrives is byte for byte what a run scrubbing on its own
 * thread (`threads: 0`) writes, classified alike; a file the
 * scrubber cannot read fails alike on both, and nothing of it arrives; a bad `pii.threads`
 * is a config error that names the key and the fix.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, runCli } from '../helpers/cli.js';
import { readJsonl, tempDir, treeHashes, writeFile } from '../helpers/fs.js';
import { seededRandom } from '../helpers/rng.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
let src: string;
/** Directories of this file's runs: ~200 MB each, removed at the end. */
const made: string[] = [];
afterAll(() => {
  for (const d of [src, ...made]) rmSync(d, { recursive: true, force: true });
});

function config(dir: string, dst: string, threads: string): string {
  const file = join(dir, 'hybridsync.yaml');
  writeFileSync(
    file,
    `environments:
  onprem:
    kind: onprem
    locations: ["${src}"]
  cloud:
    kind: cloud
    locations: ["${dst}"]
classification:
  rules:
    - path: "a-bulk.csv"
      level: confidential
policy:
  environments:
    cloud:
      maxLevel: confidential
      require:
        confidential: [pii-scrub]
pii:
  threads: ${threads}
  entities: { email: hash, phone: hash, card: hash, ssn: hash, ip: hash }
  limits: { maxRecordBytes: 65536 }
`,
  );
  return file;
}

async function syncWith(threads: string): Promise<{ code: number | null; dst: string; ev: Array<Record<string, unknown>>; audit: Array<Record<string, unknown>>; stderr: string }> {
  const dir = tempDir('pii-thr');
  made.push(dir);
  const dst = join(dir, 'dst');
  // --transfers 1: files are taken in order; the bulk file, first, crosses the threshold by
  // itself. --checkers 1: the classification scans of the other files (which also count
  // towards the threshold) are not run ahead of the bulk file's start by parallel checkers —
  // seen once under load: b-calls.jsonl scanned here before the bulk file had started
  const r = await runCli(['copy', src, dst, '--config', config(dir, dst, threads), '--transfers', '1', '--checkers', '1', '--json'], {
    env: { HYBRIDSYNC_STATE_DIR: join(dir, 'state'), HYBRIDSYNC_PII_KEY: KEY },
  });
  return { code: r.code, dst, ev: events(r.stdout), audit: readJsonl(join(dir, 'state', 'audit', 'audit.jsonl')), stderr: r.stderr };
}

beforeAll(() => {
  src = tempDir('pii-thr-src');
  // 66 MiB of plain numbers: over the 64 MiB a run scrubs on its own thread
  const row = '1024,0.5,17\n';
  writeFile(src, 'a-bulk.csv', `n,x,y\n${row.repeat(Math.ceil((66 << 20) / row.length))}`);
  const r = seededRandom(11);
  for (const name of ['b-calls.jsonl', 'c-more.jsonl']) {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const email = `user${Math.floor(r() * 300)}@example.com`;
      lines.push(JSON.stringify({ id: i, email, note: `call (415) 555-${String(Math.floor(r() * 9000) + 1000)} or mail ${email}; card 4111 1111 1111 1111`, score: r() }));
    }
    writeFile(src, name, lines.join('\n') + '\n');
  }
  // an unbalanced quote: the record would run to the end of the file, over maxRecordBytes
  writeFile(src, 'd-broken.csv', `id,note\n1,"${'x'.repeat(100_000)}\n2,ok\n`);
});

describe('pii.threads in a sync', () => {
  it('writes byte for byte what a run scrubbing on its own thread writes; a broken file fails alike and nothing of it arrives', async () => {
    const [here, threaded] = [await syncWith('0'), await syncWith('2')];
    for (const run of [here, threaded]) {
      expect(run.code, run.stderr).toBe(1);
      expect(existsSync(join(run.dst, 'd-broken.csv'))).toBe(false);
    }
    const sent = (run: typeof here) => run.ev.filter((e) => e.type === 'transfer');
    expect(sent(here).map((e) => e.key).sort()).toEqual(['a-bulk.csv', 'b-calls.jsonl', 'c-more.jsonl']);
    expect(sent(threaded).map((e) => e.key).sort()).toEqual(['a-bulk.csv', 'b-calls.jsonl', 'c-more.jsonl']);
    // on threads: every file after the first 64 MiB (here all of them); threads: 0 never
    const onThread = (run: typeof here) => sent(run).map((e) => ((e.transforms as Array<{ report: Record<string, unknown> }>)[0]!.report.onThread ?? false) as boolean);
    expect(onThread(threaded)).toEqual([true, true, true]);
    expect(onThread(here)).toEqual([false, false, false]);
    // classified alike: the bulk file by its path rule, the others by the PII their scan found
    const classified = (run: typeof here) =>
      run.audit
        .filter((a) => a.type === 'transfer')
        .map((a) => [a.key, a.classification, a.rule])
        .sort();
    expect(classified(threaded)).toEqual(classified(here));
    expect(classified(threaded).map(([k, c]) => [k, c])).toEqual([
      ['a-bulk.csv', 'confidential'],
      ['b-calls.jsonl', 'confidential'],
      ['c-more.jsonl', 'confidential'],
    ]);
    expect(String(classified(threaded)[1]![2])).toMatch(/email/);
    // the same bytes, and PII really replaced
    expect(treeHashes(threaded.dst)).toEqual(treeHashes(here.dst));
    expect(readFileSync(join(threaded.dst, 'b-calls.jsonl'), 'utf8')).toContain('tok_email_');
    expect(readFileSync(join(threaded.dst, 'b-calls.jsonl'), 'utf8')).not.toContain('@example.com');
    // the broken file's error is the same on both, with its fix
    const failure = (run: typeof here) => run.ev.find((e) => e.type === 'error' && e.key === 'd-broken.csv');
    expect(failure(threaded)).toBeDefined();
    expect(failure(threaded)!.message).toBe(failure(here)!.message);
    expect(String(failure(threaded)!.message)).toMatch(/longer than the 65536-character limit/);
  });

  it('refuses a pii.threads that is not auto or a count, naming the key and the fix, and copies nothing', async () => {
    const dir = tempDir('pii-thr-bad');
    made.push(dir);
    const dst = join(dir, 'dst');
    const r = await runCli(['copy', src, dst, '--config', config(dir, dst, '-1')], { env: { HYBRIDSYNC_STATE_DIR: join(dir, 'state'), HYBRIDSYNC_PII_KEY: KEY } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pii\.threads must be auto or a whole number from 0 to 64, not -1/);
    expect(r.stderr).toMatch(/0 to scrub on the main thread/);
    expect(existsSync(dst)).toBe(false);
  });
});
