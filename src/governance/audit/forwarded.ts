/**
 * Checking a batch of another writer's audit lines seen away from its log (a cluster
 * worker's batch, forwarded to the coordinator). The batch carries the Merkle frontier of
 * the log before it; pushing the batch's lines onto that frontier gives, at each of its
 * checkpoint lines, the root that checkpoint must sign. So a batch that ends with a
 * checkpoint signed by the writer's key proves its lines are, byte for byte, the leaves at
 * those positions of the writer's log — without the rest of that log.
 */
import type { KeyObject } from 'node:crypto';
import { parseRecordLine, type AuditRecord } from './format.js';
import type { WrittenBatch } from './log.js';
import { MerkleFrontier } from './merkle.js';
import type { SignedCheckpoint } from './mirror.js';
import { checkpointMessage, keyIdOf, verifySignature } from './signing.js';

export type ForwardedBatchCheck =
  | {
      readonly ok: true;
      /** The batch's records (checkpoints and the log-start line aside), in log order. */
      readonly records: readonly AuditRecord[];
      /** The batch's last checkpoint, which covers every line of it. */
      readonly checkpoint: SignedCheckpoint;
    }
  | { readonly ok: false; readonly problem: string };

/** Verifies a forwarded batch against the writer's public key; names the first problem. */
export function checkForwardedBatch(batch: WrittenBatch, publicKey: KeyObject): ForwardedBatchCheck {
  const keyId = keyIdOf(publicKey);
  let frontier: MerkleFrontier;
  try {
    frontier = MerkleFrontier.fromHex(batch.size, batch.frontier);
  } catch (err) {
    return { ok: false, problem: `the batch's Merkle frontier is malformed: ${(err as Error).message}` };
  }
  const records: AuditRecord[] = [];
  let checkpoint: SignedCheckpoint | undefined;
  let last = -1;
  for (const [i, line] of batch.lines.entries()) {
    const seq = batch.size + i;
    const parsed = parseRecordLine(line);
    if (!parsed.ok) return { ok: false, problem: `record ${seq} of log ${batch.logId}: ${parsed.problem}` };
    const r = parsed.record;
    if (r.seq !== seq) return { ok: false, problem: `record ${seq} of log ${batch.logId} says it is record ${r.seq}` };
    if (r.type === 'checkpoint') {
      const cp = r as unknown as Partial<SignedCheckpoint>;
      const root = frontier.root().toString('hex');
      if (cp.logId !== batch.logId || cp.treeSize !== seq || cp.root !== root) {
        return { ok: false, problem: `checkpoint ${seq} of log ${batch.logId} does not commit to the lines before it (root or size differ)` };
      }
      if (cp.keyId !== keyId) return { ok: false, problem: `checkpoint ${seq} of log ${batch.logId} is signed by ${String(cp.keyId)}, not by the registered key ${keyId}` };
      if (typeof cp.sig !== 'string' || !verifySignature(publicKey, checkpointMessage({ logId: batch.logId, treeSize: seq, root, time: r.time }), cp.sig)) {
        return { ok: false, problem: `checkpoint ${seq} of log ${batch.logId}: the signature is not valid for the registered key ${keyId}` };
      }
      checkpoint = { logId: batch.logId, treeSize: seq, root, time: r.time, keyId, sig: cp.sig };
      last = i;
    } else if (r.type !== 'log-start') {
      records.push(r);
    }
    frontier.push(line);
  }
  if (!checkpoint || last !== batch.lines.length - 1) return { ok: false, problem: `the batch of log ${batch.logId} at record ${batch.size} does not end with a signed checkpoint` };
  return { ok: true, records, checkpoint };
}
