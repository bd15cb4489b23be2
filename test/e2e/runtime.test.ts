/**
 * The built CLI on every runtime under test (scripts/test.sh: the machine's Node and Node 24,
 * in $HYBRIDSYNC_TEST_NODES): it starts, reaches S3, and no AWS SDK warning reaches the
 * user's terminal. On Node < 22 the SDK emits NodeVersionSupportWarning when the first
 * client is created; bin/hybridsync.js switches it off. A control run of the bare SDK on the
 * same Node shows the check would see the warning if it came through.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { tempDir, writeFile } from '../helpers/fs.js';
import { createTestBucket, deleteBucket, testClient } from '../helpers/s3.js';

const NODES = (process.env.HYBRIDSYNC_TEST_NODES ?? process.execPath).split(':').filter(Boolean);
const BIN = join(ROOT, 'bin', 'hybridsync.js');
const SDK_WARNING = /NodeVersionSupportWarning|AWS SDK for JavaScript|@aws-sdk|\(node:\d+\) \w*Warning/;

interface Run { code: number | null; stdout: string; stderr: string }
function run(node: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  // as a user's shell would have it: none of the switches that hide warnings
  delete base.NODE_OPTIONS;
  delete base.NODE_NO_WARNINGS;
  delete base.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  delete base.HYBRIDSYNC_FROM_SOURCE;
  return new Promise((resolve, reject) => {
    const child = spawn(node, args, { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
const major = async (node: string): Promise<number> => Number((await run(node, ['-p', 'process.versions.node'])).stdout.split('.')[0]);

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe.each(NODES)('the built CLI on %s', (node) => {
  it('the bare SDK warns on Node < 22 (control: the check below would see it)', async () => {
    const r = await run(node, ['--input-type=module', '-e', "const { S3Client } = await import('@aws-sdk/client-s3'); new S3Client({ region: 'us-east-1' });"]);
    expect(r.code, r.stderr).toBe(0);
    if ((await major(node)) < 22) expect(r.stderr).toMatch(/NodeVersionSupportWarning/);
    else expect(r.stderr).not.toMatch(SDK_WARNING);
  });

  it('prints no SDK warning when an S3 client is made (endpoint unreachable: exit 2, our message only)', async () => {
    const r = await run(node, [BIN, 'ls', 's3://hs-runtime-check'], {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${await closedPort()}`,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'us-east-1',
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^hybridsync: cannot reach S3 endpoint/);
    expect(r.stderr).not.toMatch(SDK_WARNING);
  });

  it('other warnings are not hidden', async () => {
    const probe = join(tempDir('warn-probe'), 'probe.cjs');
    writeFileSync(probe, "process.emitWarning('hs-probe-warning', 'ProbeWarning');\n");
    const r = await run(node, [BIN, '--version'], { NODE_OPTIONS: `--require ${probe}` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ProbeWarning: hs-probe-warning/);
  });
});

describe.skipIf(!process.env.HYBRIDSYNC_TEST_S3).each(NODES)('the built CLI against Ceph RGW on %s', (node) => {
  const client = process.env.HYBRIDSYNC_TEST_S3 ? testClient() : undefined;
  let bucket = '';
  beforeAll(async () => {
    bucket = await createTestBucket(client!, 'hs-rt');
  });
  afterAll(async () => {
    if (bucket) await deleteBucket(client!, bucket);
  });

  it('copy up, ls and check: exit 0, stderr free of SDK warnings', async () => {
    const src = tempDir('rt-src');
    writeFile(src, 'a.txt', 'alpha');
    writeFile(src, 'dir/b.bin', Buffer.alloc(6 * 1024 * 1024, 7)); // multipart at --multipart-threshold 5M
    const env = { HYBRIDSYNC_STATE_DIR: tempDir('rt-state') };
    const dst = `s3://${bucket}/rt`;
    const copy = await run(node, [BIN, 'copy', src, dst, '--multipart-threshold', '5M', '--part-size', '5M', '--no-progress'], env);
    expect(copy.code, copy.stderr).toBe(0);
    const ls = await run(node, [BIN, 'ls', dst], env);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/a\.txt/);
    expect(ls.stdout).toMatch(/dir\/b\.bin/);
    const check = await run(node, [BIN, 'check', src, dst], env);
    expect(check.code, check.stderr).toBe(0);
    for (const r of [copy, ls, check]) expect(r.stderr).not.toMatch(SDK_WARNING);
  });
});
