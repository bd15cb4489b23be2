/**
 * `hybridsync gateway`: serves S3 on-prem over a cloud bucket (src/api/gateway.ts), and the
 * commands that talk to a running gateway: status, flush, preload, release, refresh.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { gatewayAdmin, preloadSnapshot, startGateway, type GatewayAdmin, type GatewayStatus } from '../api/gateway.js';
import type { PreloadResult } from '../gateway/gateway.js';
import { copiesOfGateway, type DatasetView } from '../api/datasets.js';
import { UsageError } from '../core/errors.js';
import { formatBytes, parseDuration, parseSize } from '../lib/units.js';
import { parseListen } from '../server/api.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';

interface ServeFlags {
  listen: string;
  upstream?: string;
  cache?: string;
  maxSize?: string;
  maxDirty?: string;
  bucket?: string;
  region?: string;
  staleness?: string;
  config?: string;
  bwlimit?: string;
  transfers?: string;
}

interface AdminFlags {
  cache?: string;
  url?: string;
  json?: boolean;
}

const log = (m: string): void => void process.stderr.write(`${new Date().toISOString()} ${m}\n`);

function sizeFlag(name: string, v: string): number {
  try {
    return parseSize(v);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`, { hint: 'use forms like 500G, 2TiB' });
  }
}

function admin(f: AdminFlags): GatewayAdmin {
  return gatewayAdmin({ ...(f.cache ? { cacheDir: f.cache } : {}), ...(f.url ? { url: f.url } : {}) });
}

const adminOptions = (c: Command): Command =>
  c.option('--cache <dir>', 'cache directory of the running gateway').option('--url <url>', 'URL of the gateway (instead of --cache; token from HYBRIDSYNC_GATEWAY_ADMIN_TOKEN)').option('--json', 'print JSON');

function printStatus(s: GatewayStatus, copies: readonly DatasetView[]): void {
  const out = process.stdout;
  out.write(`gateway for ${s.upstream} as bucket ${s.bucket}\n`);
  out.write(`cache      ${formatBytes(s.cache.bytes)} of ${formatBytes(s.cache.maxSize)} in ${s.cache.dir} (${s.cache.objects} objects known)\n`);
  const ratio = s.reads.hitRatio === null ? '-' : `${(s.reads.hitRatio * 100).toFixed(1)}%`;
  out.write(`reads      ${s.reads.hits} hits, ${s.reads.misses} misses (hit ratio ${ratio}); ${formatBytes(s.reads.bytesFromCache)} from cache, ${formatBytes(s.reads.bytesFromUpstream)} from upstream\n`);
  out.write(`dirty      ${formatBytes(s.dirty.bytes)}: ${s.dirty.pending} pending (${s.dirty.failing} retrying), ${s.dirty.denied} denied by policy, ${s.dirty.conflicts} held as conflicts; upload lag ${s.dirty.uploadLagSeconds.toFixed(1)} s\n`);
  const d = s.derivedCopy;
  out.write(`copy       last refreshed from the cloud ${d.lastRefreshAt ?? 'never'}, last upload ${d.lastUploadAt ?? 'never'}; ${d.notInCloud} writes (${formatBytes(d.notInCloudBytes)}) not in the cloud\n`);
  for (const ds of s.datasets) {
    out.write(`dataset    ${ds.name}: source of truth ${ds.ssot ?? 'not declared'}; on a conflict with the cloud ${ds.winner === 'gateway' ? "the gateway's write wins" : ds.winner === 'cloud' ? "the cloud's version wins (the write is kept aside)" : 'the write is held for gateway resolve'}\n`);
  }
  if (s.datasets.length === 0) out.write('dataset    none declared for these keys: a write the cloud changed meanwhile is held for gateway resolve\n');
  const cf = s.conflicts;
  if (cf.held + cf.gatewayWon + cf.cloudWon > 0) out.write(`conflicts  ${cf.held} held, ${cf.gatewayWon} won by the gateway's write, ${cf.cloudWon} by the cloud's version\n`);
  for (const c of cf.recent) out.write(`conflict   ${c.at} ${c.key}: ${c.outcome}${c.kept ? `, the gateway's write kept at ${c.kept}` : ''} (${c.why})\n`);
  for (const ds of copies) {
    out.write(`copies of  ${ds.name} (source of truth ${ds.ssot ?? 'not declared'}):\n`);
    for (const c of ds.copies) {
      const fresh = c.kind === 'gateway' ? `refreshed ${c.lastSyncAt ?? 'never'}, ${c.notInCloud ?? 0} writes not in the cloud` : `last synced ${c.lastSyncAt ?? 'never'}${c.lastStatus ? ` (last run ${c.lastStatus})` : ''}`;
      out.write(`           ${c.kind} ${c.name}: ${c.location} from ${c.from}; ${fresh}\n`);
    }
  }
  if (s.deniedWrites > 0 || s.refusedWrites > 0) out.write(`refused    ${s.deniedWrites} writes denied by policy (AccessDenied, not stored), ${s.refusedWrites} for want of space (SlowDown)\n`);
  out.write(`uploaded   ${s.writeBack.uploadedFiles} files, ${formatBytes(s.writeBack.uploadedBytes)}, ${s.writeBack.deletes} deletes; last ${s.writeBack.lastUploadAt ?? 'never'}\n`);
  for (const f of s.freshness) out.write(`listing    "${f.prefix}" listed ${f.ageSeconds.toFixed(0)} s ago${f.stale ? ' (stale: relisted on next use)' : ''}\n`);
  for (const j of s.journal) out.write(`${j.status.padEnd(10)} ${j.op} ${j.key}${j.attempts > 0 ? ` (attempt ${j.attempts})` : ''}${j.lastError ? `: ${j.lastError}` : ''}\n`);
}

interface PreloadFlags {
  manifest?: string;
  snapshot?: string;
  datasetLocation?: string;
  snapshotPrefix?: string;
  config?: string;
  state?: string;
  publicKey?: string;
  concurrency: string;
}

/** Prints preload progress (stderr) and the outcome, naming every missing and mismatched object; the exit code. */
async function printPreload(lines: AsyncIterable<Record<string, unknown>>, json: boolean): Promise<number> {
  let code: number = EXIT.ok;
  for await (const line of lines) {
    if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
    if (line.type === 'error') {
      if (!json) process.stderr.write(`hybridsync: preload failed: ${line.message as string}\n`);
      code = EXIT.partial;
    }
    if (line.type === 'done') {
      const r = line as unknown as PreloadResult;
      if (r.missing.length > 0 || r.mismatched.length > 0) code = EXIT.partial;
    }
    if (json) continue;
    if (line.type === 'snapshot') process.stdout.write(`snapshot ${line.id as string}: ${line.files as number} files, ${formatBytes(line.bytes as number)}, under "${line.prefix as string}"\n`);
    else if (line.type === 'progress') process.stderr.write(`${line.done as number}/${line.total as number} ${formatBytes(line.bytes as number)} ${line.key as string}\n`);
    else if (line.type === 'done') {
      const r = line as unknown as PreloadResult;
      const checked = r.verified > 0 || r.mismatched.length > 0 ? `, ${r.verified} verified` : '';
      process.stdout.write(`preloaded ${r.done - r.missing.length - r.mismatched.length} of ${r.total} objects, ${formatBytes(r.bytes)} fetched${checked}${r.missing.length ? `; ${r.missing.length} not found` : ''}${r.mismatched.length ? `; ${r.mismatched.length} not as expected` : ''}\n`);
      for (const k of r.missing) process.stdout.write(`missing   ${k}\n`);
      for (const m of r.mismatched) process.stdout.write(`mismatch  ${m.key}: ${m.reason}\n`);
    }
  }
  return code;
}

function serveCommand(c: Command): Command {
  return c
    .option('--listen <host:port>', 'address of the S3 endpoint', '127.0.0.1:9000')
    .option('--upstream <location>', 'the cloud bucket: REMOTE:bucket/prefix, s3://bucket/prefix, az://container/prefix')
    .option('--cache <dir>', 'cache directory (a plain tree under data/, the index under .gateway/)')
    .option('--max-size <size>', 'bytes the cache may hold; clean data is evicted (LRU) to stay under')
    .option('--max-dirty <size>', 'bytes of not-yet-uploaded data accepted; more is refused with 503 SlowDown (default --max-size)')
    .option('--bucket <name>', 'bucket name clients use (default the upstream bucket)')
    .option('--region <region>', 'region clients sign for', 'us-east-1')
    .option('--staleness <duration>', 'how long an upstream listing is trusted', '60s')
    .option('--config <file>', 'hybridsync.yaml: remotes, policy, audit (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml)')
    .option('--bwlimit <spec>', 'bandwidth limit of the uploads, e.g. 10M or "08:00,512K 19:00,off"')
    .option('--transfers <n>', 'files uploaded in parallel')
    .action(async (f: ServeFlags) => {
      try {
        if (!f.upstream || !f.cache || !f.maxSize) throw new UsageError('gateway needs --upstream, --cache and --max-size', { hint: 'e.g. hybridsync gateway --upstream cloud:bucket --cache /var/cache/gw --max-size 500G' });
        const { host, port } = parseListen(f.listen);
        const g = await startGateway({
          upstream: f.upstream,
          cacheDir: f.cache,
          maxSize: sizeFlag('max-size', f.maxSize),
          ...(f.maxDirty ? { maxDirty: sizeFlag('max-dirty', f.maxDirty) } : {}),
          host,
          port,
          ...(f.bucket ? { bucket: f.bucket } : {}),
          ...(f.region ? { region: f.region } : {}),
          stalenessMs: parseDuration(f.staleness ?? '60s'),
          ...(f.config ? { config: f.config } : {}),
          transferOptions: { ...(f.bwlimit ? { bwlimit: f.bwlimit } : {}), ...(f.transfers ? { transfers: f.transfers } : {}) },
          log,
        });
        log(`hybridsync gateway: bucket ${g.bucket} over ${f.upstream} on ${g.url} (cache ${f.cache})`);
        await new Promise<void>((resolve) => {
          if (processSignal.aborted) resolve();
          processSignal.addEventListener('abort', () => resolve(), { once: true });
        });
        log('stopping; unuploaded writes stay journaled and go up on the next start');
        await g.close();
        process.exitCode = EXIT.ok;
      } catch (err) {
        process.exitCode = reportError(err);
      }
    });
}

export function gatewayCommand(): Command {
  const cmd = serveCommand(new Command('gateway').description('serve S3 on-prem over a cloud bucket: lazy read-through cache, durable write-back through the engine'));
  cmd.addCommand(
    adminOptions(new Command('status').description('hits, misses, dirty bytes, upload lag, pending, denied and held writes, freshness; the datasets it serves and their other copies'))
      .option('--config <file>', "hybridsync.yaml whose datasets: and jobs: list the datasets' other copies (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml)")
      .option('--state <file>', "the daemon's state database, for the jobs' last runs")
      .action(async (_: AdminFlags, c: Command) => {
        const f = c.optsWithGlobals<AdminFlags & { config?: string; state?: string }>();
        try {
          const s = await admin(f).status();
          const copies = copiesOfGateway(s, { ...(f.config ? { config: f.config } : {}), ...(f.state ? { statePath: f.state } : {}) });
          if (f.json) process.stdout.write(`${JSON.stringify({ ...s, copies })}\n`);
          else printStatus(s, copies);
          process.exitCode = s.dirty.denied > 0 ? EXIT.policy : EXIT.ok;
        } catch (err) {
          process.exitCode = reportError(err, f.json);
        }
      }),
  );
  cmd.addCommand(
    adminOptions(new Command('flush').description('upload everything written so far; with --wait, return when it is in the cloud'))
      .option('--wait', 'wait until everything written before this command is in the cloud')
      .action(async (_: AdminFlags, c: Command) => {
        const f = c.optsWithGlobals<AdminFlags & { wait?: boolean }>();
        try {
          const r = await admin(f).flush(!!f.wait);
          if (f.json) process.stdout.write(`${JSON.stringify(r)}\n`);
          else if ('denied' in r) {
            const except = [r.denied.length ? `${r.denied.length} denied by policy` : '', r.conflicts.length ? `${r.conflicts.length} held as conflicts with the cloud (gateway resolve KEY --keep gateway|cloud)` : ''].filter(Boolean);
            process.stdout.write(`flushed: every write up to #${r.flushedUpTo} is in the cloud${except.length ? `, except ${except.join(' and ')}` : ''}\n`);
            for (const k of r.denied) process.stdout.write(`denied    ${k}\n`);
            for (const k of r.conflicts) process.stdout.write(`conflict  ${k}\n`);
          } else process.stdout.write(`uploading ${r.pending} pending writes\n`);
          process.exitCode = 'denied' in r && r.denied.length > 0 ? EXIT.policy : 'conflicts' in r && r.conflicts.length > 0 ? EXIT.partial : EXIT.ok;
        } catch (err) {
          process.exitCode = reportError(err, f.json);
        }
      }),
  );
  cmd.addCommand(
    adminOptions(new Command('preload').description('fetch a prefix, the keys of a manifest or the files of a dataset snapshot (hashes checked) into the cache ahead of a training run'))
      .argument('[prefix]', 'key prefix to preload')
      .option('--manifest <file>', 'file with one key per line')
      .option('--snapshot <name>', 'a dataset snapshot (NAME, NAME@ID or its id, see hybridsync snapshot list): exactly its files, each MD5 checked as it lands')
      .option('--dataset-location <location>', 'with --snapshot: read the snapshot from this location instead of the lineage index')
      .option('--snapshot-prefix <prefix>', "with --snapshot: the key prefix of the snapshot's files under the gateway (default: its location relative to the gateway's upstream)")
      .option('--config <file>', 'with --snapshot: hybridsync.yaml (remotes, audit key) to read the snapshot with')
      .option('--state <file>', 'with --snapshot: state database; the lineage index is lineage.db beside it')
      .option('--public-key <file>', "with --snapshot: trusted Ed25519 public key (PEM) the snapshot's manifest must be signed with")
      .option('--concurrency <n>', 'objects fetched in parallel', '8')
      .action(async (prefix: string | undefined, _: AdminFlags, c: Command) => {
        const f = c.optsWithGlobals<AdminFlags & PreloadFlags>();
        try {
          if ([prefix, f.manifest, f.snapshot].filter((x) => x !== undefined).length !== 1) {
            throw new UsageError('preload takes one of PREFIX, --manifest FILE and --snapshot NAME', { hint: 'e.g. hybridsync gateway preload datasets/v3/ --cache DIR' });
          }
          const concurrency = Number(f.concurrency) || 8;
          let lines: AsyncIterable<Record<string, unknown>>;
          if (f.snapshot !== undefined) {
            lines = preloadSnapshot(admin(f), f.snapshot, {
              ...(f.datasetLocation ? { datasetLocation: f.datasetLocation } : {}),
              ...(f.snapshotPrefix !== undefined ? { prefix: f.snapshotPrefix } : {}),
              ...(f.config ? { config: f.config } : {}),
              ...(f.state ? { statePath: f.state } : {}),
              ...(f.publicKey ? { publicKey: f.publicKey } : {}),
              concurrency,
              signal: processSignal,
            });
          } else {
            const keys = f.manifest ? readFileSync(f.manifest, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')) : undefined;
            lines = admin(f).preload({ ...(keys ? { items: keys.map((key) => ({ key })) } : { prefix: prefix! }), concurrency });
          }
          process.exitCode = await printPreload(lines, !!f.json);
        } catch (err) {
          process.exitCode = reportError(err, f.json);
        }
      }),
  );
  cmd.addCommand(
    adminOptions(new Command('release').description('free the cached (clean) data under a prefix; unuploaded data stays'))
      .argument('<prefix>', 'key prefix')
      .action(async (prefix: string, _: AdminFlags, c: Command) => {
        const f = c.optsWithGlobals<AdminFlags>();
        try {
          const r = await admin(f).release(prefix);
          process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : `released ${r.released} objects, ${formatBytes(r.bytes)}${r.keptDirty ? `; kept ${r.keptDirty} not yet uploaded` : ''}\n`);
          process.exitCode = EXIT.ok;
        } catch (err) {
          process.exitCode = reportError(err, f.json);
        }
      }),
  );
  cmd.addCommand(
    adminOptions(new Command('resolve').description('settle a write held as a conflict with the cloud: keep the gateway\'s write (uploaded over the cloud\'s version) or the cloud\'s (the write is kept under CACHE/conflicts/)'))
      .argument('<key>', 'the key of the held write (gateway status lists them)')
      .requiredOption('--keep <side>', 'gateway or cloud')
      .action(async (key: string, _: AdminFlags, c: Command) => {
        const f = c.optsWithGlobals<AdminFlags & { keep: string }>();
        try {
          if (f.keep !== 'gateway' && f.keep !== 'cloud') throw new UsageError(`--keep ${f.keep}: keep gateway or cloud`, { hint: 'e.g. hybridsync gateway resolve labels.csv --keep cloud --cache DIR' });
          const r = await admin(f).resolve(key, f.keep);
          process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : f.keep === 'gateway' ? `${key}: the gateway's write goes up over the cloud's version\n` : `${key}: the cloud's version kept${r.kept ? `; the gateway's write is at ${r.kept}` : ''}\n`);
          process.exitCode = EXIT.ok;
        } catch (err) {
          process.exitCode = reportError(err, f.json);
        }
      }),
  );
  cmd.addCommand(
    adminOptions(new Command('refresh').description('list the upstream again (under a prefix) so objects written directly to the cloud appear'))
      .argument('[prefix]', 'key prefix', '')
      .action(async (prefix: string, _: AdminFlags, c: Command) => {
        const f = c.optsWithGlobals<AdminFlags>();
        try {
          const r = await admin(f).refresh(prefix);
          process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : `listed "${r.refreshed}": ${r.objects} objects\n`);
          process.exitCode = EXIT.ok;
        } catch (err) {
          process.exitCode = reportError(err, f.json);
        }
      }),
  );
  return cmd;
}
