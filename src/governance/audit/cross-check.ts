/**
 * Cross-checking a cluster worker's own trail against the coordinator's merged trail: the
 * worker's trail must verify with its key, and every coordinator record that names the
 * worker's log (`workerLogId`) must have the hash of the worker's record at `workerSeq`.
 * Two streaming passes; the hashes the coordinator holds for that worker are kept in
 * memory between them (one entry per merged record of that worker).
 */
import type { KeyObject } from 'node:crypto';
import { readAuditRecords } from './export.js';
import { verifyAuditLog, type VerifyResult } from './verify.js';

export interface CrossCheckResult {
  readonly ok: boolean;
  readonly workerLog: string;
  readonly workerLogId?: string;
  readonly verify: VerifyResult;
  /** Coordinator records naming this worker's log. */
  readonly merged: number;
  /** Of those, records whose hash matches the worker's record at that place. */
  readonly matched: number;
  /** The first coordinator record that does not match, with why. */
  readonly firstMismatch?: { readonly seq: number; readonly problem: string };
}

export async function crossCheckWorkerTrail(o: { coordinatorLog: string; workerLog: string; workerPublicKey: KeyObject; signal?: AbortSignal }): Promise<CrossCheckResult> {
  const signal = o.signal ? { signal: o.signal } : {};
  const verify = await verifyAuditLog({ file: o.workerLog, publicKey: o.workerPublicKey, ...signal });
  const logId = verify.logId;
  const want = new Map<number, string>();
  if (logId) {
    for await (const r of readAuditRecords(o.coordinatorLog, o.signal)) {
      if (r.workerLogId === logId && typeof r.workerSeq === 'number' && typeof r.workerHash === 'string') want.set(r.workerSeq, r.workerHash);
    }
  }
  const merged = want.size;
  let matched = 0;
  let firstMismatch: CrossCheckResult['firstMismatch'];
  if (merged > 0) {
    for await (const r of readAuditRecords(o.workerLog, o.signal)) {
      const h = want.get(r.seq);
      if (h === undefined) continue;
      want.delete(r.seq);
      if (h === r.hash) matched++;
      else firstMismatch ??= { seq: r.seq, problem: `the coordinator's record of ${String(r.type)} ${String(r.key ?? '')} differs from record ${r.seq} of the worker's trail` };
    }
    const beyond = [...want.keys()].sort((a, b) => a - b)[0];
    if (beyond !== undefined) firstMismatch ??= { seq: beyond, problem: `the coordinator holds record ${beyond} of this worker's trail, which the worker's trail does not have` };
  }
  return {
    ok: verify.ok && !firstMismatch && merged > 0,
    workerLog: o.workerLog,
    ...(logId ? { workerLogId: logId } : {}),
    verify,
    merged,
    matched,
    ...(firstMismatch ? { firstMismatch } : merged === 0 ? { firstMismatch: { seq: -1, problem: 'the coordinator’s trail holds no record of this worker’s trail' } } : {}),
  };
}
