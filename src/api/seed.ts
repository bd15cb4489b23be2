/**
 * Offline seeding: the first copy of a large dataset travels on a device (Snowball, Data
 * Box, a disk), later ones over the network.
 *
 *   seedExport(SRC, DIR)  copies SRC into DIR/data (mtimes kept) and writes DIR/manifest.ndjson:
 *                         every file's key, size, mtime and MD5, signed with the audit key.
 *   (ship DIR; at the far end import DIR/data into the bucket with any tool)
 *   adoptInto(SRC, DST)   records the imported objects whose content matches SRC as synced,
 *                         so the next sync SRC DST moves only what changed since the export.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { IntegrityError, UsageError } from '../core/errors.js';
import { loadConfig } from '../config/load.js';
import { auditPaths } from '../governance/audit/setup.js';
import { loadOrCreateSigner, readPublicKey, verifySignature } from '../governance/audit/signing.js';
import { md5OfStream } from '../lib/accounting.js';
import { adopt, type AdoptEvent, type AdoptSummary } from '../sync/adopt.js';
import type { RunSummary } from '../sync/events.js';
import { defaultStatePath } from '../sync/state.js';
import { openLocation, prepareTransfer, transfer, type RunContext, type TransferRequest } from './transfer.js';

export type { AdoptEvent, AdoptSummary };

export const SEED_FORMAT = 'hybridsync-seed/v1';
export const SEED_MANIFEST = 'manifest.ndjson';
export const SEED_DATA = 'data';

export interface SeedExportRequest extends RunContext {
  readonly src: string;
  /** The bundle directory (on the transfer device): DIR/data and DIR/manifest.ndjson. */
  readonly dir: string;
  /** Transfer options of the copy (filters, transfers…). */
  readonly options?: TransferRequest['options'];
}

export interface SeedExportResult {
  readonly manifest: string;
  readonly dataDir: string;
  readonly files: number;
  readonly bytes: number;
  /** The audit signing key that signed the manifest. */
  readonly keyId: string;
  readonly copy: RunSummary;
}

interface ManifestEntry {
  readonly key: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly md5: string;
}

function signedMessage(sha256: string, files: number, bytes: number): Buffer {
  return Buffer.from(`${SEED_FORMAT}\n${sha256}\n${files}\n${bytes}`);
}

function signingKeyOf(req: RunContext): { keyFile: string; publicKeyFile: string } {
  const env = req.env ?? process.env;
  const loaded = typeof req.config === 'object' ? req.config : loadConfig(req.config, env);
  const statePath = req.statePath ?? loaded.config?.stateFile ?? defaultStatePath(env);
  return auditPaths(loaded.config?.audit, statePath, env);
}

/** Copies SRC into the bundle and writes its signed manifest (after the copy, from the bundle's own bytes). */
export async function seedExport(req: SeedExportRequest): Promise<SeedExportResult> {
  const dir = resolve(req.dir);
  const dataDir = join(dir, SEED_DATA);
  const copy = await transfer({ ...req, mode: 'copy', src: req.src, dst: dataDir, ...(req.options ? { options: req.options } : {}) });
  if (copy.failed > 0 || copy.status === 'aborted') {
    throw new IntegrityError(`seed export: ${copy.failed} file(s) could not be copied into ${dataDir}; no manifest was written`, { hint: 'fix the errors above and run the export again (copied files are skipped)' });
  }
  const { keyFile } = signingKeyOf(req);
  const signer = loadOrCreateSigner(keyFile, (m) => (req.err ?? process.stderr).write(`hybridsync: WARNING: ${m}\n`));
  const manifest = join(dir, SEED_MANIFEST);
  const tmp = `${manifest}.tmp-${process.pid}`;
  const out = createWriteStream(tmp);
  const digest = createHash('sha256');
  const line = async (o: object): Promise<void> => {
    const s = `${JSON.stringify(o)}\n`;
    digest.update(s);
    if (!out.write(s)) await once(out, 'drain');
  };
  await line({ format: SEED_FORMAT, source: req.src, createdAt: new Date().toISOString(), keyId: signer.keyId });
  const bundle = openLocation(dataDir, req);
  let files = 0;
  let bytes = 0;
  try {
    for await (const e of bundle.list(req.signal ? { signal: req.signal } : {})) {
      const { md5 } = await md5OfStream((await bundle.read(e.key, req.signal ? { signal: req.signal } : {})) as AsyncIterable<Buffer>);
      await line({ key: e.key, size: e.size, mtimeMs: e.mtimeMs, md5 } satisfies ManifestEntry);
      files++;
      bytes += e.size;
    }
  } finally {
    await bundle.close?.();
  }
  const sha256 = digest.digest('hex');
  out.end(`${JSON.stringify({ type: 'signature', files, bytes, sha256, keyId: signer.keyId, signature: signer.sign(signedMessage(sha256, files, bytes)) })}\n`);
  await once(out, 'close');
  renameSync(tmp, manifest);
  return { manifest, dataDir, files, bytes, keyId: signer.keyId, copy };
}

export interface SeedVerifyResult {
  readonly files: number;
  readonly bytes: number;
  readonly keyId: string;
  /** Files whose size or MD5 differ from the manifest, or that are missing. */
  readonly bad: ReadonlyArray<{ key: string; problem: string }>;
}

/**
 * Checks a bundle: the manifest's signature (with `publicKeyFile`, default the local
 * audit key's public half) and every file's size and MD5 against it.
 */
export async function seedVerify(req: RunContext & { readonly dir: string; readonly publicKeyFile?: string }): Promise<SeedVerifyResult> {
  const dir = resolve(req.dir);
  let text: string;
  try {
    text = readFileSync(join(dir, SEED_MANIFEST), 'utf8');
  } catch (err) {
    throw new UsageError(`no seed manifest in ${dir}: ${(err as Error).message}`, { hint: 'give the directory seed export wrote' });
  }
  const lines = text.split('\n').filter(Boolean);
  const sig = JSON.parse(lines.pop() ?? '{}') as { type?: string; files: number; bytes: number; sha256: string; keyId: string; signature: string };
  const body = lines.map((l) => `${l}\n`).join('');
  const sha256 = createHash('sha256').update(body).digest('hex');
  const keyFile = req.publicKeyFile ?? signingKeyOf(req).publicKeyFile;
  if (sig.type !== 'signature' || sig.sha256 !== sha256 || !verifySignature(readPublicKey(keyFile), signedMessage(sha256, sig.files, sig.bytes), sig.signature)) {
    throw new IntegrityError(`the seed manifest in ${dir} is not signed by ${keyFile} or was altered`, { hint: 'verify with the public key of the exporting site (--public-key)' });
  }
  const bundle = openLocation(join(dir, SEED_DATA), req);
  const bad: Array<{ key: string; problem: string }> = [];
  try {
    for (const l of lines.slice(1)) {
      const e = JSON.parse(l) as ManifestEntry;
      const st = await bundle.stat(e.key);
      if (!st) bad.push({ key: e.key, problem: 'missing' });
      else if (st.size !== e.size) bad.push({ key: e.key, problem: `size ${st.size}, manifest says ${e.size}` });
      else if ((await md5OfStream((await bundle.read(e.key)) as AsyncIterable<Buffer>)).md5 !== e.md5) bad.push({ key: e.key, problem: 'MD5 differs from the manifest' });
    }
  } finally {
    await bundle.close?.();
  }
  return { files: sig.files, bytes: sig.bytes, keyId: sig.keyId, bad };
}

export interface AdoptRequest extends RunContext {
  readonly src: string;
  readonly dst: string;
  /** Read destination objects no hash can vouch for. */
  readonly download?: boolean;
  readonly dryRun?: boolean;
  /** Filters and checkers, as for sync. */
  readonly options?: TransferRequest['options'];
  readonly onAdopt?: (e: AdoptEvent) => void;
}

/** Records the destination objects that match the source as synced (state database), moving nothing. */
export async function adoptInto(req: AdoptRequest): Promise<AdoptSummary> {
  const prepared = await prepareTransfer({ ...req, mode: 'copy', ...(req.options ? { options: req.options } : {}) });
  try {
    const r = prepared.run;
    return await adopt({
      src: prepared.src,
      dst: prepared.dst,
      state: r.state,
      ...(r.filter ? { filter: r.filter } : {}),
      download: !!req.download,
      dryRun: !!req.dryRun,
      checkers: r.checkers ?? 8,
      ...(r.signal ? { signal: r.signal } : {}),
      ...(req.onAdopt ? { onEvent: req.onAdopt } : {}),
    });
  } finally {
    await prepared.close();
  }
}
