/**
 * The classifier gathers the facts the rules in ./rules.ts decide on — an explicit label,
 * the nearest sidecar file, the path, the source object's tags, the first bytes of the
 * content — in precedence order, stopping as soon as a fact decides, so a file a label or
 * path rule classifies costs no request at all.
 */
import type { Readable } from 'node:stream';
import { hasTags, type Backend } from '../../core/backend.js';
import type { Entry } from '../../core/entry.js';
import { NotFoundError, PermissionError } from '../../core/errors.js';
import type { LabelLookup } from '../labels.js';
import type { ContentDetector } from './detectors.js';
import { describePathRule, levelNamed, matchPathRule, parseSidecar, raiseForFindings, type Classification, type ClassificationSettings } from './rules.js';

/** A source as the classifier sees it. */
export interface SourceView {
  readonly backend: Backend;
  /** Canonical id of the root (Location.id), ending in `/`: labels are stored under it. */
  readonly rootUri: string;
  /** The full path of the root, before the key, as path rules see it: `/data/x/`, `s3://bucket/prefix/`. */
  readonly pathPrefix: string;
  /** Environment the source is in, for environment-scoped rules. */
  readonly environment?: string;
  /**
   * Where sidecar files are read: a backend rooted at the top (the first directory below
   * `/`, the bucket) so that sidecars above the sync root count too, and the root's key in it.
   */
  readonly sidecars: { readonly backend: Backend; readonly base: string; readonly shownAs: string };
}

/**
 * Describes a backend root for the classifier. `openTop` opens the top of the same tree —
 * the first directory below `/`, or the bucket/container root on the same remote — given
 * as a location spec (`/data`, `s3://bucket/`, `onprem:bucket/`).
 */
export function sourceViewOf(b: Backend, openTop: (spec: string) => Backend | undefined, environment?: string): SourceView {
  const env = environment !== undefined ? { environment } : {};
  const loc = b.location;
  if (loc.type === 'local') {
    const root = loc.path === '/' ? '' : loc.path;
    // sidecars above the root are read from its top directory (/data for /data/x/y)
    const first = /^\/[^/]+/.exec(root)?.[0];
    const top = first && first !== root ? openTop(first) : undefined;
    return {
      backend: b,
      rootUri: loc.id,
      pathPrefix: `${root}/`,
      ...env,
      sidecars: top && first ? { backend: top, base: `${root.slice(first.length + 1)}/`, shownAs: `${first}/` } : { backend: b, base: '', shownAs: `${root}/` },
    };
  }
  if (loc.type === 's3' || loc.type === 'azureblob') {
    const containerUri = loc.uri.slice(0, loc.uri.length - loc.path.length);
    const top = loc.path ? openTop(loc.remote ? `${loc.remote}:${loc.container}/` : containerUri) : undefined;
    return {
      backend: b,
      rootUri: loc.id,
      pathPrefix: loc.uri,
      ...env,
      sidecars: top ? { backend: top, base: loc.path, shownAs: containerUri } : { backend: b, base: '', shownAs: loc.uri },
    };
  }
  return { backend: b, rootUri: loc.id, pathPrefix: loc.uri, ...env, sidecars: { backend: b, base: '', shownAs: loc.uri } };
}

export interface ClassifierDeps {
  readonly settings: ClassificationSettings;
  readonly labels?: LabelLookup;
  readonly detector?: ContentDetector;
}

interface SidecarHit {
  readonly level: string;
  readonly where: string;
  readonly note?: string;
}

const SIDECAR_MAX_BYTES = 4096;
const SIDECAR_CACHE_LIMIT = 100_000;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export class Classifier {
  private readonly sidecarCache = new Map<string, Promise<SidecarHit | null>>();

  constructor(private readonly d: ClassifierDeps) {}

  get settings(): ClassificationSettings {
    return this.d.settings;
  }

  async classify(entry: Entry, src: SourceView, signal?: AbortSignal): Promise<Classification> {
    const s = this.d.settings;
    const label = this.d.labels?.labelFor(src.rootUri + entry.key);
    if (label) {
      const named = levelNamed(s.scale, label.level, `label on ${label.uri}`);
      return {
        level: named.level,
        source: 'label',
        rule: named.note ?? `label on ${label.uri} (set by ${label.setBy} ${new Date(label.setAt).toISOString()})`,
      };
    }
    const declared = await this.declared(entry, src, signal);
    if (!s.pii.enabled || !this.d.detector || entry.size === 0 || !s.scale.above(s.pii.level, declared.level) || !s.pii.applies(src.pathPrefix + entry.key)) {
      return declared;
    }
    const sample = await readAll(await src.backend.read(entry.key, { start: 0, end: Math.min(entry.size, s.pii.maxBytes), signal, ifMatch: entry }));
    const findings = await this.d.detector.scan(sample, { key: entry.key, size: entry.size });
    if (!Object.values(findings).some((n) => n > 0)) return declared;
    return raiseForFindings(declared, s.scale, s.pii.level, this.d.detector.name, findings);
  }

  /** Sidecar, path rule, object tag or default: the level the declared rules give. */
  private async declared(entry: Entry, src: SourceView, signal?: AbortSignal): Promise<Classification> {
    const s = this.d.settings;
    const sidecar = await this.nearestSidecar(src, entry.key, signal);
    if (sidecar) return { level: sidecar.level, source: 'sidecar', rule: sidecar.note ?? `sidecar ${sidecar.where}` };
    const rule = matchPathRule(s.rules, { fullPath: src.pathPrefix + entry.key, ...(src.environment ? { environment: src.environment } : {}) });
    if (rule) return { level: rule.level, source: 'path', rule: describePathRule(rule) };
    if (s.objectTags.enabled) {
      const tagKey = s.objectTags.key;
      let value = entry.metadata?.[tagKey];
      let what = `metadata ${tagKey}`;
      if (value === undefined && hasTags(src.backend)) {
        value = (await src.backend.getTags(entry.key, { signal }))[tagKey];
        what = `object tag ${tagKey}`;
      }
      if (value !== undefined) {
        const named = levelNamed(s.scale, value, what);
        return { level: named.level, source: 'tag', rule: named.note ?? `${what}=${named.level}` };
      }
    }
    return { level: s.defaultLevel, source: 'default', rule: 'default level (no label, sidecar, path rule or tag)' };
  }

  private async nearestSidecar(src: SourceView, key: string, signal?: AbortSignal): Promise<SidecarHit | undefined> {
    const full = src.sidecars.base + key;
    let end = full.lastIndexOf('/');
    while (true) {
      const dir = end < 0 ? '' : full.slice(0, end);
      const hit = await this.sidecarIn(src, dir, signal);
      if (hit) return hit;
      if (end < 0) return undefined;
      end = full.lastIndexOf('/', end - 1);
    }
  }

  private sidecarIn(src: SourceView, dir: string, signal?: AbortSignal): Promise<SidecarHit | null> {
    const reader = src.sidecars.backend;
    const cacheKey = `${src.sidecars.shownAs}\n${dir}`;
    let hit = this.sidecarCache.get(cacheKey);
    if (!hit) {
      if (this.sidecarCache.size >= SIDECAR_CACHE_LIMIT) this.sidecarCache.clear();
      const key = dir ? `${dir}/${this.d.settings.sidecarName}` : this.d.settings.sidecarName;
      const where = src.sidecars.shownAs + key;
      hit = (async (): Promise<SidecarHit | null> => {
        let text: string;
        try {
          text = (await readAll(await reader.read(key, { start: 0, end: SIDECAR_MAX_BYTES, signal }))).toString('utf8');
        } catch (err) {
          // no sidecar here; an unreadable directory above the root labels nothing either
          if (err instanceof NotFoundError || err instanceof PermissionError) return null;
          throw err;
        }
        const raw = parseSidecar(text);
        if (raw === undefined) return null;
        const named = levelNamed(this.d.settings.scale, raw, `sidecar ${where}`);
        return { level: named.level, where, ...(named.note ? { note: named.note } : {}) };
      })();
      this.sidecarCache.set(cacheKey, hit);
      hit.catch(() => this.sidecarCache.delete(cacheKey));
    }
    return hit;
  }
}
