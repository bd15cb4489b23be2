import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runScrub, scrubCommand } from '../../../src/cli/scrub.js';
import { loadConfig } from '../../../src/config/load.js';
import { loadPiiEngine } from '../../../src/governance/classify/detectors.js';
import { TEST_KEY } from './helpers.js';

let dir: string;
let stderr: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pii-cli-'));
  stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  return { out, text: () => text };
}

describe('hybridsync scrub', () => {
  it('writes the scrubbed file and prints counts, never values', async () => {
    const input = join(dir, 'people.csv');
    const output = join(dir, 'clean.csv');
    await writeFile(input, 'id,email,notes\n1,ann@x.io,"call (415) 555-0100"\n');
    const { out, text } = capture();
    expect(await runScrub({ input, output, out })).toBe(0);
    expect(await readFile(output, 'utf8')).toBe('id,email,notes\n1,<EMAIL>,"call <PHONE>"\n');
    expect(text()).toContain('replaced email 1, phone 1');
    expect(text()).not.toContain('ann@x.io');
  });

  it('--json prints one NDJSON report line', async () => {
    const input = join(dir, 'a.log');
    await writeFile(input, 'from 10.0.0.1\n');
    const { out, text } = capture();
    expect(await runScrub({ input, output: join(dir, 'b.log'), json: true, out })).toBe(0);
    const line = JSON.parse(text()) as Record<string, unknown>;
    expect(line).toMatchObject({ v: 1, type: 'scrub', format: 'text', passthrough: false, counts: { ip: 1 } });
  });

  it('hashes with a key from --key-file or HYBRIDSYNC_PII_KEY, identically', async () => {
    const input = join(dir, 'a.csv');
    const config = join(dir, 'scrub.yaml');
    const keyFile = join(dir, 'pii.key');
    await writeFile(input, 'email\nann@x.io\n');
    await writeFile(config, 'entities:\n  email: hash\n');
    await writeFile(keyFile, TEST_KEY.toString('hex'));
    const { out } = capture();
    expect(await runScrub({ input, output: join(dir, 'o1.csv'), config, keyFile, out })).toBe(0);
    expect(await runScrub({ input, output: join(dir, 'o2.csv'), config, env: { HYBRIDSYNC_PII_KEY: TEST_KEY.toString('hex') }, out })).toBe(0);
    const o1 = await readFile(join(dir, 'o1.csv'), 'utf8');
    expect(o1).toMatch(/^email\ntok_email_[A-Za-z0-9_-]{22}\n$/);
    expect(await readFile(join(dir, 'o2.csv'), 'utf8')).toBe(o1);
  });

  it('--config hybridsync.yaml applies its pii section, as the sync scrub stage does', async () => {
    const input = join(dir, 'run.jsonl');
    const config = join(dir, 'hybridsync.yaml');
    const keyFile = join(dir, 'pii.key');
    await writeFile(keyFile, TEST_KEY.toString('hex'));
    await writeFile(
      config,
      [
        'version: 1',
        'environments:',
        '  dc1: { kind: onprem, locations: ["/data/**"] }',
        'pii:',
        `  keyFile: ${JSON.stringify(keyFile)}`,
        '  detect: { phoneRegions: [US, DE] }',
        '  entities: { email: hash, phone: { operator: mask, keep: 2 } }',
        '  columns: [{ match: notes, operator: drop }]',
        '',
      ].join('\n'),
    );
    await writeFile(input, '{"email": "ann@x.io", "tel": "030 12345678", "notes": "x", "acc": 0.54408275162184}\n');
    const { out } = capture();
    expect(await runScrub({ input, output: join(dir, 'o.jsonl'), config, env: {}, out })).toBe(0);
    const text = await readFile(join(dir, 'o.jsonl'), 'utf8');
    expect(text).toMatch(/^\{"email": "tok_email_[A-Za-z0-9_-]{22}", "tel": "\*\*\* \*\*\*\*\*\*78", "acc": 0\.54408275162184\}\n$/);

    const engine = await loadPiiEngine(loadConfig(config, {}).config?.pii, {});
    const stage = engine.createScrubber({ fileName: 'run.jsonl', key: 'data/run.jsonl' });
    let staged = '';
    await pipeline(Readable.from([await readFile(input)]), stage.transform, async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) staged += c.toString('utf8');
    });
    expect(staged).toBe(text);
  });

  it('--config reads the shipped example hybridsync.yaml', async () => {
    const input = join(dir, 'm.csv');
    await writeFile(input, 'epoch,acc,phone\n1,0.54408275162184,+49 30 12345678\n');
    const { out } = capture();
    expect(await runScrub({ input, output: join(dir, 'o.csv'), config: 'examples/hybridsync.yaml', env: {}, out })).toBe(0);
    expect(await readFile(join(dir, 'o.csv'), 'utf8')).toBe('epoch,acc,phone\n1,0.54408275162184,+** ** ******78\n');
  });

  it('names the file and the pii section when that section is wrong', async () => {
    const config = join(dir, 'hybridsync.yaml');
    await writeFile(config, 'version: 1\nenvironments:\n  dc1: { locations: ["/data/**"] }\npii:\n  entities: { email: shred }\n');
    const input = join(dir, 'a.log');
    await writeFile(input, 'x\n');
    const { out } = capture();
    expect(await runScrub({ input, output: join(dir, 'b.log'), config, env: {}, out })).toBe(2);
    expect(stderr).toMatch(/hybridsync\.yaml: pii: invalid scrub config:\n\s+entities\.email/);
  });

  it('exits 2 with the thing and the fix for config and usage errors, writing nothing', async () => {
    const input = join(dir, 'a.csv');
    await writeFile(input, 'email\nann@x.io\n');
    const hashConfig = join(dir, 'hash.yaml');
    await writeFile(hashConfig, 'entities: {email: hash}\n');
    const badConfig = join(dir, 'bad.yaml');
    await writeFile(badConfig, 'entities: {email: scramble}\n');
    const { out } = capture();
    const cases: [Parameters<typeof runScrub>[0], RegExp][] = [
      [{ input, output: join(dir, 'o.csv'), config: hashConfig, env: {}, out }, /needs a secret key[\s\S]*fix: pass --key-file FILE or set HYBRIDSYNC_PII_KEY/],
      [{ input, output: join(dir, 'o.csv'), config: badConfig, out }, /bad\.yaml: invalid scrub config:\n\s+entities\.email\.operator: operator must be one of/],
      [{ input, output: join(dir, 'o.csv'), config: join(dir, 'missing.yaml'), out }, /cannot read scrub config .*missing\.yaml: ENOENT/],
      [{ input: join(dir, 'nope.csv'), output: join(dir, 'o.csv'), out }, /cannot read input .*nope\.csv: ENOENT[\s\S]*fix: check the IN path/],
      [{ input, output: join(dir, 'no-such-dir', 'o.csv'), out }, /output directory .* does not exist/],
      [{ input, output: input, out }, /input and output are the same file/],
    ];
    for (const [opts, message] of cases) {
      stderr = '';
      expect(await runScrub(opts)).toBe(2);
      expect(stderr).toMatch(message);
    }
    expect((await readdir(dir)).sort()).toEqual(['a.csv', 'bad.yaml', 'hash.yaml']);
  });

  it('exits 1 on a processing failure and leaves neither OUT nor a temporary file', async () => {
    const input = join(dir, 'broken.csv');
    const config = join(dir, 'small.yaml');
    await writeFile(input, `a,b\n1,"never closed ${'x'.repeat(5000)}\n`);
    await writeFile(config, 'limits: {maxRecordBytes: 1024, sniffBytes: 512}\n');
    const { out } = capture();
    expect(await runScrub({ input, output: join(dir, 'out.csv'), config, out })).toBe(1);
    expect(stderr).toMatch(/CSV record is longer than the 1024-character limit/);
    expect((await readdir(dir)).sort()).toEqual(['broken.csv', 'small.yaml']);
  });

  it('replaces an existing OUT only once the new file is complete', async () => {
    const input = join(dir, 'broken.csv');
    const output = join(dir, 'out.csv');
    await writeFile(output, 'previous contents\n');
    await writeFile(input, `a,b\n1,"never closed ${'x'.repeat(5000)}\n`);
    const config = join(dir, 'small.yaml');
    await writeFile(config, 'limits: {maxRecordBytes: 1024, sniffBytes: 512}\n');
    const { out } = capture();
    expect(await runScrub({ input, output, config, out })).toBe(1);
    expect(await readFile(output, 'utf8')).toBe('previous contents\n');
  });

  it('passes a binary file through and says so', async () => {
    const input = join(dir, 'model.safetensors');
    await writeFile(input, Buffer.from([1, 2, 3, 0, 4]));
    const { out, text } = capture();
    expect(await runScrub({ input, output: join(dir, 'copy.safetensors'), out })).toBe(0);
    expect(await readFile(join(dir, 'copy.safetensors'))).toEqual(Buffer.from([1, 2, 3, 0, 4]));
    expect(text()).toMatch(/passed through unchanged \(\.safetensors files are not a text format/);
  });

  it('works as a commander command, setting the exit code', async () => {
    const input = join(dir, 'a.jsonl');
    await writeFile(input, '{"ip":"10.0.0.1"}\n');
    const output = join(dir, 'b.jsonl');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    await scrubCommand().parseAsync([input, output, '--format', 'jsonl', '--json'], { from: 'user' });
    expect(process.exitCode).toBe(0);
    expect(await readFile(output, 'utf8')).toBe('{"ip":"<IP>"}\n');
    expect(String(write.mock.calls[0]?.[0])).toContain('"type":"scrub"');
    await scrubCommand().parseAsync([input, join(dir, 'c.jsonl'), '--key-file', join(dir, 'missing.key'), '--config', join(dir, 'none.yaml')], { from: 'user' });
    expect(process.exitCode).toBe(2);
    const cmd = scrubCommand().exitOverride().configureOutput({ writeErr: () => undefined });
    await expect(cmd.parseAsync([input, output, '--format', 'xml'], { from: 'user' })).rejects.toThrow(/Allowed choices are csv, tsv, jsonl, text/);
  });
});

describe('hybridsync scrub, interrupted', () => {
  it('exits 130 and leaves no output when the signal fires', async () => {
    const input = join(dir, 'big.log');
    await writeFile(input, 'from 10.0.0.1 to ann@x.io\n'.repeat(200_000));
    const controller = new AbortController();
    const { out } = capture();
    const run = runScrub({ input, output: join(dir, 'out.log'), signal: controller.signal, out });
    setImmediate(() => controller.abort(new Error('test interrupt')));
    expect(await run).toBe(130);
    expect(await readdir(dir)).toEqual(['big.log']);
  });
});
