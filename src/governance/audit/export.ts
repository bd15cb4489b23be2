/**
 * Reading the audit log for people and other systems: filters (time, environment,
 * classification, record type) and three output formats — the records as JSON Lines,
 * CSV for spreadsheets (cells that a spreadsheet would run as a formula are quoted
 * inert), and OCSF 1.1 File Hosting Activity (class 6006) events for SIEMs, one per
 * transfer, denial and deletion.
 */
import { createReadStream } from 'node:fs';
import type { AuditRecord } from './format.js';
import type { LevelScale } from '../classify/levels.js';

/** Every record that parses as JSON, in log order; integrity is `audit verify`'s job. */
export async function* readAuditRecords(file: string, signal?: AbortSignal): AsyncGenerator<AuditRecord> {
  let carry = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20, ...(signal ? { signal } : {}) }) as AsyncIterable<string>) {
    const lines = (carry + chunk).split('\n');
    carry = lines.pop() ?? '';
    for (const line of lines) {
      const r = parseLoose(line);
      if (r) yield r;
    }
  }
  const r = parseLoose(carry);
  if (r) yield r;
}

function parseLoose(line: string): AuditRecord | undefined {
  if (line.trim() === '') return undefined;
  try {
    const r = JSON.parse(line) as AuditRecord;
    return typeof r === 'object' && r !== null && typeof r.type === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

export interface AuditFilter {
  /** ms since the epoch, inclusive */
  readonly since?: number;
  /** ms since the epoch, exclusive */
  readonly until?: number;
  /** Source or destination environment. */
  readonly environment?: string;
  /** `confidential` exactly, or `confidential+` for that level and above (needs the scale). */
  readonly classification?: string;
  readonly types?: readonly string[];
  /** Record types to leave out (the dashboard leaves out `skip` unless asked). */
  readonly excludeTypes?: readonly string[];
}

export function compileFilter(f: AuditFilter, scale: LevelScale): (r: AuditRecord) => boolean {
  const types = f.types?.length ? new Set(f.types) : undefined;
  const excluded = new Set(f.excludeTypes ?? []);
  const cls = f.classification;
  const atLeast = cls?.endsWith('+') ? cls.slice(0, -1) : undefined;
  return (r) => {
    if (types && !types.has(r.type)) return false;
    if (excluded.has(r.type)) return false;
    const t = Date.parse(r.time);
    if (f.since !== undefined && !(t >= f.since)) return false;
    if (f.until !== undefined && !(t < f.until)) return false;
    if (f.environment !== undefined && r.srcEnv !== f.environment && r.dstEnv !== f.environment) return false;
    if (cls !== undefined) {
      const level = typeof r.classification === 'string' ? r.classification : undefined;
      if (level === undefined) return false;
      if (atLeast !== undefined ? scale.rank(level) < scale.rank(atLeast) : level !== cls) return false;
    }
    return true;
  };
}

// ------------------------------------------------------------------------------ CSV

export const CSV_COLUMNS = [
  'time',
  'seq',
  'type',
  'run',
  'key',
  'src',
  'dst',
  'srcEnv',
  'dstEnv',
  'classification',
  'decision',
  'rule',
  'reason',
  'bytes',
  'hashAlgorithm',
  'hashBefore',
  'hashAfter',
  'transforms',
  'durationMs',
  'status',
  'kind',
  'message',
] as const;

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  let s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // a spreadsheet would evaluate it
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',');
}

export function toCsvRow(r: AuditRecord): string {
  const transforms = Array.isArray(r.transforms) ? (r.transforms as Array<string | { name?: string }>).map((t) => (typeof t === 'string' ? t : (t.name ?? ''))).join(';') : undefined;
  return CSV_COLUMNS.map((c) => csvCell(c === 'transforms' ? transforms : (r as Record<string, unknown>)[c])).join(',');
}

// ----------------------------------------------------------------------------- OCSF

const OCSF_VERSION = '1.1.0';
const ACTIVITY: Record<number, string> = { 1: 'Upload', 2: 'Download', 4: 'Delete', 6: 'Copy' };

/** OCSF file confidentiality ids for the default levels; other levels are Other (99). */
function confidentialityId(level: string): number {
  return level === 'public' ? 1 : level === 'confidential' ? 2 : 99;
}

export interface RunActor {
  readonly user?: string;
  readonly host?: string;
  readonly pid?: number;
}

/** Remembers who ran each run (the run-start record) for the records that follow it. */
export class RunActors {
  private readonly runs = new Map<string, RunActor>();

  see(r: AuditRecord): void {
    if (r.type === 'run-start' && typeof r.run === 'string') this.runs.set(r.run, { user: r.user as string, host: r.host as string, pid: r.pid as number });
  }

  of(r: AuditRecord): RunActor {
    return (typeof r.run === 'string' ? this.runs.get(r.run) : undefined) ?? {};
  }
}

function fileObject(path: string | undefined, r: AuditRecord, hash: unknown): Record<string, unknown> {
  const p = typeof path === 'string' ? path : String(r.key ?? '');
  const level = typeof r.classification === 'string' ? r.classification : undefined;
  return {
    name: p.slice(p.lastIndexOf('/') + 1),
    path: p,
    type_id: 1,
    type: 'Regular File',
    ...(typeof r.bytes === 'number' ? { size: r.bytes } : {}),
    ...(level ? { confidentiality: level, confidentiality_id: confidentialityId(level) } : {}),
    ...(typeof hash === 'string' ? { fingerprints: [{ algorithm_id: 1, algorithm: 'MD5', value: hash }] } : {}),
  };
}

/** An OCSF File Hosting Activity event for a transfer, denial or deletion; undefined for other records. */
export function toOcsf(r: AuditRecord, who: RunActor, logId?: string): Record<string, unknown> | undefined {
  if (r.type !== 'transfer' && r.type !== 'denied' && r.type !== 'delete') return undefined;
  const src = typeof r.src === 'string' ? r.src : undefined;
  const dst = typeof r.dst === 'string' ? r.dst : undefined;
  // locations are canonical URIs: file:///… for local trees, the endpoint URL for object stores
  const remote = (u: string | undefined): boolean => u !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(u) && !u.startsWith('file://');
  const activity = r.type === 'delete' ? 4 : remote(dst) ? 1 : remote(src) ? 2 : 6;
  const ok = r.type !== 'denied';
  const level = typeof r.classification === 'string' ? r.classification : undefined;
  const message =
    r.type === 'transfer'
      ? `copied ${String(r.key)} (${level ?? 'unclassified'}) to ${String(r.dstEnv ?? dst)}`
      : r.type === 'denied'
        ? `denied ${String(r.key)} (${level ?? 'unclassified'}) toward ${String(r.dstEnv ?? dst)}: ${String(r.reason)}`
        : `deleted ${String(r.key)} at ${String(r.dstEnv ?? dst)}`;
  return {
    class_uid: 6006,
    class_name: 'File Hosting Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_id: activity,
    activity_name: ACTIVITY[activity],
    type_uid: 600600 + activity,
    type_name: `File Hosting Activity: ${ACTIVITY[activity]}`,
    time: Date.parse(r.time),
    severity_id: ok ? 1 : 2,
    severity: ok ? 'Informational' : 'Low',
    status_id: ok ? 1 : 2,
    status: ok ? 'Success' : 'Failure',
    ...(ok ? {} : { status_detail: String(r.reason ?? 'denied by policy') }),
    message,
    ...(typeof r.durationMs === 'number' ? { duration: r.durationMs } : {}),
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'hybridsync', vendor_name: 'hybridsync' },
      uid: `${logId ?? 'log'}:${r.seq}`,
      ...(typeof r.run === 'string' ? { correlation_uid: r.run } : {}),
      log_name: 'hybridsync audit',
    },
    actor: { user: { name: who.user ?? 'unknown', uid: who.user ?? 'unknown' }, ...(who.pid ? { process: { pid: who.pid, name: 'hybridsync' } } : {}) },
    src_endpoint: { ...(who.host ? { hostname: who.host } : {}), ...(typeof r.srcEnv === 'string' ? { name: r.srcEnv } : {}) },
    dst_endpoint: { ...(typeof r.dstEnv === 'string' ? { name: r.dstEnv } : {}), svc_name: remote(dst) ? 'object-storage' : 'file' },
    file: fileObject(r.type === 'delete' ? dst : src, r, r.hashBefore),
    ...(r.type === 'transfer' ? { file_result: fileObject(dst, r, r.hashAfter) } : {}),
    unmapped: {
      record_type: r.type,
      seq: r.seq,
      ...(level ? { classification: level } : {}),
      ...(r.decision ? { decision: r.decision } : {}),
      ...(r.rule ? { rule: r.rule } : {}),
      ...(Array.isArray(r.transforms) && r.transforms.length ? { transforms: r.transforms } : {}),
      ...(src ? { src } : {}),
      ...(dst ? { dst } : {}),
    },
  };
}
