/**
 * The library as a user imports it: `import { sync, … } from 'hybridsync'` from another
 * project (the package linked into its node_modules), resolved through package.json's
 * `exports` to the built files.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { randomFile, tempDir, treeHashes } from '../helpers/fs.js';

describe('library use from the package root', () => {
  it('sync, check, openLocation, describeLocation and typed errors work from `import ... from "hybridsync"`', () => {
    const app = tempDir('lib-app');
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(ROOT, join(app, 'node_modules', 'hybridsync'));
    const src = tempDir('lib-src');
    for (let i = 0; i < 5; i++) randomFile(src, `d/f-${i}.bin`, 1000 * (i + 1));
    const dst = join(tempDir('lib-dst'), 'out');
    writeFileSync(
      join(app, 'use.mjs'),
      `import { sync, check, openLocation, describeLocation, loadConfig, TRANSFER_DEFAULTS, UsageError } from 'hybridsync';
const [src, dst, state] = process.argv.slice(2);
const events = [];
const s = await sync(src, dst, { statePath: state, config: loadConfig(), options: { transfers: 2, checksum: true }, onEvent: (e) => events.push(e.type) });
const c = await check(src, dst, { statePath: state });
const listed = [];
for await (const e of openLocation(dst).list()) listed.push(e.key);
let typed = false;
try { await sync(src, dst, { statePath: state, options: { transfers: 0 } }); } catch (e) { typed = e instanceof UsageError && /--transfers/.test(e.message); }
console.log(JSON.stringify({ s, c, listed, typed, events: [...new Set(events)], loc: describeLocation(dst), defaults: TRANSFER_DEFAULTS.transfers }));
`,
    );
    const r = spawnSync(process.execPath, ['use.mjs', src, dst, join(app, 'state.db')], {
      cwd: app,
      encoding: 'utf8',
      env: { ...process.env, HYBRIDSYNC_STATE_DIR: app },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(out.s).toMatchObject({ status: 'ok', transferred: 5, failed: 0 });
    expect(out.c).toMatchObject({ status: 'ok', differences: 0 });
    expect(out.listed).toHaveLength(5);
    expect(out.typed).toBe(true);
    expect(out.events).toEqual(expect.arrayContaining(['run-start', 'transfer', 'summary']));
    expect(out.loc).toMatchObject({ type: 'local', id: `file://${dst}/` });
    expect(out.defaults).toBe(32);
    expect(treeHashes(dst)).toEqual(treeHashes(src));
  });
});
