/**
 * Lineage manifests: what a dataset snapshot or a model version holds, stored beside the
 * data under `<location>/.hybridsync/manifests/` and signed with the audit key.
 *
 * A manifest is canonical JSON (lib/canonical-json.ts). Its digest is the SHA-256 of the
 * canonical bytes of the document without its `signature` member, and the signature is
 * Ed25519 over those same bytes. A dataset snapshot is content-addressed: its id is
 * `ds-<name>-<first 16 hex digits of the digest>` and its file `<id>.json`, so the name of
 * the file vouches for its content. A model version is `<model>@<n>`, stored as
 * `model-<model>-v<n>.json`, and immutable once written.
 *
 * This module is pure (no I/O): building, signing, parsing and checking documents.
 */
import { createHash, type KeyObject } from 'node:crypto';
import * as z from 'zod';
import { UsageError } from '../core/errors.js';
import { canonicalJson, type JsonValue } from '../lib/canonical-json.js';
import { keyIdOf, verifySignature, type Signer } from '../governance/audit/signing.js';

export const MANIFEST_FORMAT = 'hybridsync-manifest/v1';
/** Where manifests live, relative to a location's root. */
export const MANIFEST_DIR = '.hybridsync/manifests/';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SHORT_HASH = 16;

/** One file of a snapshot or model version. `path` is relative to the manifest's base. */
const fileSchema = z
  .object({
    path: z.string().min(1),
    size: z.number().int().nonnegative(),
    /** Hex MD5 of the stored bytes: the store's own when trustworthy, else computed by reading. */
    md5: z.string().regex(/^[0-9a-f]{32}$/),
    etag: z.string().optional(),
    /** Version id, where the store keeps versions. */
    version: z.string().optional(),
    /** ISO time of the content (local files, hybridsync uploads) or of the upload. */
    mtime: z.string().optional(),
    /** Transforms the governance policy applied on the way (e.g. pii-scrub): md5 is of the result. */
    transforms: z.array(z.string()).optional(),
    /** With transforms: the MD5 of the bytes before them (the pushed file's). */
    sourceMd5: z
      .string()
      .regex(/^[0-9a-f]{32}$/)
      .optional(),
  })
  .strict();

const locationSchema = z
  .object({
    /** The location as it was written (`onprem:bucket/prefix`): how hybridsync opens it again. */
    spec: z.string(),
    /** Canonical id (`https://host/bucket/prefix/`): what it is, whatever the remote is called. */
    id: z.string(),
  })
  .strict();

const actorSchema = z.object({ user: z.string(), host: z.string() }).strict();
const totalsSchema = z.object({ files: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() }).strict();

const datasetSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    kind: z.literal('dataset'),
    name: z.string().regex(NAME),
    created: z.string(),
    createdBy: actorSchema,
    location: locationSchema,
    totals: totalsSchema,
    files: z.array(fileSchema),
  })
  .strict();

const modelSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    kind: z.literal('model'),
    model: z.string().regex(NAME),
    version: z.number().int().positive(),
    created: z.string(),
    createdBy: actorSchema,
    run: z.string().min(1),
    commit: z.string().min(1),
    /** The working tree had uncommitted changes when the model was pushed. */
    commitDirty: z.boolean().optional(),
    dataset: z.object({ id: z.string(), name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), location: locationSchema }).strict(),
    location: locationSchema,
    /** Where the version's files are, relative to the location: `<model>/v<n>/`. */
    prefix: z.string(),
    totals: totalsSchema,
    files: z.array(fileSchema),
  })
  .strict();

const signatureSchema = z.object({ alg: z.literal('ed25519'), keyId: z.string(), sig: z.string() }).strict();

export type ManifestFile = z.infer<typeof fileSchema>;
export type ManifestLocation = z.infer<typeof locationSchema>;
export type DatasetManifest = z.infer<typeof datasetSchema>;
export type ModelManifest = z.infer<typeof modelSchema>;
export type ManifestBody = DatasetManifest | ModelManifest;
export type ManifestSignature = z.infer<typeof signatureSchema>;

/** A manifest as read back: the body, its digest, and the signature block as stored. */
export interface ParsedManifest<B extends ManifestBody = ManifestBody> {
  readonly body: B;
  readonly digest: string;
  readonly signature: ManifestSignature | undefined;
}

/** Throws UsageError unless `name` can name a dataset or a model (it becomes part of keys). */
export function assertName(what: string, name: string): void {
  if (!NAME.test(name)) {
    throw new UsageError(`${what} "${name}" is not a valid name`, { hint: 'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit' });
  }
}

export function manifestBytes(body: ManifestBody): Buffer {
  return Buffer.from(canonicalJson(body as unknown as JsonValue), 'utf8');
}

export function digestOf(body: ManifestBody): string {
  return createHash('sha256').update(manifestBytes(body)).digest('hex');
}

export function datasetId(name: string, digest: string): string {
  return `ds-${name}-${digest.slice(0, SHORT_HASH)}`;
}

export function datasetKey(id: string): string {
  return `${MANIFEST_DIR}${id}.json`;
}

/** `ds-<name>-<hash>` → its parts, or undefined for another name. */
export function parseDatasetId(id: string): { name: string; hash: string } | undefined {
  const m = /^ds-(.+)-([0-9a-f]{16})$/.exec(id);
  return m && NAME.test(m[1]!) ? { name: m[1]!, hash: m[2]! } : undefined;
}

export function modelVersionId(model: string, version: number): string {
  return `${model}@${version}`;
}

export function modelKey(model: string, version: number): string {
  return `${MANIFEST_DIR}model-${model}-v${version}.json`;
}

/** `model-<model>-v<n>.json` → its parts, or undefined for another file. */
export function parseModelKey(key: string): { model: string; version: number } | undefined {
  const m = /^model-(.+)-v([1-9][0-9]*)\.json$/.exec(key.startsWith(MANIFEST_DIR) ? key.slice(MANIFEST_DIR.length) : key);
  return m && NAME.test(m[1]!) ? { model: m[1]!, version: Number(m[2]) } : undefined;
}

/** `<model>@<n>` → its parts; throws UsageError naming the form otherwise. */
export function parseModelVersion(ref: string): { model: string; version: number } {
  const m = /^(.+)@([1-9][0-9]*)$/.exec(ref);
  if (!m || !NAME.test(m[1]!)) throw new UsageError(`"${ref}" is not a model version`, { hint: 'write MODEL@N, e.g. resnet@3 (hybridsync model list shows them)' });
  return { model: m[1]!, version: Number(m[2]) };
}

/** The stored document: the canonical body plus its signature block, one line. */
export function signManifest(body: ManifestBody, signer: Signer): { text: string; digest: string } {
  const bytes = manifestBytes(body);
  const signature: ManifestSignature = { alg: 'ed25519', keyId: signer.keyId, sig: signer.sign(bytes) };
  const text = `${canonicalJson({ ...(body as unknown as Record<string, JsonValue>), signature } as JsonValue)}\n`;
  return { text, digest: createHash('sha256').update(bytes).digest('hex') };
}

/** Why a stored document is not a manifest; thrown by parseManifest. */
export class ManifestFormatError extends Error {}

/** Parses a stored manifest; throws ManifestFormatError saying what is wrong with it. */
export function parseManifest(text: string): ParsedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ManifestFormatError('not valid JSON (the manifest was edited or cut short)');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ManifestFormatError('not a JSON object');
  const { signature: sigRaw, ...rest } = raw as Record<string, unknown>;
  const schema = rest.kind === 'model' ? modelSchema : datasetSchema;
  const r = schema.safeParse(rest);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ManifestFormatError(`not a hybridsync manifest: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const sig = sigRaw === undefined ? undefined : signatureSchema.safeParse(sigRaw);
  if (sig && !sig.success) throw new ManifestFormatError('the signature block is malformed');
  const body = r.data as ManifestBody;
  return { body, digest: digestOf(body), signature: sig?.data };
}

/** What is wrong with a parsed manifest's signature, or undefined when it verifies with `trusted`. */
export function signatureProblem(m: ParsedManifest, trusted: KeyObject): string | undefined {
  if (!m.signature) return 'the manifest is not signed';
  const trustedId = keyIdOf(trusted);
  if (m.signature.keyId !== trustedId) return `signed with key ${m.signature.keyId}, not with the trusted key ${trustedId}`;
  if (!verifySignature(trusted, manifestBytes(m.body), m.signature.sig)) return 'the signature does not verify: the manifest was modified after it was signed';
  return undefined;
}

/** Totals of a file list. */
export function totalsOf(files: readonly ManifestFile[]): { files: number; bytes: number } {
  return { files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) };
}
