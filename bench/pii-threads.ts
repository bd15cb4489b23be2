/**
 * The sync's PII scrub stage on worker threads (`pii.threads`) against the same run with
 * scrubbing on the run's own thread (`threads: 0`): a `hybridsync copy` of N dense
 * inference-log files (bench/pii.ts's dense corpus, JSON Lines and CSV alternately, every
 * PII type set to `hash`) from one local directory to another, under a policy that
 * requires `pii-scrub`. Wall time, client CPU (user + sys, threads included) and peak
 * RSS, alternating the two settings, into fresh destinations; medians and ranges.
 *
 * Run: `npx tsx bench/pii-threads.ts [files, default 24] [rounds, default 3] [threads, default auto] [--small]`
 *
 * `--small`: the files are 64 KiB slices of the corpus (whole records; `files` of them,
 * e.g. 1500) and there is no path rule: every file is classified by its content (the PII
 * scan of its first MiB, here all of it), then scrubbed because the scan found PII. This
 * is the case where a whole-file scan's output is replayed for the transfer.
 *
 * There is no peer here: no other sync tool scrubs PII on the way (Presidio, the reference
 * scrubber, is a Python package PyPI does not serve here). On a 2-core machine, threads
 * can at best double the scrub; the gain grows with cores (auto: one per core, at most 4).
 * Not a test: nothing here asserts a timing.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { timedOk, type Timed } from './timed.js';

const ROOT = join(import.meta.dirname, '..');
const files = Number(process.argv[2] ?? 24);
const rounds = Number(process.argv[3] ?? 3);
const threads = process.argv.slice(2).filter((a) => !a.startsWith('--'))[2] ?? 'auto';
const small = process.argv.includes('--small');

const work = mkdtempSync(join(tmpdir(), 'hybridsync-bench-pii-threads-'));
const corpus = join(work, 'corpus');
const src = join(work, 'src');
execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/pii.ts'), '8', '--only=dense', `--save=${corpus}`], { stdio: 'inherit' });
mkdirSync(src);
if (small) {
  // 64 KiB of whole JSON Lines records per file, taken in turn from the corpus
  const lines = readFileSync(join(corpus, 'dense.jsonl'), 'utf8').split('\n').filter(Boolean);
  let k = 0;
  for (let i = 0; i < files; i++) {
    const part: string[] = [];
    for (let size = 0; size < 64 << 10; size += part.at(-1)!.length + 1) part.push(lines[k++ % lines.length]!);
    writeFileSync(join(src, `part-${String(i).padStart(5, '0')}.jsonl`), `${part.join('\n')}\n`);
  }
} else {
  for (let i = 0; i < files; i++) copyFileSync(join(corpus, i % 2 ? 'dense.csv' : 'dense.jsonl'), join(src, `part-${String(i).padStart(3, '0')}.${i % 2 ? 'csv' : 'jsonl'}`));
}
const mb = readdirSync(src).reduce((n, f) => n + readFileSync(join(src, f)).length, 0) / (1 << 20);

function configFor(setting: string, dst: string): string {
  const file = join(work, `hybridsync-${setting}.yaml`);
  writeFileSync(
    file,
    `environments:
  onprem: { kind: onprem, locations: ["${src}"] }
  cloud: { kind: cloud, locations: ["${dst}"] }
${small ? '' : 'classification:\n  rules: [{ path: "**", level: confidential }]\n'}policy:
  environments:
    cloud: { maxLevel: confidential, require: { confidential: [pii-scrub] } }
pii:
  threads: ${setting}
  entities: { email: hash, phone: hash, card: hash, ssn: hash, ip: hash, iban: hash, mac: hash, dob: hash }
`,
  );
  return file;
}

const env = { ...process.env, HYBRIDSYNC_PII_KEY: Buffer.alloc(32, 1).toString('base64') };
async function run(setting: string, round: number): Promise<Timed> {
  const dst = join(work, `dst-${setting}-${round}`);
  const r = await timedOk(process.execPath, [join(ROOT, 'bin/hybridsync.js'), 'copy', src, dst, '--config', configFor(setting, dst), '--no-progress'], {
    ...env,
    HYBRIDSYNC_STATE_DIR: join(work, `state-${setting}-${round}`),
  });
  rmSync(dst, { recursive: true, force: true });
  return r;
}

const settings = ['0', threads];
const results: Record<string, Timed[]> = Object.fromEntries(settings.map((s) => [s, []]));
console.log(`pii.threads bench: ${files} dense files${small ? ' of 64 KiB, classified by content' : ''}, ${mb.toFixed(0)} MB, hash mode, ${availableParallelism()} cores, node ${process.version}, load ${loadavg()[0]!.toFixed(2)}`);
for (let round = 0; round < rounds; round++) {
  for (const s of round % 2 ? [...settings].reverse() : settings) {
    const r = await run(s, round);
    results[s]!.push(r);
    console.log(`round ${round + 1} threads=${s}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} CPU s, ${r.rssMiB} MiB RSS, load ${loadavg()[0]!.toFixed(2)}`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const cell = (xs: number[], d = 2): string => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`;
console.log('\n| pii.threads | wall s | MB/s | CPU s | peak RSS MiB |\n|---|---:|---:|---:|---:|');
for (const s of settings) {
  const rs = results[s]!;
  console.log(`| ${s} | ${cell(rs.map((r) => r.wall))} | ${(mb / median(rs.map((r) => r.wall))).toFixed(1)} | ${cell(rs.map((r) => r.cpu))} | ${median(rs.map((r) => r.rssMiB))} |`);
}
const ratio = median(results['0']!.map((r) => r.wall)) / median(results[threads]!.map((r) => r.wall));
console.log(`\nwall, threads=0 ÷ threads=${threads}: ${ratio.toFixed(2)}× (above 1: threads faster)`);
rmSync(work, { recursive: true, force: true });
