/**
 * Governance for sync, copy and check: the TransferGate that classifies each file and
 * applies the destination environment's policy, and the setup that puts a run under
 * governance — config, TLS checks of the S3 endpoint, the audit trail subscribed to the
 * run's events. The CLI calls prepareGovernance() before opening backends and attach()
 * after; everything that decides lives in classify/ and policy/, everything that records
 * in audit/.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';
import { ConfigError, describeError } from '../core/errors.js';
import { openBackend } from '../backends/registry.js';
import { resolveConnection, type S3ConnectionOptions } from '../backends/s3/client.js';
import { parseS3Url } from '../backends/s3/index.js';
import { assertGovernanceReferences, TRANSFORM_NAMES, type GovernanceConfig, type TransformName } from '../config/governance.js';
import { DEFAULT_CONFIG_FILE, loadConfigFile } from '../config/load.js';
import type { HybridsyncConfig } from '../config/schema.js';
import type { SyncEvent } from '../sync/events.js';
import type { ByteTransform, GateContext, GateDecision, TransferGate } from '../sync/gate.js';
import type { StateDb } from '../sync/state.js';
import { AuditRecorder, type DecisionNote } from './audit/recorder.js';
import { createRedactor } from './audit/redact.js';
import type { AuditLog } from './audit/log.js';
import { openAuditLog } from './audit/setup.js';
import { Classifier, sourceViewOf, type SourceView } from './classify/classifier.js';
import { loadPiiEngine, type PiiEngine } from './classify/detectors.js';
import type { LevelScale } from './classify/levels.js';
import { compileClassification, type Classification, type ClassificationSettings } from './classify/rules.js';
import { LabelStore, type LabelLookup } from './labels.js';
import { compileEnvironments, decideTransfer, environmentOf, type CompiledEnvironment, type Location, type PolicyDecision } from './policy/policy.js';
import { probeTls, tlsForEndpoint, tlsRefusal } from './tls/index.js';

// ---------------------------------------------------------------------------- config

export interface LoadedConfig {
  readonly config: HybridsyncConfig | undefined;
  readonly file?: string;
  readonly sha256?: string;
}

/** `--config`, else HYBRIDSYNC_CONFIG, else ./hybridsync.yaml when present, else none. */
export function loadGovernanceConfig(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  const explicit = flag ?? env.HYBRIDSYNC_CONFIG;
  const file = explicit ?? (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined);
  if (file === undefined) return { config: undefined };
  const path = resolve(cwd, file);
  const config = loadConfigFile(path);
  const text = readFileSync(path, 'utf8');
  assertGovernanceReferences(config, text, path);
  compileEnvironments(config.environments); // rejects relative locations with a ConfigError
  return { config, file: path, sha256: createHash('sha256').update(text).digest('hex') };
}

/** Where a location URI (as given on the command line) is, for environment matching. */
export function locationOfUri(uri: string, s3?: S3ConnectionOptions): Location {
  if (uri.startsWith('s3://')) {
    const { bucket, prefix } = parseS3Url(uri);
    let endpointHost: string;
    try {
      const conn = resolveConnection({ ...s3, allowInsecureHttp: true });
      endpointHost = conn.endpoint ? new URL(conn.endpoint).host : `s3.${conn.region}.amazonaws.com`;
    } catch {
      endpointHost = 'invalid-endpoint';
    }
    return { uri: `s3://${bucket}/${prefix}`, endpointHost };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) return { uri: uri.endsWith('/') ? uri : `${uri}/` };
  const path = uri.startsWith('file://') ? fileURLToPath(uri) : resolve(uri);
  return { uri: `file://${path.replace(/\/+$/, '')}/` };
}

/** A config compiled for deciding: levels, rules, environments, policy, transforms. */
export class Governance {
  readonly settings: ClassificationSettings;
  readonly environments: readonly CompiledEnvironment[];

  constructor(
    readonly config: GovernanceConfig,
    /** Detector and scrubber; absent only where a test leaves it out. */
    readonly pii: PiiEngine | undefined,
  ) {
    this.settings = compileClassification(config.classification);
    this.environments = compileEnvironments(config.environments);
  }

  static async create(config: GovernanceConfig = {}, env: NodeJS.ProcessEnv = process.env): Promise<Governance> {
    return new Governance(config, await loadPiiEngine(config.pii ?? {}, env));
  }

  get scale(): LevelScale {
    return this.settings.scale;
  }

  environmentOf(loc: Location): string | undefined {
    return environmentOf(this.environments, loc)?.id;
  }

  get available(): ReadonlySet<TransformName> {
    return new Set(TRANSFORM_NAMES.filter((t) => t === 'pii-scrub' && this.pii !== undefined));
  }

  classifier(labels?: LabelLookup): Classifier {
    return new Classifier({ settings: this.settings, ...(labels ? { labels } : {}), ...(this.pii ? { detector: this.pii.detector } : {}) });
  }
}

// ------------------------------------------------------------------------------ gate

export interface Evaluation {
  readonly classification: Classification;
  readonly decision: PolicyDecision;
}

export interface GateOptions {
  /** Absent: no classification or policy (no config file); the gate then only guards the audit trail. */
  readonly governance?: Governance;
  readonly classifier?: Classifier;
  readonly src?: SourceView;
  readonly dstEnv?: string;
  /** A reason to stop the run before anything else is transferred (the audit log failed). */
  readonly health?: () => Error | undefined;
  /** Keep each decision for takeNote() (the audit trail consumes them). */
  readonly keepNotes?: boolean;
}

export class GovernanceGate implements TransferGate {
  private readonly notes = new Map<string, DecisionNote>();

  constructor(private readonly o: GateOptions) {}

  /** Classification and policy decision for one source entry, without side effects. */
  async evaluate(entry: Entry, signal?: AbortSignal): Promise<Evaluation | undefined> {
    const { governance: g, classifier, src } = this.o;
    if (!g || !classifier || !src) return undefined;
    const classification = await classifier.classify(entry, src, signal);
    const decision = decideTransfer({ level: classification.level, scale: g.scale, dstEnv: this.o.dstEnv, policy: g.config.policy, available: g.available });
    return { classification, decision };
  }

  async admit(entry: Entry, ctx: GateContext): Promise<GateDecision> {
    const unhealthy = this.o.health?.();
    if (unhealthy) throw unhealthy;
    const ev = await this.evaluate(entry, ctx.signal);
    if (!ev) return { allow: true };
    const { classification: c, decision: d } = ev;
    if (this.o.keepNotes) this.notes.set(entry.key, { classification: c.level, rule: c.rule, source: c.source, reason: d.reason });
    if (!d.allow) return { allow: false, classification: c.level, reason: d.reason, rule: c.rule };
    const transforms = d.transforms.map((name) => this.transform(name, entry.key));
    return {
      allow: true,
      classification: c.level,
      rule: c.rule,
      tags: { classification: c.level },
      metadata: {
        classification: c.level,
        'classification-source': c.source,
        ...(transforms.length ? { 'hybridsync-transforms': d.transforms.join(',') } : {}),
      },
      ...(transforms.length ? { transforms } : {}),
    };
  }

  private transform(name: TransformName, key: string): ByteTransform {
    const pii = this.o.governance?.pii;
    if (name !== 'pii-scrub' || !pii) throw new ConfigError(`transform ${name} is not available`);
    return {
      name,
      create: () => {
        const s = pii.createScrubber({ fileName: basename(key), key });
        return { stream: s.transform, report: () => s.report() };
      },
    };
  }

  /** The decision made for a key, for the audit trail; consumed once. */
  takeNote(key: string): DecisionNote | undefined {
    const n = this.notes.get(key);
    if (n) this.notes.delete(key);
    return n;
  }
}

/** Opens `/` or a bucket root for reading sidecar files above a sync root; closed with close(). */
export class TopBackends {
  private readonly opened = new Map<string, Backend>();

  constructor(private readonly s3: S3ConnectionOptions | undefined) {}

  readonly open = (uri: string): Backend | undefined => {
    let b = this.opened.get(uri);
    if (!b) {
      try {
        b = openBackend(uri, this.s3 ? { s3: this.s3 } : {});
      } catch {
        return undefined;
      }
      this.opened.set(uri, b);
    }
    return b;
  };

  async close(): Promise<void> {
    await Promise.allSettled([...this.opened.values()].map((b) => b.close?.()));
  }
}

// ------------------------------------------------------------------------------- run

export interface GovernanceSetupOptions {
  /** --config */
  readonly configFile?: string;
  readonly statePath: string;
  readonly srcUri: string;
  readonly dstUri: string;
  /** The S3 connection flags; the config's tls section is merged into them. */
  readonly s3: S3ConnectionOptions;
  /** --json: denied files are listed in the events only. */
  readonly json: boolean;
  readonly signal?: AbortSignal;
  readonly err?: NodeJS.WritableStream;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunGovernance {
  /** S3 connection settings the config adds (TLS minimum, CA bundle, http exception). */
  readonly s3: Partial<S3ConnectionOptions>;
  /**
   * The run's signal: the caller's, also aborted when the audit trail cannot be written
   * (so nothing more moves unaudited).
   */
  readonly signal: AbortSignal;
  /** Feeds one run event to the audit trail (and lists denials after the summary). */
  record(e: SyncEvent): void;
  /** The gate for the opened backends, if any; TLS notices go out through `emit`. */
  attach(o: { src: Backend; dst: Backend; state: StateDb; emit: (e: SyncEvent) => void }): TransferGate | undefined;
  close(): Promise<void>;
}

const DENIED_LISTED = 50;

/**
 * Everything governance does before a run: load the config, decide and probe TLS for
 * the S3 endpoint (refusing it, audited, when it cannot do the minimum), open the audit
 * trail. Throws ConfigError for a bad config or a refused endpoint.
 */
export async function prepareGovernance(o: GovernanceSetupOptions): Promise<RunGovernance> {
  const env = o.env ?? process.env;
  const err = o.err ?? process.stderr;
  const loaded = loadGovernanceConfig(o.configFile, env);
  const cfg = loaded.config;
  // environments name where data is (for the audit trail); files are classified, and
  // policy enforced, only when the config has a classification or policy section
  const governance = cfg && (cfg.environments || cfg.classification || cfg.policy) ? await Governance.create(cfg, env) : undefined;
  const classifying = !!(cfg?.classification || cfg?.policy);

  // TLS: what the config says about the S3 endpoint, and one handshake to check it
  const s3: { -readonly [K in keyof S3ConnectionOptions]?: S3ConnectionOptions[K] } = {};
  const notes: Array<Record<string, unknown> & { type: string }> = [];
  const notices: string[] = [];
  let refusal: ConfigError | undefined;
  if (o.srcUri.startsWith('s3://') || o.dstUri.startsWith('s3://')) {
    const endpoint = resolveConnection({ ...o.s3, allowInsecureHttp: true }, env).endpoint;
    if (endpoint) {
      const t = tlsForEndpoint(cfg?.tls, endpoint);
      s3.tlsMinVersion = t.minVersion;
      const caBundle = o.s3.caBundle ?? t.caBundle ?? env.AWS_CA_BUNDLE ?? cfg?.tls?.caBundle;
      if (caBundle) s3.caBundle = caBundle;
      if (t.allowInsecureHttp || o.s3.allowInsecureHttp) s3.allowInsecureHttp = true;
      if (endpoint.startsWith('https:')) {
        let ca: string | undefined;
        try {
          ca = caBundle ? readFileSync(caBundle, 'utf8') : undefined;
        } catch {
          ca = undefined; // the S3 client reports an unreadable bundle
        }
        const probe = await probeTls(endpoint, { minVersion: t.minVersion, ...(ca ? { ca } : {}), ...(o.signal ? { signal: o.signal } : {}) });
        refusal = tlsRefusal(endpoint, probe, t.minVersion);
        if (refusal) {
          notes.push({ type: 'tls-refused', endpoint: new URL(endpoint).origin, minVersion: t.minVersion, problem: refusal.message });
        } else if (probe.ok) {
          const downgraded = probe.protocol !== 'TLSv1.3';
          notes.push({
            type: 'tls',
            endpoint: new URL(endpoint).origin,
            protocol: probe.protocol,
            cipher: probe.cipher,
            minVersion: t.minVersion,
            ...(t.configEntry ? { allowedBy: t.configEntry } : {}),
            ...(t.reason ? { exceptionReason: t.reason } : {}),
          });
          if (downgraded) {
            notices.push(`${new URL(endpoint).origin} negotiated ${probe.protocol}, below TLS 1.3: allowed by ${t.configEntry ?? 'config'}${t.reason ? ` (${t.reason})` : ''}; recorded in the audit trail`);
          }
        }
      } else {
        const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(new URL(endpoint).hostname);
        const insecure = !loopback && (t.allowInsecureHttp || o.s3.allowInsecureHttp);
        notes.push({ type: 'tls', endpoint: new URL(endpoint).origin, protocol: 'none', ...(insecure ? { allowedBy: t.configEntry ?? '--s3-allow-http' } : { loopback }) });
        if (insecure) notices.push(`${new URL(endpoint).origin} is plain http, allowed by ${t.configEntry ?? '--s3-allow-http'}: data travels unencrypted`);
      }
    }
  }
  const connection: S3ConnectionOptions = { ...o.s3, ...s3 };

  // audit trail
  const srcLoc = locationOfUri(o.srcUri, connection);
  const dstLoc = locationOfUri(o.dstUri, connection);
  const srcEnv = governance?.environmentOf(srcLoc);
  const dstEnv = governance?.environmentOf(dstLoc);
  let gate: GovernanceGate | undefined;
  const opened = openAuditLog({
    cfg: cfg?.audit,
    statePath: o.statePath,
    openMirror: (uri) => openBackend(uri, { s3: connection }),
    onMirrorError: (uri, e) => err.write(`hybridsync: WARNING: could not copy an audit checkpoint to ${uri}: ${describeError(e)}\n`),
    onWarning: (message) => notices.push(message),
  });
  const log: AuditLog | undefined = opened?.log;
  const recorder = log
    ? new AuditRecorder(
        log,
        {
          srcUri: o.srcUri,
          dstUri: o.dstUri,
          ...(srcEnv ? { srcEnv } : {}),
          ...(dstEnv ? { dstEnv } : {}),
          ...(loaded.file ? { configFile: loaded.file, configSha256: loaded.sha256 } : {}),
        },
        {
          skips: cfg?.audit?.skips ?? true,
          redact: createRedactor(governance?.pii?.redact),
          takeNote: (key) => gate?.takeNote(key),
        },
      )
    : undefined;
  for (const n of notes) recorder?.note(n);
  if (refusal) {
    if (recorder && log) {
      recorder.flushNotes();
      await log.close().catch(() => undefined);
    }
    throw refusal;
  }

  const tops = new TopBackends(connection);
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  let labels: LabelStore | undefined;
  const denied: Array<{ key: string; classification: string; reason: string }> = [];
  let deniedCount = 0;
  return {
    s3,
    signal,
    record(e) {
      recorder?.record(e);
      if (log?.failure && !stop.signal.aborted) stop.abort(log.failure);
      if (e.type === 'denied') {
        if (++deniedCount <= DENIED_LISTED) denied.push({ key: e.key, classification: e.classification, reason: e.reason });
      } else if (e.type === 'summary' && !o.json && deniedCount > 0) {
        const lines = denied.map((d) => `  ${d.classification.padEnd(14)} ${d.key}  (${d.reason})`);
        if (deniedCount > denied.length) lines.push(`  … and ${deniedCount - denied.length} more (see --json or hybridsync audit export)`);
        err.write(`denied by policy: ${deniedCount} file(s), not transferred (exit code 3):\n${lines.join('\n')}\n`);
      }
    },
    attach({ src, state, emit }) {
      for (const message of notices) emit({ type: 'notice', message });
      // without classification there is no gate: a plain run keeps the engine's timing
      if (!governance || !classifying) return undefined;
      const health = (): Error | undefined => log?.failure;
      labels = new LabelStore(state.db);
      const srcView = sourceViewOf(src, tops.open, srcEnv);
      gate = new GovernanceGate({ governance, classifier: governance.classifier(labels), src: srcView, ...(dstEnv ? { dstEnv } : {}), health, keepNotes: !!recorder });
      return gate;
    },
    async close() {
      labels?.close();
      await tops.close();
      try {
        await log?.close();
      } catch (e) {
        err.write(`hybridsync: ERROR: the audit trail could not be written${stop.signal.aborted ? ', so the run was stopped' : ''}: ${describeError(e)}\n`);
      }
    },
  };
}
