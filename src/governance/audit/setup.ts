/**
 * Where the audit trail lives and how a writer is opened, shared by runs, `classify set`
 * and the `audit` commands. Default: `<directory of the state database>/audit/`, so
 * `--state` and HYBRIDSYNC_STATE_DIR move the trail with the state.
 */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { AuditConfig } from '../../config/governance.js';
import type { Backend } from '../../core/backend.js';
import { AuditLog, type WrittenBatch } from './log.js';
import { BackendCheckpointMirror, type CheckpointMirror } from './mirror.js';
import { loadOrCreateSigner, publicKeyPath } from './signing.js';

export const AUDIT_LOG_FILE = 'audit.jsonl';
export const SIGNING_KEY_FILE = 'signing-key.pem';

export interface AuditPaths {
  readonly dir: string;
  readonly file: string;
  readonly keyFile: string;
  readonly publicKeyFile: string;
}

export function auditPaths(cfg: AuditConfig | undefined, statePath: string, env: NodeJS.ProcessEnv = process.env): AuditPaths {
  const stateDir = statePath === ':memory:' ? (env.HYBRIDSYNC_STATE_DIR ?? join(homedir(), '.hybridsync')) : dirname(resolve(statePath));
  const dir = resolve(cfg?.dir ?? join(stateDir, 'audit'));
  const keyFile = resolve(cfg?.keyFile ?? join(dir, SIGNING_KEY_FILE));
  return { dir, file: join(dir, AUDIT_LOG_FILE), keyFile, publicKeyFile: publicKeyPath(keyFile) };
}

export interface OpenAuditOptions {
  readonly cfg: AuditConfig | undefined;
  readonly statePath: string;
  /** Opens a mirror location (s3://… or a path) as a backend. */
  readonly openMirror: (uri: string) => Backend;
  readonly onMirrorError?: (uri: string, err: unknown) => void;
  /** Problems worth telling the user about (an exposed signing key). */
  readonly onWarning?: (message: string) => void;
  readonly flushIntervalMs?: number;
  /** Each batch as written, every one ending with a signed checkpoint (a cluster worker forwards them). */
  readonly onBatch?: (batch: WrittenBatch) => void;
}

/** The audit log writer, or undefined when the config disables auditing. */
export function openAuditLog(o: OpenAuditOptions): { log: AuditLog; paths: AuditPaths } | undefined {
  if (o.cfg?.enabled === false) return undefined;
  const paths = auditPaths(o.cfg, o.statePath);
  const signer = loadOrCreateSigner(paths.keyFile, o.onWarning);
  const mirrors: CheckpointMirror[] = (o.cfg?.mirrors ?? []).map((uri) => new BackendCheckpointMirror(o.openMirror(uri)));
  const log = new AuditLog({
    file: paths.file,
    signer,
    checkpointEvery: o.cfg?.checkpointEvery ?? 1000,
    mirrors,
    ...(o.onMirrorError ? { onMirrorError: o.onMirrorError } : {}),
    ...(o.flushIntervalMs !== undefined ? { flushIntervalMs: o.flushIntervalMs } : {}),
    ...(o.onBatch ? { onBatch: o.onBatch, signEveryBatch: true } : {}),
  });
  return { log, paths };
}
