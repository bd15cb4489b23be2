import { Command } from 'commander';
import { resolveLocation } from '../backends/registry.js';
import { loadConfig } from '../config/load.js';
import type { Entry } from '../core/entry.js';
import { mapOrdered } from './classify.js';
import { formatBytes } from '../lib/units.js';
import { processSignal, reportError } from './context.js';
import { stdoutIsOpen } from './output.js';

interface LsFlags {
  config?: string;
  json?: boolean;
  long?: boolean;
  s3Endpoint?: string;
  s3Region?: string;
  s3Profile?: string;
  s3AllowHttp?: boolean;
}

export function lsCommand(): Command {
  return new Command('ls')
    .description('list files under a location, recursively, in key order')
    .argument('<location>', 'REMOTE:bucket/prefix, s3://bucket/prefix, az://container/prefix, a local path or file:///path')
    .option('--config <file>', 'hybridsync.yaml with remotes (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml if present)')
    .option('-l, --long', 'size, modification time and MD5 (if known)')
    .option('--json', 'NDJSON, one entry per line')
    .option('--s3-endpoint <url>', 'S3 endpoint')
    .option('--s3-region <region>', 'S3 region')
    .option('--s3-profile <name>', 'AWS profile')
    .option('--s3-allow-http', 'allow plain http to a non-loopback endpoint')
    .action(async (location: string, f: LsFlags) => {
      let errors = 0;
      try {
        const h = resolveLocation(location, {
          remotes: loadConfig(f.config).remotes,
          s3: { endpoint: f.s3Endpoint, region: f.s3Region, profile: f.s3Profile, allowInsecureHttp: f.s3AllowHttp },
        });
        const b = h.open({
          onListError: (key, err) => {
            errors++;
            process.stderr.write(`ERROR ${key}: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
          },
        });
        let n = 0;
        let bytes = 0;
        // -l and --json show the content's mtime and MD5: where a listing lacks them (S3 lists
        // the upload time and no MD5 for multipart objects), the object's metadata has them
        const full = async (e: Entry): Promise<Entry> => (e.mtimeExact && (e.md5 || b.features.cheapReads) ? e : ((await b.stat(e.key, { signal: processSignal })) ?? e));
        const entries = f.long || f.json ? mapOrdered(b.list({ signal: processSignal }), 16, full) : b.list({ signal: processSignal });
        for await (const e of entries) {
          if (!stdoutIsOpen()) break; // the reader has what it wanted (`| head`)
          n++;
          bytes += e.size;
          if (f.json) process.stdout.write(`${JSON.stringify({ key: e.key, size: e.size, mtime: new Date(e.mtimeMs).toISOString(), md5: e.md5, etag: e.etag, storageClass: e.storageClass })}\n`);
          else if (f.long) process.stdout.write(`${String(e.size).padStart(12)}  ${new Date(e.mtimeMs).toISOString()}  ${e.md5 ?? '-'.padEnd(32)}  ${e.key}\n`);
          else process.stdout.write(`${String(e.size).padStart(12)}  ${e.key}\n`);
        }
        await b.close?.();
        if (!f.json && stdoutIsOpen()) process.stderr.write(`${n} files, ${formatBytes(bytes)}\n`);
        process.exitCode = errors > 0 ? 1 : 0;
      } catch (err) {
        process.exitCode = reportError(err, f.json);
      }
    });
}
