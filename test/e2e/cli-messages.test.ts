/**
 * What a new user reads from the built CLI (issue 9, item 16): `plan bandwidth` names its
 * workload, says "over capacity" instead of 741 %, prints durations, refuses a volume without
 * a unit; config errors point at the unknown key and number rules from 1, as `classify`
 * does; `S3://` is `s3://`; `job list` shows times in the job's zone; `job run
 * --respect-window` outside the window says so and exits 4.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, runCli } from '../helpers/cli.js';
import { tempDir, treeHashes, writeFile } from '../helpers/fs.js';
import { createTestBucket, deleteBucket, listAll, testClient } from '../helpers/s3.js';

const state = (): NodeJS.ProcessEnv => ({ HYBRIDSYNC_STATE_DIR: tempDir('msgs-state') });

describe('plan bandwidth', () => {
  it('names a workload given by flags after the flags, not "flags"', async () => {
    const r = await runCli(['plan', 'bandwidth', '--volume', '40TB', '--every', '1d', '--window', '8h']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^command line \(--volume\/--every\)\s+40 TB\s+24 h\s+8 h\s+11\.1 Gbps/m);
    expect(r.stdout).toMatch(/^command line \(--volume\/--every\): time per sync on each option$/m);
    expect(r.stdout).not.toMatch(/^flags\b/m);
    const json = JSON.parse((await runCli(['plan', 'bandwidth', '--volume', '40TB', '--json'])).stdout) as { workloads: Array<{ name: string; source: string }> };
    expect(json.workloads[0]).toMatchObject({ name: 'command line (--volume/--every)', source: 'flags' });
  });

  it('names the job when planning from the config', async () => {
    const dir = tempDir('msgs-plan');
    const cfg = join(dir, 'hybridsync.yaml');
    writeFileSync(cfg, `jobs:\n  - name: nightly-training\n    source: /data\n    destination: /backup\n    schedule: "0 22 * * *"\n    window: "22:00-06:00"\n    volume: 40TB\n`);
    const r = await runCli(['plan', 'bandwidth', '--config', cfg, '--state', join(dir, 'state.db')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^nightly-training\s+40 TB\s+24 h\s+8 h\s+11\.1 Gbps\s+3\.7 Gbps\s+config$/m);
  });

  it('says an option is over capacity, by how much and what to do, instead of "741%"', async () => {
    const r = await runCli(['plan', 'bandwidth', '--volume', '40TB', '--every', '1d']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^SD-WAN 500 Mbps\s+7\.41 d\s+no\s+over capacity: needs 7\.41× the link$/m);
    expect(r.stdout).toMatch(/^over capacity on SD-WAN 500 Mbps; .*: 40 TB every 24 h is more than the link carries even running without a break, so the backlog grows with every sync: choose a faster option or several links, or move less per sync$/m);
    expect(r.stdout).not.toMatch(/\d{3,}%/);
    const json = JSON.parse((await runCli(['plan', 'bandwidth', '--volume', '40TB', '--every', '1d', '--json'])).stdout) as { workloads: Array<{ options: Array<{ option: string; averageUtilization: number; utilization: string }> }> };
    expect(json.workloads[0]!.options[0]).toMatchObject({ option: 'SD-WAN 500 Mbps', utilization: 'over-capacity' });
    expect(json.workloads[0]!.options[0]!.averageUtilization).toBeCloseTo(7.407, 3);
  });

  it('prints durations, never raw milliseconds, in errors too', async () => {
    const r = await runCli(['plan', 'bandwidth', '--volume', '40TB', '--every', '1d', '--window', '2d']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the window \(2 d\) is longer than the interval \(24 h\)/);
    expect(r.stderr).not.toMatch(/\d ms\b/);
    const quick = await runCli(['plan', 'bandwidth', '--volume', '10GB', '--every', '30m']);
    expect(quick.stdout).toMatch(/^command line \(--volume\/--every\)\s+10 GB\s+30 min\s+30 min\s/m);
    expect(quick.stdout).toMatch(/Direct Connect \/ ExpressRoute \/ Interconnect 100 Gbps\s+0\.8 s\s+yes/);
  });

  it('refuses a volume without a unit, naming the flag and the fix; an explicit B is bytes', async () => {
    for (const [flag, n, args] of [
      ['--volume', '40', ['--volume', '40']],
      ['--seed', '2', ['--volume', '1TB', '--seed', '2']],
    ] as const) {
      const r = await runCli(['plan', 'bandwidth', ...args]);
      expect(r.code, flag).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`hybridsync: ${flag}: "${n}" has no unit, so it would mean ${n} bytes: use a unit, e.g. ${n}TB (10^12 bytes), ${n}TiB, ${n}GiB, or ${n}B if bytes are meant\n`);
    }
    const bytes = await runCli(['plan', 'bandwidth', '--volume', '40B']);
    expect(bytes.code, bytes.stderr).toBe(0);
    expect(bytes.stdout).toMatch(/^command line \(--volume\/--every\)\s+40 B\s/m);
  });
});

describe('config errors', () => {
  it('reports an unknown key at its own line with the key meant', async () => {
    const dir = tempDir('msgs-cfg');
    const cfg = join(dir, 'hybridsync.yaml');
    writeFileSync(cfg, 'jobs:\n  - name: nightly\n    source: /data\n    destination: /backup\n    schedul: "0 22 * * *"\n');
    const r = await runCli(['job', 'list', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^hybridsync: ${cfg.replace(/[/.]/g, '\\$&')}:5:5: jobs#1\\.schedul: unknown key; did you mean "schedule"\\?$`, 'm'));
  });

  it('numbers the second rule #2 in the config error and in classify alike', async () => {
    const dir = tempDir('msgs-rules');
    const data = tempDir('msgs-rules-data');
    writeFile(data, 'public/readme.md', 'hello\n');
    writeFile(data, 'hr/pay.txt', 'salaries\n');
    const cfg = join(dir, 'hybridsync.yaml');
    const rules = (level: string): string => `classification:\n  rules:\n    - { path: "public/**", level: public }\n    - { path: "hr/**", level: ${level} }\n`;
    writeFileSync(cfg, rules('secret'));
    const bad = await runCli(['classify', data, '--config', cfg], { env: state() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/:4:\d+: classification\.rules#2\.level: unknown level "secret"/);
    writeFileSync(cfg, rules('restricted'));
    const ok = await runCli(['classify', data, '--config', cfg], { env: state() });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^restricted\s+path\s+\S+\/hr\/pay\.txt\n\s+path rule #2 "hr\/\*\*"$/m);
    expect(ok.stdout).toMatch(/^public\s+path\s+\S+\/public\/readme\.md\n\s+path rule #1 "public\/\*\*"$/m);
  });
});

describe('location schemes', () => {
  it('reads File:// and FILE:// like file://', async () => {
    const data = tempDir('msgs-file');
    writeFile(data, 'a.txt', 'alpha');
    for (const scheme of ['File', 'FILE']) {
      const r = await runCli(['ls', `${scheme}://${data}`], { env: state() });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^\s+5\s+a\.txt$/m);
    }
  });
});

describe.skipIf(!process.env.HYBRIDSYNC_TEST_S3)('location schemes against Ceph RGW', () => {
  const client = process.env.HYBRIDSYNC_TEST_S3 ? testClient() : undefined;
  let bucket = '';
  beforeAll(async () => {
    bucket = await createTestBucket(client!, 'hs-msgs');
  });
  afterAll(async () => {
    if (bucket) await deleteBucket(client!, bucket);
  });

  it('copies to and lists S3:// as s3://; the bucket name stays as written', async () => {
    const src = tempDir('msgs-s3');
    writeFile(src, 'a.txt', 'alpha');
    writeFile(src, 'd/b.txt', 'bravo');
    const env = state();
    const copy = await runCli(['copy', src, `S3://${bucket}/up`, '--no-progress'], { env });
    expect(copy.code, copy.stderr).toBe(0);
    expect((await listAll(client!, bucket, 'up/')).map((o) => o.key).sort()).toEqual(['up/a.txt', 'up/d/b.txt']);
    const ls = await runCli(['ls', `S3://${bucket}/up`], { env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/a\.txt/);
    const check = await runCli(['check', src, `S3://${bucket}/up`], { env });
    expect(check.code, check.stderr).toBe(0);
    expect(treeHashes(src).size).toBe(2);
    const upper = await runCli(['ls', `S3://${bucket.toUpperCase()}/up`], { env });
    expect(upper.code).toBe(2);
    expect(upper.stderr).toMatch(/invalid bucket name/);
  });
});

/** HH:MM on the wall clock of Asia/Kolkata (UTC+05:30 all year), `minutes` from now. */
function kolkataClock(minutes: number): string {
  const t = new Date(Date.now() + minutes * 60_000 + 330 * 60_000);
  return `${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}`;
}

describe('jobs and time zones', () => {
  function setup(window: string) {
    const dir = tempDir('msgs-job');
    const src = tempDir('msgs-job-src');
    const dst = tempDir('msgs-job-dst');
    writeFile(src, 'a.txt', 'alpha');
    const cfg = join(dir, 'hybridsync.yaml');
    writeFileSync(
      cfg,
      `jobs:
  - name: nightly
    source: ${src}
    destination: ${dst}
    schedule: "30 4 * * *"
    timezone: Asia/Kolkata
  - name: windowed
    source: ${src}
    destination: ${dst}
    timezone: Asia/Kolkata
    window: "${window}"
`,
    );
    return { cfg, dst, args: ['--config', cfg, '--state', join(dir, 'state.db')] };
  }

  it("job list shows the next run on the job's wall clock, with its zone named", async () => {
    const s = setup('01:00-02:00');
    const json = await runCli(['job', 'list', ...s.args, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const nightly = events(json.stdout).find((e) => e.name === 'nightly')!;
    expect(nightly).toMatchObject({ timezone: 'Asia/Kolkata' });
    const next = nightly.nextRun as number;
    // 04:30 in Kolkata is 23:00 UTC the day before
    expect(new Date(next).toISOString()).toMatch(/T23:00:00\.000Z$/);
    const day = new Date(next + 330 * 60_000).toISOString().slice(0, 10);
    const text = await runCli(['job', 'list', ...s.args]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^nightly .* ${day} 04:30 Asia/Kolkata \\(\\+05:30\\)\\s+-$`, 'm'));
    expect(text.stdout).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/); // no UTC ISO times
  });

  it('job run --respect-window outside the window says it did not run and why, exits 4, copies nothing', async () => {
    const opens = kolkataClock(120);
    const window = `${opens}-${kolkataClock(180)}`;
    const s = setup(window);
    const r = await runCli(['job', 'run', 'windowed', '--respect-window', '--no-progress', ...s.args]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(
      new RegExp(`^hybridsync: windowed did not run: outside its window ${window} Asia/Kolkata; the window opens at \\d{4}-\\d{2}-\\d{2} ${opens} Asia/Kolkata \\(\\+05:30\\) \\(in (1\\.9\\d|2) h\\)$`, 'm'),
    );
    expect(readdirSync(s.dst)).toEqual([]);
    const history = await runCli(['job', 'history', 'windowed', ...s.args]);
    expect(history.stdout).toMatch(/windowed: no runs yet/);

    const json = await runCli(['job', 'run', 'windowed', '--respect-window', '--json', ...s.args]);
    expect(json.code).toBe(4);
    const [event] = events(json.stdout);
    expect(event).toMatchObject({ v: 1, type: 'job-not-run', job: 'windowed', reason: 'outside-window', window, timezone: 'Asia/Kolkata', exitCode: 4 });
    const opensAt = Date.parse(event!.opensAt as string);
    expect(new Date(opensAt + 330 * 60_000).toISOString().slice(11, 16)).toBe(opens);
    expect(opensAt).toBeGreaterThan(Date.now());

    // inside the window (or without --respect-window) the job runs: exit 0, the file arrives
    const run = await runCli(['job', 'run', 'windowed', '--no-progress', ...s.args]);
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(s.dst, 'a.txt'))).toBe(true);
  });
});
