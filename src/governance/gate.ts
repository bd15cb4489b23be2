/**
 * Governance for sync, copy and check: the TransferGate that classifies each file and
 * applies the destination environment's policy, and the setup that puts a run under
 * governance — config, TLS checks of the S3 endpoint, the audit trail subscribed to the
 * run's events. The CLI calls prepareGovernance() before opening backends and attach()
 * after; everything that decides lives in classify/ and policy/, everything that records
 * in audit/.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';
import { ConfigError, describeError } from '../core/errors.js';
import type { EndpointSettings, LocationHandle } from '../backends/registry.js';
import type { Location } from '../core/location.js';
import { TRANSFORM_NAMES, type GovernanceConfig, type TransformName } from '../config/governance.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { SyncEvent } from '../sync/events.js';
import type { ByteTransform, GateContext, GateDecision, TransferGate } from '../sync/gate.js';
import type { StateDb } from '../sync/state.js';
import { AuditRecorder, type DecisionNote } from './audit/recorder.js';
import { createRedactor } from './audit/redact.js';
import type { AuditLog, WrittenBatch } from './audit/log.js';
import { openAuditLog } from './audit/setup.js';
import { Classifier, sourceViewOf, type SourceView } from './classify/classifier.js';
import { loadPiiEngine, type PiiEngine } from './classify/detectors.js';
import type { LevelScale } from './classify/levels.js';
import { compileClassification, type Classification, type ClassificationSettings } from './classify/rules.js';
import { LabelStore, type LabelLookup } from './labels.js';
import { compileEnvironments, decideTransfer, environmentOf, type CompiledEnvironment, type PolicyDecision, type RemoteEndpoint } from './policy/policy.js';
import { probeTls, tlsForEndpoint, tlsRefusal } from './tls/index.js';

// ---------------------------------------------------------------------------- config

export type { LoadedConfig };

/** `--config`, else HYBRIDSYNC_CONFIG, else ./hybridsync.yaml when present, else none; environments checked. */
export function loadGovernanceConfig(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  const loaded = loadConfig(flag, env, cwd);
  compileEnvironments(loaded.config?.environments); // rejects relative locations with a ConfigError
  return loaded;
}

/** A config compiled for deciding: levels, rules, environments, policy, transforms. */
export class Governance {
  readonly settings: ClassificationSettings;
  readonly environments: readonly CompiledEnvironment[];

  constructor(
    readonly config: GovernanceConfig,
    /** Detector and scrubber; absent only where a test leaves it out. */
    readonly pii: PiiEngine | undefined,
    /** Where a remote named by an environment is (its endpoint), for matching by endpoint. */
    remoteEndpoint?: (name: string) => RemoteEndpoint | undefined,
  ) {
    this.settings = compileClassification(config.classification);
    this.environments = compileEnvironments(config.environments, remoteEndpoint);
  }

  static async create(
    config: GovernanceConfig = {},
    env: NodeJS.ProcessEnv = process.env,
    remoteEndpoint?: (name: string) => RemoteEndpoint | undefined,
  ): Promise<Governance> {
    return new Governance(config, await loadPiiEngine(config.pii ?? {}, env), remoteEndpoint);
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
    const transforms = d.transforms.map((name) => this.transform(name, entry));
    return {
      allow: true,
      classification: c.level,
      rule: c.rule,
      tags: { classification: c.level },
      // a transformed file's metadata also records its source version (sync/derived.ts)
      metadata: { classification: c.level, 'classification-source': c.source },
      ...(transforms.length ? { transforms } : {}),
    };
  }

  private transform(name: TransformName, entry: Entry): ByteTransform {
    const pii = this.o.governance?.pii;
    if (name !== 'pii-scrub' || !pii) throw new ConfigError(`transform ${name} is not available`);
    return {
      name,
      create: (o) => {
        const s = pii.createScrubber({ fileName: basename(entry.key), key: entry.key, size: o?.size ?? entry.size });
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

/** Opens the top directory or bucket root for reading sidecar files above a sync root; closed with close(). */
export class TopBackends {
  private readonly opened = new Map<string, Backend>();

  /** `openSpec` opens a location spec on the run's remotes with the run's endpoint settings. */
  constructor(private readonly openSpec: (spec: string) => Backend) {}

  readonly open = (spec: string): Backend | undefined => {
    let b = this.opened.get(spec);
    if (!b) {
      try {
        b = this.openSpec(spec);
      } catch {
        return undefined;
      }
      this.opened.set(spec, b);
    }
    return b;
  };

  async close(): Promise<void> {
    await Promise.allSettled([...this.opened.values()].map((b) => b.close?.()));
  }
}

// ------------------------------------------------------------------------------- run

export interface GovernanceSetupOptions {
  /** The config as loaded by the run's setup (loadGovernanceConfig). */
  readonly loaded: LoadedConfig;
  readonly statePath: string;
  readonly src: LocationHandle;
  readonly dst: LocationHandle;
  /** Settings every endpoint gets from the command line (--ca-bundle, --s3-allow-http). */
  readonly flags?: EndpointSettings;
  /** Opens a location spec with the run's remotes: audit mirrors, sidecar roots. */
  readonly openSpec: (spec: string, endpoint?: EndpointSettings) => Backend;
  /** Where a remote an environment names is. */
  readonly remoteEndpoint?: (name: string) => RemoteEndpoint | undefined;
  /** --json: denied files are listed in the events only. */
  readonly json: boolean;
  readonly signal?: AbortSignal;
  readonly err?: NodeJS.WritableStream;
  readonly env?: NodeJS.ProcessEnv;
  /** Each batch of the audit trail as written, every one signed (see AuditLogOptions.onBatch). */
  readonly onAuditBatch?: (batch: WrittenBatch) => void;
}

export interface RunGovernance {
  /** The environment of each side, when the config declares one. */
  readonly srcEnv: string | undefined;
  readonly dstEnv: string | undefined;
  /** TLS and transport settings for a location's endpoint, as the TLS policy decided them. */
  endpointSettings(loc: Location): EndpointSettings;
  /**
   * The run's signal: the caller's, also aborted when the audit trail cannot be written
   * (so nothing more moves unaudited).
   */
  readonly signal: AbortSignal;
  /** Feeds one run event to the audit trail (and lists denials after the summary). */
  record(e: SyncEvent): void;
  /** The run's audit trail writer (undefined when the config disables auditing). */
  readonly audit: AuditLog | undefined;
  /** The gate for the opened backends, if any; TLS notices go out through `emit`. */
  attach(o: { src: Backend; dst: Backend; state: StateDb; emit: (e: SyncEvent) => void }): TransferGate | undefined;
  close(): Promise<void>;
}

const DENIED_LISTED = 50;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

interface TlsOutcome {
  readonly settings: EndpointSettings;
  readonly note?: Record<string, unknown> & { type: string };
  readonly notice?: string;
  readonly refusal?: ConfigError;
}

/** The TLS decision for one object-store endpoint, and one handshake to check it. */
async function decideEndpointTls(
  h: LocationHandle,
  cfg: LoadedConfig['config'],
  flags: EndpointSettings,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal | undefined,
): Promise<TlsOutcome> {
  const endpoint = h.location.endpoint;
  const origin = new URL(endpoint).origin;
  const t = tlsForEndpoint(cfg?.tls, origin);
  const own = h.endpointSettings;
  const remoteEntry = h.location.remote && own.tlsMinVersion ? `remotes.${h.location.remote}.tls` : undefined;
  const minVersion = own.tlsMinVersion ?? t.minVersion;
  const allowedBy = remoteEntry ?? t.configEntry;
  const caBundle = own.caBundle ?? flags.caBundle ?? t.caBundle ?? env.AWS_CA_BUNDLE ?? cfg?.tls?.caBundle;
  const allowInsecureHttp = !!(own.allowInsecureHttp || t.allowInsecureHttp || flags.allowInsecureHttp);
  const settings: EndpointSettings = { tlsMinVersion: minVersion, ...(caBundle ? { caBundle } : {}), ...(allowInsecureHttp ? { allowInsecureHttp } : {}) };
  if (endpoint.startsWith('https:')) {
    let ca: string | undefined;
    try {
      ca = caBundle ? readFileSync(caBundle, 'utf8') : undefined;
    } catch {
      ca = undefined; // the client reports an unreadable bundle
    }
    const probe = await probeTls(origin, { minVersion, ...(ca ? { ca } : {}), ...(signal ? { signal } : {}) });
    const refusal = tlsRefusal(origin, probe, minVersion);
    if (refusal) return { settings, refusal, note: { type: 'tls-refused', endpoint: origin, minVersion, problem: refusal.message } };
    if (!probe.ok) return { settings };
    const downgraded = probe.protocol !== 'TLSv1.3';
    return {
      settings,
      note: {
        type: 'tls',
        endpoint: origin,
        protocol: probe.protocol,
        cipher: probe.cipher,
        minVersion,
        ...(allowedBy ? { allowedBy } : {}),
        ...(t.reason ? { exceptionReason: t.reason } : {}),
      },
      ...(downgraded
        ? { notice: `${origin} negotiated ${probe.protocol}, below TLS 1.3: allowed by ${allowedBy ?? 'config'}${t.reason ? ` (${t.reason})` : ''}; recorded in the audit trail` }
        : {}),
    };
  }
  const loopback = LOOPBACK.test(new URL(endpoint).hostname);
  const insecure = !loopback && allowInsecureHttp;
  const by = own.allowInsecureHttp && h.location.remote ? `remotes.${h.location.remote}.allowHttp` : (t.configEntry ?? '--s3-allow-http');
  return {
    settings,
    note: { type: 'tls', endpoint: origin, protocol: 'none', ...(insecure ? { allowedBy: by } : { loopback }) },
    ...(insecure ? { notice: `${origin} is plain http, allowed by ${by}: data travels unencrypted` } : {}),
  };
}

/**
 * Everything governance does before a run: decide and probe TLS for each object-store
 * endpoint of the run (refusing one, audited, when it cannot do the minimum), place both
 * sides in their environments, open the audit trail. Throws ConfigError for a refused
 * endpoint.
 */
export async function prepareGovernance(o: GovernanceSetupOptions): Promise<RunGovernance> {
  const env = o.env ?? process.env;
  const err = o.err ?? process.stderr;
  const loaded = o.loaded;
  const cfg = loaded.config;
  // environments name where data is (for the audit trail); files are classified, and
  // policy enforced, only when the config has a classification or policy section
  const governance = cfg && (cfg.environments || cfg.classification || cfg.policy) ? await Governance.create(cfg, env, o.remoteEndpoint) : undefined;
  const classifying = !!(cfg?.classification || cfg?.policy);

  // TLS: per endpoint, what the remote and the config say, and one handshake to check it
  const notes: Array<Record<string, unknown> & { type: string }> = [];
  const notices: string[] = [];
  const decided = new Map<string, EndpointSettings>();
  let refusal: ConfigError | undefined;
  for (const h of [o.src, o.dst]) {
    const loc = h.location;
    if (loc.endpoint === '' || decided.has(`${loc.endpoint}|${loc.remote}`)) continue;
    const out = await decideEndpointTls(h, cfg, o.flags ?? {}, env, o.signal);
    decided.set(`${loc.endpoint}|${loc.remote}`, out.settings);
    if (out.note && !notes.some((n) => n.endpoint === out.note!.endpoint && n.type === out.note!.type)) notes.push(out.note);
    if (out.notice) notices.push(out.notice);
    refusal ??= out.refusal;
  }
  const endpointSettings = (loc: Location): EndpointSettings => decided.get(`${loc.endpoint}|${loc.remote}`) ?? { ...(o.flags ?? {}) };

  // audit trail
  const srcEnv = governance?.environmentOf(o.src.location);
  const dstEnv = governance?.environmentOf(o.dst.location);
  let gate: GovernanceGate | undefined;
  const opened = openAuditLog({
    cfg: cfg?.audit,
    statePath: o.statePath,
    openMirror: (spec) => o.openSpec(spec),
    onMirrorError: (uri, e) => err.write(`hybridsync: WARNING: could not copy an audit checkpoint to ${uri}: ${describeError(e)}\n`),
    onWarning: (message) => notices.push(message),
    ...(o.onAuditBatch ? { onBatch: o.onAuditBatch } : {}),
  });
  const log: AuditLog | undefined = opened?.log;
  const recorder = log
    ? new AuditRecorder(
        log,
        {
          srcUri: o.src.location.id,
          dstUri: o.dst.location.id,
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

  const tops = new TopBackends((spec) => o.openSpec(spec, endpointSettings(o.src.location)));
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  let labels: LabelStore | undefined;
  const denied: Array<{ key: string; classification: string; reason: string; knownSince?: string }> = [];
  let deniedCount = 0;
  return {
    srcEnv,
    dstEnv,
    endpointSettings,
    signal,
    audit: log,
    record(e) {
      recorder?.record(e);
      if (log?.failure && !stop.signal.aborted) stop.abort(log.failure);
      if (e.type === 'denied') {
        if (++deniedCount <= DENIED_LISTED) denied.push({ key: e.key, classification: e.classification, reason: e.reason, ...(e.knownSince ? { knownSince: e.knownSince } : {}) });
      } else if (e.type === 'summary' && !o.json && deniedCount > 0) {
        const s = e.summary;
        const lines = denied.map((d) => `  ${d.classification.padEnd(14)} ${d.key}  (${d.reason}${d.knownSince ? `; denied since ${d.knownSince.slice(0, 10)}` : ''})`);
        if (deniedCount > denied.length) lines.push(`  … and ${deniedCount - denied.length} more (see --json or hybridsync audit export)`);
        const head =
          s.mode === 'check'
            ? `kept from this destination by policy: ${deniedCount} file(s), absent as they should be (not differences)`
            : s.status === 'known-denials'
              ? `held back by policy: ${deniedCount} file(s), denied in earlier runs and unchanged since (status known-denials, exit code 0)`
              : `denied by policy: ${deniedCount} file(s), not transferred (exit code 3)${s.deniedKnown ? `; ${s.deniedKnown} of them known from earlier runs` : ''}`;
        err.write(`${head}:\n${lines.join('\n')}\n`);
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
