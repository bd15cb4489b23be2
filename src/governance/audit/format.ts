/**
 * The audit log's line format. One JSON object per line:
 *
 *   {"seq":41,"time":"2026-…Z","prev":"<hash of record 40>","type":"transfer",…,"hash":"<hex>"}
 *
 * `hash` is SHA-256 over the exact bytes of the line up to (not including) `,"hash":…`,
 * followed by `}`; `prev` chains each record to the one before (64 zeros for the first).
 * Hashing the bytes as written, not a re-serialisation, makes the check independent of
 * any JSON library. The Merkle tree (./merkle.ts) is built over whole lines.
 */
import { hash } from 'node:crypto';

export const LOG_FORMAT = 'hybridsync-audit/v1';
export const GENESIS_PREV = '0'.repeat(64);
const HEADER_KEYS = new Set(['seq', 'time', 'prev', 'hash']);
const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

export interface RecordBody {
  readonly type: string;
  readonly [field: string]: unknown;
}

export interface AuditRecord extends RecordBody {
  readonly seq: number;
  readonly time: string;
  readonly prev: string;
  readonly hash: string;
}

export function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}

/** The line (without newline) for a record, and its hash. */
export function formatRecord(seq: number, time: string, prev: string, body: RecordBody): { line: string; hash: string } {
  for (const k of Object.keys(body)) if (HEADER_KEYS.has(k)) throw new TypeError(`audit record body may not set "${k}"`);
  const fields = JSON.stringify(body).slice(1, -1);
  const text = `{"seq":${seq},"time":${JSON.stringify(time)},"prev":"${prev}",${fields}}`;
  const hash = sha256Hex(text);
  return { line: `${text.slice(0, -1)},"hash":"${hash}"}`, hash };
}

export type ParsedLine =
  | { readonly ok: true; readonly record: AuditRecord }
  | { readonly ok: false; readonly problem: string; readonly record?: Partial<AuditRecord> };

/** Parses one line and checks its own hash (not the chain: that needs the previous line). */
export function parseRecordLine(line: string): ParsedLine {
  let obj: Partial<AuditRecord>;
  try {
    obj = JSON.parse(line) as Partial<AuditRecord>;
  } catch {
    return { ok: false, problem: 'not valid JSON (the record was edited or cut short)' };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { ok: false, problem: 'not a JSON object' };
  const m = HASH_SUFFIX.exec(line);
  if (!m) return { ok: false, problem: 'the record does not end with its hash', record: obj };
  if (typeof obj.seq !== 'number' || typeof obj.time !== 'string' || typeof obj.prev !== 'string' || typeof obj.type !== 'string') {
    return { ok: false, problem: 'seq, time, prev or type missing', record: obj };
  }
  const text = `${line.slice(0, m.index)}}`;
  if (sha256Hex(text) !== m[1] || obj.hash !== m[1]) return { ok: false, problem: 'the record does not match its hash (it was modified)', record: obj };
  return { ok: true, record: obj as AuditRecord };
}

/** The hash at the end of a line, without parsing the rest (for rebuilding the tail). */
export function trailingHash(line: string): string | undefined {
  return HASH_SUFFIX.exec(line)?.[1];
}
