/**
 * Dataset snapshots, model versions and the lineage between them, as a library:
 *
 *   const snap = await createSnapshot('onprem:training/v3', { name: 'imagenet' });
 *   const model = await pushModel('./out', 's3://models/resnet', { run: 'run-42', dataset: 'imagenet' });
 *   const l = await lineageOf(model.versionId);   // l.dataset.id === snap.id, l.run === 'run-42'
 *
 * A snapshot is a signed, content-addressed manifest of every file at a location (path,
 * size, MD5, ETag) stored at `<location>/.hybridsync/manifests/`; a model version is a
 * signed, immutable manifest of the files pushed to `<location>/<model>/v<n>/`, naming the
 * snapshot it was trained on, the run and the git commit. Both are signed with the audit
 * key. Files move through the same governed, verified, audited copy as `hybridsync copy`
 * (api/transfer.ts). The lineage index (lineage/index-db.ts) remembers where manifests are;
 * the manifests at the locations are the record.
 */
import type { KeyObject } from 'node:crypto';
import type { Backend } from '../core/backend.js';
import { AbortedError, IntegrityError, PolicyDeniedError, TransientError, UsageError } from '../core/errors.js';
import type { Location } from '../core/location.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { actor } from '../governance/audit/recorder.js';
import { redactUri } from '../governance/audit/redact.js';
import { auditPaths, openAuditLog } from '../governance/audit/setup.js';
import { loadOrCreateSigner, trustedPublicKey, type Signer } from '../governance/audit/signing.js';
import { gitCommitOf } from '../lib/git.js';
import { lineageIndexPath, LineageIndex, type ModelRow, type PromotionRow, type SnapshotRow } from '../lineage/index-db.js';
import {
  assertName,
  datasetId,
  datasetKey,
  MANIFEST_DIR,
  modelKey,
  modelVersionId,
  parseDatasetId,
  parseModelKey,
  parseModelVersion,
  signatureProblem,
  signManifest,
  totalsOf,
  type DatasetManifest,
  type ManifestFile,
  type ManifestLocation,
  type ModelManifest,
  type ParsedManifest,
} from '../lineage/manifest.js';
import { checkFiles, describeFiles, listManifestKeys, md5Of, readManifest, readManifests, writeManifest, type FileCheck, type StoredManifest } from '../lineage/store.js';
import type { RunSummary, SyncEvent } from '../sync/events.js';
import { defaultStatePath } from '../sync/state.js';
import { openLocation, transfer, type RunContext, type TransferRequest } from './transfer.js';

/** How lineage commands are set up: the config, connections and state of a run. */
export interface LineageContext extends Pick<RunContext, 'config' | 's3' | 'endpoint' | 'statePath' | 'env' | 'signal' | 'err'> {
  /** Trusted Ed25519 public key (PEM file) manifests must be signed with; default the local audit key's. */
  readonly publicKey?: string;
  /** Events of the copies `model push` and `model promote` run. */
  readonly onEvent?: (e: SyncEvent) => void;
  /** Objects read or hashed at once (default 8). */
  readonly concurrency?: number;
  /** Transfer options of those copies (as for copy: transfers, bwlimit, maxDelete, …); checksum is always on. */
  readonly options?: TransferRequest['options'];
}

/** A file a policy transform changed on the way: its stored MD5 and the transforms. */
interface Transformed {
  readonly md5: string;
  readonly transforms: string[];
}

export interface SnapshotInfo {
  readonly id: string;
  readonly name: string;
  /** SHA-256 of the manifest's canonical bytes. */
  readonly sha256: string;
  readonly location: string;
  readonly locationId: string;
  readonly created: string;
  readonly files: number;
  readonly bytes: number;
  /** The manifest's key, relative to the location. */
  readonly key: string;
  readonly keyId: string;
}

export interface ModelInfo {
  /** `<model>@<n>` */
  readonly versionId: string;
  readonly model: string;
  readonly version: number;
  readonly sha256: string;
  readonly location: string;
  readonly locationId: string;
  /** Where the files are, relative to the location. */
  readonly prefix: string;
  readonly key: string;
  readonly created: string;
  readonly run: string;
  readonly commit: string;
  readonly commitDirty?: boolean;
  readonly dataset: { readonly id: string; readonly name: string; readonly sha256: string; readonly location: string };
  readonly files: number;
  readonly bytes: number;
}

export interface PushResult extends ModelInfo {
  /** The same version with the same files was there already: nothing was sent or written. */
  readonly alreadyPushed: boolean;
  readonly transfer?: Pick<RunSummary, 'transferred' | 'bytes' | 'skipped'>;
}

export type ManifestProblemKind = 'unreadable' | 'format' | 'digest' | 'signature' | 'index';

export interface VerifyReport {
  readonly ok: boolean;
  readonly kind: 'dataset' | 'model';
  /** The snapshot id or model version. */
  readonly id: string;
  readonly location: string;
  readonly key: string;
  readonly manifest: { readonly problems: ReadonlyArray<{ readonly kind: ManifestProblemKind; readonly message: string }> };
  /** Absent when the manifest could not be read as one. */
  readonly files?: FileCheck;
  readonly warnings: string[];
}

export interface Lineage {
  readonly model: ModelInfo;
  readonly dataset: SnapshotInfo;
  readonly run: string;
  readonly commit: string;
  readonly promotions: PromotionRow[];
  /** With `files`: the snapshot's files. */
  readonly datasetFiles?: readonly ManifestFile[];
  /** With `files`: the model version's files. */
  readonly modelFiles?: readonly ManifestFile[];
}

export interface PromoteResult {
  readonly versionId: string;
  readonly sha256: string;
  readonly target: string;
  readonly targetId: string;
  readonly files: number;
  readonly bytes: number;
  readonly transfer: Pick<RunSummary, 'transferred' | 'bytes' | 'skipped'>;
  /** Files the target's policy transformed on the way (e.g. pii-scrub): their MD5 there differs by design. */
  readonly transformed: string[];
}

// --------------------------------------------------------------------------- session

/** The location as hybridsync can open it again later: local trees by absolute path. */
function specOf(loc: Location): string {
  return loc.type === 'local' && loc.remote === '' ? loc.path : loc.display;
}

function locationOf(loc: Location): ManifestLocation {
  return { spec: specOf(loc), id: loc.id };
}

/** A location spec with `sub` (a relative prefix) appended. */
function childSpec(spec: string, sub: string): string {
  return `${spec.replace(/\/+$/, '')}/${sub.replace(/^\/+/, '')}`;
}

/** Config, index, signer and opened backends of one lineage command; close() releases them. */
class Session {
  readonly loaded: LoadedConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly statePath: string;
  private idx: LineageIndex | undefined;
  private readonly opened: Backend[] = [];
  private signerCache: Signer | undefined;

  constructor(readonly o: LineageContext) {
    this.env = o.env ?? process.env;
    this.loaded = typeof o.config === 'object' ? o.config : loadConfig(o.config, this.env);
    this.statePath = o.statePath ?? this.loaded.config?.stateFile ?? defaultStatePath(this.env);
  }

  open(spec: string): Backend {
    const b = openLocation(spec, { config: this.loaded, env: this.env, ...(this.o.s3 ? { s3: this.o.s3 } : {}), ...(this.o.endpoint ? { endpoint: this.o.endpoint } : {}) });
    this.opened.push(b);
    return b;
  }

  get index(): LineageIndex {
    this.idx ??= new LineageIndex(lineageIndexPath(this.statePath));
    return this.idx;
  }

  private get auditPaths() {
    return auditPaths(this.loaded.config?.audit, this.statePath, this.env);
  }

  signer(): Signer {
    this.signerCache ??= loadOrCreateSigner(this.auditPaths.keyFile, (m) => (this.o.err ?? process.stderr).write(`hybridsync: WARNING: ${m}\n`));
    return this.signerCache;
  }

  trusted(): KeyObject {
    return trustedPublicKey(this.auditPaths, this.o.publicKey);
  }

  get store() {
    return { ...(this.o.signal ? { signal: this.o.signal } : {}), ...(this.o.concurrency ? { concurrency: this.o.concurrency } : {}) };
  }

  /** One audit record, written and signed at once (unless the config turns auditing off). */
  async audit(body: { type: string } & Record<string, unknown>): Promise<void> {
    const opened = openAuditLog({ cfg: this.loaded.config?.audit, statePath: this.statePath, openMirror: (spec) => this.open(spec), flushIntervalMs: 0 });
    if (!opened) return;
    const who = actor();
    opened.log.append({ ...body, user: who.user, host: who.host, pid: who.pid, tool: 'hybridsync' });
    await opened.log.close();
  }

  /**
   * One governed, verified, audited copy (as `hybridsync sync`): fails unless every file
   * arrived. Returns the summary and the stored MD5 of files a transform changed.
   */
  /**
   * The governed, verified copy of push and promote. With `preflight`, the policy is asked
   * about every file first (a dry run of the same transfer): one denial stops it before
   * anything is copied — a target that already holds something (a production prefix) is
   * never left with part of a version.
   */
  async copy(src: string, dst: string, what: string, o: { preflight?: boolean } = {}): Promise<{ summary: RunSummary; transformed: Map<string, Transformed> }> {
    const transformed = new Map<string, Transformed>();
    const denied: string[] = [];
    const req: TransferRequest = {
      mode: 'sync',
      src,
      dst,
      config: this.loaded,
      statePath: this.statePath,
      env: this.env,
      options: { ...this.o.options, checksum: true },
      ...(this.o.s3 ? { s3: this.o.s3 } : {}),
      ...(this.o.endpoint ? { endpoint: this.o.endpoint } : {}),
      ...(this.o.signal ? { signal: this.o.signal } : {}),
      ...(this.o.err ? { err: this.o.err } : {}),
      json: true,
      onEvent: (e) => {
        if (e.type === 'transfer' && e.transforms?.length) transformed.set(e.key, { md5: e.md5, transforms: e.transforms.map((t) => t.name) });
        if (e.type === 'denied' && denied.length < 5) denied.push(`${e.key} (${e.reason})`);
        this.o.onEvent?.(e);
      },
    };
    if (o.preflight) {
      // the policy decides every file before any is copied: nothing moves when one is denied
      const plan = await transfer({ ...req, options: { ...req.options, dryRun: true }, onEvent: (e) => void (e.type === 'denied' && denied.length < 5 && denied.push(`${e.key} (${e.reason})`)) });
      if (plan.denied > 0) {
        throw new PolicyDeniedError(`${what}: ${plan.denied} file(s) would be denied by the classification policy of ${dst}: ${denied.join(', ')}; nothing was copied`, {
          hint: 'see `hybridsync policy check SRC DST`, or choose a target the policy allows',
        });
      }
    }
    const summary = await transfer(req);
    if (summary.status === 'aborted') throw new AbortedError(`${what}: interrupted`, { hint: 'rerun the same command: files already stored are not sent again' });
    if (summary.denied > 0) {
      throw new PolicyDeniedError(`${what}: ${summary.denied} file(s) denied by the classification policy of ${dst}: ${denied.join(', ')}; nothing was recorded`, {
        hint: 'see `hybridsync policy check SRC DST`, or push to a location the policy allows',
      });
    }
    if (summary.failed > 0 || summary.status === 'failed') {
      const held = summary.deletesHeldBack > 0 ? ` (${summary.deletesHeldBack} extraneous file(s) there were not deleted: over --max-delete?)` : '';
      throw new TransientError(`${what}: ${summary.failed} file(s) failed to copy to ${dst}${held}; nothing was recorded`, { hint: 'rerun the same command: files already stored are not sent again' });
    }
    return { summary, transformed };
  }

  async close(): Promise<void> {
    this.idx?.close();
    await Promise.allSettled(this.opened.map((b) => b.close?.()));
  }
}

async function withSession<T>(o: LineageContext, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = new Session(o);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

// -------------------------------------------------------------------------- manifests

function snapshotInfo(b: DatasetManifest, digest: string, key: string, keyId: string): SnapshotInfo {
  return {
    id: datasetId(b.name, digest),
    name: b.name,
    sha256: digest,
    location: b.location.spec,
    locationId: b.location.id,
    created: b.created,
    files: b.totals.files,
    bytes: b.totals.bytes,
    key,
    keyId,
  };
}

function snapshotOf(m: ParsedManifest<DatasetManifest>, key: string): SnapshotInfo {
  return snapshotInfo(m.body, m.digest, key, m.signature?.keyId ?? '');
}

function modelInfo(b: ModelManifest, digest: string, key: string): ModelInfo {
  return {
    versionId: modelVersionId(b.model, b.version),
    model: b.model,
    version: b.version,
    sha256: digest,
    location: b.location.spec,
    locationId: b.location.id,
    prefix: b.prefix,
    key,
    created: b.created,
    run: b.run,
    commit: b.commit,
    ...(b.commitDirty !== undefined ? { commitDirty: b.commitDirty } : {}),
    dataset: { id: b.dataset.id, name: b.dataset.name, sha256: b.dataset.sha256, location: b.dataset.location.spec },
    files: b.totals.files,
    bytes: b.totals.bytes,
  };
}

function snapshotRow(i: SnapshotInfo): SnapshotRow {
  return { id: i.id, name: i.name, sha256: i.sha256, locationId: i.locationId, location: i.location, created: i.created, files: i.files, bytes: i.bytes };
}

function modelRow(i: ModelInfo): ModelRow {
  return {
    versionId: i.versionId,
    model: i.model,
    version: i.version,
    sha256: i.sha256,
    locationId: i.locationId,
    location: i.location,
    datasetId: i.dataset.id,
    datasetSha256: i.dataset.sha256,
    runId: i.run,
    commit: i.commit,
    created: i.created,
    files: i.files,
    bytes: i.bytes,
  };
}

/** What is wrong with a stored manifest: format, content vs its name, signature. */
function manifestProblems(stored: StoredManifest, trusted: KeyObject, indexedSha256?: string): Array<{ kind: ManifestProblemKind; message: string }> {
  if (!stored.ok) return [{ kind: 'format', message: `${stored.key}: ${stored.problem}` }];
  const m = stored.manifest;
  const out: Array<{ kind: ManifestProblemKind; message: string }> = [];
  const file = stored.key.slice(MANIFEST_DIR.length);
  if (m.body.kind === 'dataset') {
    const named = parseDatasetId(file.replace(/\.json$/, ''));
    if (!named || named.name !== m.body.name || !m.digest.startsWith(named.hash)) {
      out.push({ kind: 'digest', message: `${stored.key}: the content does not match the id it is stored under (sha256 ${m.digest}): the manifest was modified` });
    }
  } else {
    const named = parseModelKey(file);
    if (!named || named.model !== m.body.model || named.version !== m.body.version) {
      out.push({ kind: 'digest', message: `${stored.key}: names ${modelVersionId(m.body.model, m.body.version)}, not the version it is stored as` });
    }
  }
  const sig = signatureProblem(m, trusted);
  if (sig) out.push({ kind: 'signature', message: `${stored.key}: ${sig}` });
  if (indexedSha256 !== undefined && m.digest !== indexedSha256) {
    out.push({ kind: 'index', message: `${stored.key}: sha256 ${m.digest}, but ${indexedSha256} was recorded when it was written` });
  }
  return out;
}

/** Reads a manifest that must be intact: present, well-formed, signed by the trusted key, with the expected digest. */
async function readTrusted(s: Session, b: Backend, key: string, expectedSha256?: string): Promise<ParsedManifest> {
  const stored = await readManifest(b, key, s.o.signal);
  if (!stored) throw new UsageError(`no manifest ${key} at ${b.uri}`, { hint: 'the index points at a manifest that is gone: list the location again (snapshot list / model list LOCATION)' });
  const problems = manifestProblems(stored, s.trusted(), expectedSha256);
  if (problems.length > 0 || !stored.ok) {
    throw new IntegrityError(`${b.uri}: ${problems.map((p) => p.message).join('; ')}`, { hint: `run hybridsync snapshot verify / model verify for the details; do not trust this manifest` });
  }
  return stored.manifest;
}

// -------------------------------------------------------------------------- snapshots

export interface CreateSnapshotOptions extends LineageContext {
  readonly name: string;
}

/** Records a dataset snapshot of every file at `location`: manifest written there, indexed, audited. */
export function createSnapshot(location: string, o: CreateSnapshotOptions): Promise<SnapshotInfo> {
  assertName('snapshot name', o.name);
  return withSession(o, async (s) => {
    const b = s.open(location);
    const files = await describeFiles(b, s.store);
    if (files.length === 0) throw new UsageError(`${b.uri} has no files to snapshot`, { hint: 'check the location: a snapshot records the files under it' });
    const who = actor();
    const body: DatasetManifest = {
      format: 'hybridsync-manifest/v1',
      kind: 'dataset',
      name: o.name,
      created: new Date().toISOString(),
      createdBy: { user: who.user, host: who.host },
      location: locationOf(b.location),
      totals: totalsOf(files),
      files,
    };
    const signer = s.signer();
    const { text, digest } = signManifest(body, signer);
    const id = datasetId(o.name, digest);
    const key = datasetKey(id);
    await writeManifest(b, key, text, o.signal);
    const info = snapshotInfo(body, digest, key, signer.keyId);
    s.index.putSnapshot(snapshotRow(info));
    await s.audit({ type: 'snapshot-create', snapshot: id, sha256: digest, location: redactUri(b.location.id), files: info.files, bytes: info.bytes, keyId: signer.keyId });
    return info;
  });
}

/** A manifest found at a location: valid when signed by the trusted key and stored under its own id. */
export interface Listed<T> {
  readonly key: string;
  readonly valid: boolean;
  readonly problems: string[];
  /** What it records, when it could be read as a manifest of the kind. */
  readonly info?: T;
}

/**
 * The manifests of one kind at a location, each checked (format, id, signature); the
 * valid ones are indexed again, so the index can be rebuilt from the locations.
 */
async function listedAt<K extends 'dataset' | 'model'>(s: Session, b: Backend, kind: K): Promise<Array<Listed<K extends 'dataset' ? SnapshotInfo : ModelInfo>>> {
  type Info = K extends 'dataset' ? SnapshotInfo : ModelInfo;
  const trusted = s.trusted();
  const out: Array<Listed<Info>> = [];
  for (const stored of await readManifests(b, kind === 'dataset' ? 'ds-' : 'model-', s.store)) {
    const problems = manifestProblems(stored, trusted).map((p) => p.message);
    if (!stored.ok || stored.manifest.body.kind !== kind) {
      out.push({ key: stored.key, valid: false, problems: problems.length ? problems : [`${stored.key}: not a ${kind} manifest`] });
      continue;
    }
    const m = stored.manifest;
    const valid = problems.length === 0;
    if (m.body.kind === 'dataset') {
      const info = snapshotOf(m as ParsedManifest<DatasetManifest>, stored.key);
      if (valid) s.index.putSnapshot(snapshotRow(info));
      out.push({ key: stored.key, valid, problems, info: info as Info });
    } else {
      const info = modelInfo(m.body, m.digest, stored.key);
      if (valid) s.index.putModel(modelRow(info));
      out.push({ key: stored.key, valid, problems, info: info as Info });
    }
  }
  return out;
}

/** The snapshots recorded at a location, read from its manifests (and indexed again), by name, newest first. */
export function listSnapshots(location: string, o: LineageContext = {}): Promise<Array<Listed<SnapshotInfo>>> {
  return withSession(o, async (s) => {
    const out = await listedAt(s, s.open(location), 'dataset');
    return out.sort((x, y) => (x.info?.name ?? '').localeCompare(y.info?.name ?? '') || (y.info?.created ?? '').localeCompare(x.info?.created ?? ''));
  });
}

/** `NAME`, `NAME@ID` (the full id or the start of its hash) or a full id `ds-NAME-HASH`. */
function parseSnapshotRef(ref: string): { name: string; pick?: string } {
  const full = parseDatasetId(ref);
  if (full) return { name: full.name, pick: full.hash };
  const at = ref.indexOf('@');
  const name = at < 0 ? ref : ref.slice(0, at);
  assertName('snapshot name', name);
  if (at < 0) return { name };
  const pick = ref.slice(at + 1);
  const asId = parseDatasetId(pick);
  if (asId && asId.name !== name) throw new UsageError(`${ref}: the id names snapshot "${asId.name}", not "${name}"`);
  if (!asId && !/^[0-9a-f]{4,16}$/.test(pick)) throw new UsageError(`${ref}: "${pick}" is not a snapshot id`, { hint: 'write NAME@ds-NAME-HASH or NAME@HASH (at least 4 hex digits); snapshot list shows them' });
  return { name, pick: asId ? asId.hash : pick };
}

/** The manifest key at a location a snapshot reference means (newest of the name unless one is picked). */
async function snapshotKeyAt(s: Session, b: Backend, ref: string): Promise<string> {
  const { name, pick } = parseSnapshotRef(ref);
  const keys = await listManifestKeys(b, 'ds-', s.o.signal);
  if (keys.length === 0) {
    throw new UsageError(`no dataset snapshots at ${b.uri} (nothing under ${MANIFEST_DIR})`, { hint: `create one with hybridsync snapshot create ${b.uri} --name ${name}` });
  }
  const candidates = keys.filter((k) => {
    const id = parseDatasetId(k.key.slice(MANIFEST_DIR.length).replace(/\.json$/, ''));
    return id?.name === name && (pick === undefined || id.hash.startsWith(pick));
  });
  if (candidates.length === 0) {
    const names = [...new Set(keys.map((k) => parseDatasetId(k.key.slice(MANIFEST_DIR.length).replace(/\.json$/, ''))?.name).filter(Boolean))];
    throw new UsageError(`no snapshot ${ref} at ${b.uri}`, { hint: names.length ? `snapshots there: ${names.join(', ')}` : 'hybridsync snapshot list LOCATION shows what is there' });
  }
  if (pick !== undefined && candidates.length > 1) throw new UsageError(`${ref} is ambiguous at ${b.uri}: ${candidates.length} snapshots match`, { hint: 'give more of the id' });
  if (candidates.length === 1) return candidates[0]!.key;
  // newest of the name: by the manifest's own time, by the object's time where it is unreadable
  const dated = await Promise.all(
    candidates.map(async (c) => {
      const m = await readManifest(b, c.key, s.o.signal);
      const t = m?.ok ? Date.parse(m.manifest.body.created) : NaN;
      return { key: c.key, t: Number.isFinite(t) ? t : c.mtimeMs };
    }),
  );
  return dated.sort((x, y) => y.t - x.t)[0]!.key;
}

/** Checks a manifest at a location and every file it lists. */
async function verifyAt(s: Session, b: Backend, key: string, kind: 'dataset' | 'model', id: string, o: { quick?: boolean }, indexedSha256?: string): Promise<VerifyReport> {
  const stored = await readManifest(b, key, s.o.signal);
  const warnings: string[] = [];
  if (!stored) {
    return { ok: false, kind, id, location: b.uri, key, manifest: { problems: [{ kind: 'unreadable', message: `${key}: missing` }] }, warnings };
  }
  const problems = manifestProblems(stored, s.trusted(), indexedSha256);
  if (!stored.ok) return { ok: false, kind, id, location: b.uri, key, manifest: { problems }, warnings };
  const m = stored.manifest;
  if (m.body.location.id !== b.location.id) warnings.push(`the manifest was made at ${m.body.location.id}; checking it at ${b.location.id}`);
  const base = m.body.kind === 'model' ? m.body.prefix : '';
  const files = await checkFiles(b, base, m.body.files, { ...s.store, ...(o.quick ? { quick: true } : {}) });
  return { ok: problems.length === 0 && files.problems.length === 0, kind, id, location: b.uri, key, manifest: { problems }, files, warnings };
}

export interface VerifyOptions extends LineageContext {
  /** Compare sizes and ETags (or mtimes) instead of reading every object. */
  readonly quick?: boolean;
}

/**
 * Recomputes the hashes of a snapshot's files from the objects and checks the manifest's
 * signature. `ref` is NAME (the newest), NAME@ID or the id. Never throws for what it finds:
 * the report lists every modified, missing or unreadable file and any manifest problem.
 */
export function verifySnapshot(location: string, ref: string, o: VerifyOptions = {}): Promise<VerifyReport> {
  return withSession(o, async (s) => {
    const b = s.open(location);
    const key = await snapshotKeyAt(s, b, ref);
    const id = key.slice(MANIFEST_DIR.length).replace(/\.json$/, '');
    return verifyAt(s, b, key, 'dataset', id, o, s.index.snapshot(id)?.sha256);
  });
}

/** A snapshot the index knows, by reference; UsageError naming the fix when there is none. */
function indexedSnapshot(s: Session, ref: string): SnapshotRow {
  const { name, pick } = parseSnapshotRef(ref);
  const rows = s.index.snapshotsNamed(name).filter((r) => pick === undefined || (parseDatasetId(r.id)?.hash.startsWith(pick) ?? false));
  if (rows.length === 0) {
    throw new UsageError(`unknown dataset snapshot ${ref}`, {
      hint: `create it with hybridsync snapshot create LOCATION --name ${name}, or index a location's snapshots with hybridsync snapshot list LOCATION (or give --dataset-location)`,
    });
  }
  if (pick !== undefined && rows.length > 1) throw new UsageError(`${ref} is ambiguous: ${rows.map((r) => r.id).join(', ')}`, { hint: 'give more of the id' });
  return rows[0]!;
}

/** Reads the snapshot a reference names — from `at` when given, else where the index says — and checks it. */
async function trustedSnapshot(s: Session, ref: string, at?: string): Promise<{ info: SnapshotInfo; manifest: ParsedManifest<DatasetManifest> }> {
  let b: Backend;
  let key: string;
  let expected: string | undefined;
  if (at !== undefined) {
    b = s.open(at);
    key = await snapshotKeyAt(s, b, ref);
  } else {
    const row = indexedSnapshot(s, ref);
    b = s.open(row.location);
    key = datasetKey(row.id);
    expected = row.sha256;
  }
  const m = await readTrusted(s, b, key, expected);
  if (m.body.kind !== 'dataset') throw new UsageError(`${key} at ${b.uri} is not a dataset snapshot`);
  const manifest = m as ParsedManifest<DatasetManifest>;
  const info = snapshotOf(manifest, key);
  s.index.putSnapshot(snapshotRow(info));
  return { info, manifest };
}

export interface SnapshotFilesOptions extends LineageContext {
  /** Read the snapshot from this location instead of looking it up in the index. */
  readonly datasetLocation?: string;
}

/** A snapshot's files (path, size, MD5), from its manifest — checked first (format, digest, signature). */
export function snapshotFiles(ref: string, o: SnapshotFilesOptions = {}): Promise<{ snapshot: SnapshotInfo; files: ManifestFile[] }> {
  return withSession(o, async (s) => {
    const { info, manifest } = await trustedSnapshot(s, ref, o.datasetLocation);
    return { snapshot: info, files: manifest.body.files };
  });
}

// ----------------------------------------------------------------------------- models

export interface PushModelOptions extends LineageContext {
  /** The training run's id. */
  readonly run: string;
  /** The dataset snapshot it was trained on: NAME, NAME@ID or the id. */
  readonly dataset: string;
  /** Read the snapshot from this location instead of looking it up in the index. */
  readonly datasetLocation?: string;
  /** Model name (default: the directory's name). */
  readonly model?: string;
  /** Version number (default: one more than the highest at the location). */
  readonly version?: number;
  /** Git commit (default: HEAD of the checkout DIR, else the working directory, is in). */
  readonly commit?: string;
  /** Where to look for a checkout when `commit` is not given (default the process's cwd). */
  readonly cwd?: string;
}

/** Whether a version's files (as stored) are the pushed files `local` (compared by their bytes before any transform). */
function sameFiles(stored: readonly ManifestFile[], local: readonly ManifestFile[]): boolean {
  return stored.length === local.length && stored.every((f, i) => f.path === local[i]!.path && (f.sourceMd5 ?? f.md5) === local[i]!.md5);
}

/** The commit to record: --commit, else HEAD of the checkout DIR is in, else of the working directory's. */
function commitFor(dir: Location, o: PushModelOptions): { commit: string; dirty?: boolean } {
  if (o.commit) return { commit: o.commit };
  const found = (dir.type === 'local' ? gitCommitOf(dir.path) : undefined) ?? gitCommitOf(o.cwd ?? process.cwd());
  if (!found) throw new UsageError('no git commit to record', { hint: "run inside the training code's git checkout, or give --commit SHA" });
  return found;
}

/**
 * Copies DIR to the version's prefix and checks what is stored there against what was
 * sent (the stored MD5 where a policy transform changed the bytes). A version the policy
 * refuses, or whose bytes do not check, leaves nothing behind; a failed copy is kept for
 * the rerun to resume.
 */
async function pushFiles(
  s: Session,
  p: { dir: string; location: string; dst: Backend; prefix: string; versionId: string; files: readonly ManifestFile[]; srcUri: string },
): Promise<{ summary: RunSummary; files: ManifestFile[] }> {
  const { dst, prefix, versionId } = p;
  try {
    const { summary, transformed } = await s.copy(p.dir, childSpec(p.location, prefix), `model push ${versionId}`);
    const stored = await describeFiles(dst, { ...s.store, prefix });
    const wanted = new Map(p.files.map((f) => [f.path, f]));
    const pushed: ManifestFile[] = [];
    for (const f of stored) {
      const path = f.path.slice(prefix.length);
      const want = wanted.get(path);
      if (!want) throw new IntegrityError(`${dst.uri}${f.path}: not among the files of ${p.srcUri}; ${versionId} was not recorded`);
      const t = transformed.get(path);
      if (f.md5 !== (t?.md5 ?? want.md5)) throw new IntegrityError(`${dst.uri}${f.path}: md5 ${f.md5} after the copy, expected ${t?.md5 ?? want.md5}; ${versionId} was not recorded`);
      wanted.delete(path);
      pushed.push({ ...f, path, ...(t ? { transforms: t.transforms, sourceMd5: want.md5 } : {}) });
    }
    if (wanted.size > 0) throw new IntegrityError(`${[...wanted.keys()][0]}: missing at ${dst.uri}${prefix} after the copy; ${versionId} was not recorded`);
    return { summary, files: pushed };
  } catch (err) {
    if (err instanceof PolicyDeniedError || err instanceof IntegrityError) {
      for await (const e of dst.list({ prefix, allowMissingRoot: true })) await dst.remove(e.key);
    }
    throw err;
  }
}

/** Versions of a model at a location, from the names of their manifests. */
async function versionsAt(b: Backend, model: string, signal?: AbortSignal): Promise<number[]> {
  const keys = await listManifestKeys(b, `model-${model}-v`, signal);
  return keys.map((k) => parseModelKey(k.key)).filter((p): p is { model: string; version: number } => p?.model === model).map((p) => p.version);
}

/**
 * Uploads a model version: DIR's files to `<location>/<model>/v<n>/` through the governed,
 * verified copy, then a signed manifest naming the snapshot, run and commit. A version is
 * immutable: pushing it again with other files is refused (nothing is sent); with the same
 * files it is a no-op.
 */
export function pushModel(dir: string, location: string, o: PushModelOptions): Promise<PushResult> {
  if (!o.run.trim()) throw new UsageError('--run: the training run id is empty', { hint: 'give the id of the run that produced the model' });
  if (o.version !== undefined && (!Number.isInteger(o.version) || o.version < 1)) throw new UsageError(`model version ${o.version}: not a positive integer`);
  return withSession(o, async (s) => {
    const src = s.open(dir);
    const model = o.model ?? src.location.path.split('/').filter(Boolean).pop() ?? '';
    assertName('model name', model);
    const { info: snap } = await trustedSnapshot(s, o.dataset, o.datasetLocation);
    const files = await describeFiles(src, s.store);
    if (files.length === 0) throw new UsageError(`${src.uri} has no files to push`, { hint: 'give the directory the model was written to' });

    const dst = s.open(location);
    const versions = await versionsAt(dst, model, o.signal);
    const version = o.version ?? Math.max(0, ...versions) + 1;
    const versionId = modelVersionId(model, version);
    const key = modelKey(model, version);
    if (versions.includes(version)) {
      const existing = await readTrusted(s, dst, key);
      const body = existing.body as ModelManifest;
      const info = modelInfo(body, existing.digest, key);
      const same = sameFiles(body.files, files);
      if (same && body.dataset.id === snap.id && body.run === o.run) {
        s.index.putModel(modelRow(info));
        return { ...info, alreadyPushed: true };
      }
      throw new UsageError(`${versionId} already exists at ${dst.uri} with other ${same ? 'lineage (dataset or run)' : 'files'}: model versions are immutable; nothing was sent`, {
        hint: `push it as a new version (the next is ${modelVersionId(model, Math.max(...versions) + 1)}; without @N the next is taken)`,
      });
    }

    const git = commitFor(src.location, o);

    const prefix = `${model}/v${version}/`;
    const pushed = await pushFiles(s, { dir, location, dst, prefix, versionId, files, srcUri: src.uri });
    const who = actor();
    const body: ModelManifest = {
      format: 'hybridsync-manifest/v1',
      kind: 'model',
      model,
      version,
      created: new Date().toISOString(),
      createdBy: { user: who.user, host: who.host },
      run: o.run,
      commit: git.commit,
      ...(git.dirty !== undefined ? { commitDirty: git.dirty } : {}),
      dataset: { id: snap.id, name: snap.name, sha256: snap.sha256, location: { spec: snap.location, id: snap.locationId } },
      location: locationOf(dst.location),
      prefix,
      totals: totalsOf(pushed.files),
      files: pushed.files,
    };
    const signer = s.signer();
    const { text, digest } = signManifest(body, signer);
    if ((await dst.stat(key, o.signal ? { signal: o.signal } : {})) !== undefined) {
      throw new UsageError(`${versionId} was pushed to ${dst.uri} by someone else meanwhile; this push was not recorded`, { hint: 'push again as a new version' });
    }
    await writeManifest(dst, key, text, o.signal);
    const info = modelInfo(body, digest, key);
    s.index.putModel(modelRow(info));
    await s.audit({
      type: 'model-push',
      version: versionId,
      sha256: digest,
      location: redactUri(dst.location.id),
      prefix,
      dataset: snap.id,
      datasetSha256: snap.sha256,
      runId: o.run,
      commit: git.commit,
      files: info.files,
      bytes: info.bytes,
      keyId: signer.keyId,
    });
    const t = pushed.summary;
    return { ...info, alreadyPushed: false, transfer: { transferred: t.transferred, bytes: t.bytes, skipped: t.skipped } };
  });
}

/** Model versions: read from a location's manifests (and indexed again), or from the index when no location is given. */
export function listModels(location?: string, o: LineageContext = {}): Promise<Array<Listed<ModelInfo>>> {
  return withSession(o, async (s) => {
    if (location === undefined) {
      return s.index.models().map((r) => ({ key: modelKey(r.model, r.version), valid: true, problems: [], info: rowInfo(r, s.index.snapshot(r.datasetId)) }));
    }
    const out = await listedAt(s, s.open(location), 'model');
    return out.sort((x, y) => (x.info?.model ?? '').localeCompare(y.info?.model ?? '') || (x.info?.version ?? 0) - (y.info?.version ?? 0));
  });
}

function rowInfo(r: ModelRow, dataset: SnapshotRow | undefined): ModelInfo {
  return {
    versionId: r.versionId,
    model: r.model,
    version: r.version,
    sha256: r.sha256,
    location: r.location,
    locationId: r.locationId,
    prefix: `${r.model}/v${r.version}/`,
    key: modelKey(r.model, r.version),
    created: r.created,
    run: r.runId,
    commit: r.commit,
    dataset: { id: r.datasetId, name: parseDatasetId(r.datasetId)?.name ?? '', sha256: r.datasetSha256, location: dataset?.location ?? '' },
    files: r.files,
    bytes: r.bytes,
  };
}

/** Where a model version's manifest is: at `location` when given, else where the index says. */
function modelAt(s: Session, ref: string, location?: string): { b: Backend; key: string; expected?: string } {
  const { model, version } = parseModelVersion(ref);
  if (location !== undefined) return { b: s.open(location), key: modelKey(model, version) };
  const rows = s.index.modelVersions(modelVersionId(model, version));
  if (rows.length === 0) {
    throw new UsageError(`unknown model version ${ref}`, { hint: 'push it with hybridsync model push, index a location with hybridsync model list LOCATION, or give --location' });
  }
  if (rows.length > 1) throw new UsageError(`${ref} exists at ${rows.length} locations: ${rows.map((r) => r.location).join(', ')}`, { hint: 'give --location' });
  return { b: s.open(rows[0]!.location), key: modelKey(model, version), expected: rows[0]!.sha256 };
}

async function trustedModel(s: Session, ref: string, location?: string): Promise<{ b: Backend; manifest: ParsedManifest<ModelManifest>; info: ModelInfo }> {
  const { b, key, expected } = modelAt(s, ref, location);
  if ((await b.stat(key, s.o.signal ? { signal: s.o.signal } : {})) === undefined) {
    throw new UsageError(`no model version ${ref} at ${b.uri}`, { hint: 'hybridsync model list LOCATION shows the versions there' });
  }
  const m = await readTrusted(s, b, key, expected);
  if (m.body.kind !== 'model') throw new UsageError(`${key} at ${b.uri} is not a model manifest`);
  const manifest = m as ParsedManifest<ModelManifest>;
  const info = modelInfo(manifest.body, manifest.digest, key);
  s.index.putModel(modelRow(info));
  return { b, manifest, info };
}

export interface ModelRefOptions extends LineageContext {
  /** The model location, when the index does not know the version (or knows several). */
  readonly location?: string;
}

/** Checks a model version's manifest and recomputes the hashes of its files. */
export function verifyModel(ref: string, o: ModelRefOptions & VerifyOptions = {}): Promise<VerifyReport> {
  return withSession(o, async (s) => {
    const { b, key, expected } = modelAt(s, ref, o.location);
    return verifyAt(s, b, key, 'model', ref, o, expected);
  });
}

/**
 * Copies a model version's files to `target` (e.g. a production prefix) through the
 * governed copy, checks every file's MD5 there against the signed manifest, and audits a
 * `promote` record. The version is checked at its location first: a file added, removed or
 * resized since the push stops the promotion.
 */
export function promoteModel(ref: string, target: string, o: ModelRefOptions = {}): Promise<PromoteResult> {
  return withSession(o, async (s) => {
    const { b, manifest, info } = await trustedModel(s, ref, o.location);
    const before = await checkFiles(b, manifest.body.prefix, manifest.body.files, { ...s.store, quick: true });
    if (before.problems.length > 0 || before.extra.length > 0) {
      const what = before.problems[0]?.message ?? `${before.extra[0]}: not in the manifest`;
      throw new IntegrityError(`${info.versionId} at ${b.uri} no longer matches its manifest (${what}); nothing was promoted`, { hint: `hybridsync model verify ${info.versionId} lists every difference` });
    }
    const { summary, transformed } = await s.copy(childSpec(info.location, manifest.body.prefix), target, `model promote ${info.versionId}`, { preflight: true });
    const t = s.open(target);
    for (const f of manifest.body.files) {
      const e = await t.stat(f.path, o.signal ? { signal: o.signal } : {});
      if (!e) throw new IntegrityError(`${t.uri}${f.path}: missing after promoting ${info.versionId}`);
      const md5 = await md5Of(t, e, o.signal);
      const want = transformed.get(f.path)?.md5 ?? f.md5;
      if (md5 !== want) throw new IntegrityError(`${t.uri}${f.path}: md5 ${md5} after promoting ${info.versionId}, the manifest lists ${want}`);
    }
    const promoted = new Date().toISOString();
    s.index.addPromotion({ versionId: info.versionId, sha256: info.sha256, targetId: t.location.id, target: specOf(t.location), promoted });
    await s.audit({
      type: 'promote',
      version: info.versionId,
      sha256: info.sha256,
      from: redactUri(b.location.id) + manifest.body.prefix,
      to: redactUri(t.location.id),
      files: info.files,
      bytes: info.bytes,
      dataset: info.dataset.id,
      runId: info.run,
      commit: info.commit,
      transformed: [...transformed.keys()],
    });
    return {
      versionId: info.versionId,
      sha256: info.sha256,
      target: specOf(t.location),
      targetId: t.location.id,
      files: info.files,
      bytes: info.bytes,
      transfer: { transferred: summary.transferred, bytes: summary.bytes, skipped: summary.skipped },
      transformed: [...transformed.keys()],
    };
  });
}

// ---------------------------------------------------------------------------- lineage

export interface LineageOptions extends ModelRefOptions {
  /** Include the snapshot's and the model's file lists. */
  readonly files?: boolean;
}

/** Which dataset snapshot (and its files), which run and which commit a model version came from; both manifests checked. */
export function lineageOf(ref: string, o: LineageOptions = {}): Promise<Lineage> {
  return withSession(o, async (s) => {
    const { manifest, info } = await trustedModel(s, ref, o.location);
    const d = manifest.body.dataset;
    const ds = s.open(d.location.spec);
    const snap = await readTrusted(s, ds, datasetKey(d.id), d.sha256);
    const dataset = snapshotOf(snap as ParsedManifest<DatasetManifest>, datasetKey(d.id));
    s.index.putSnapshot(snapshotRow(dataset));
    return {
      model: info,
      dataset,
      run: info.run,
      commit: info.commit,
      promotions: s.index.promotions(info.versionId),
      ...(o.files ? { datasetFiles: (snap.body as DatasetManifest).files, modelFiles: manifest.body.files } : {}),
    };
  });
}

export interface TrainedOnOptions extends LineageContext {
  /** Read the models at this location (and index them) instead of asking the index. */
  readonly location?: string;
  /** Read the snapshot from this location instead of looking it up in the index. */
  readonly datasetLocation?: string;
}

/** The reverse: every model version trained on a snapshot. */
export function modelsTrainedOn(snapshot: string, o: TrainedOnOptions = {}): Promise<{ dataset: SnapshotInfo; models: ModelInfo[] }> {
  return withSession(o, async (s) => {
    const { info: dataset } = await trustedSnapshot(s, snapshot, o.datasetLocation);
    if (o.location !== undefined) await listedAt(s, s.open(o.location), 'model');
    const row = s.index.snapshot(dataset.id);
    return { dataset, models: s.index.modelsTrainedOn(dataset.id).map((r) => rowInfo(r, row)) };
  });
}
