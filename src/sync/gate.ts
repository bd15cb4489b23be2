/**
 * The hook through which governance stages act on a run: for every file the planner
 * wants to transfer, the gate decides whether it may go to this destination, with which
 * tags/metadata, and through which byte transforms (PII scrubbing). Denied files are not
 * transferred; transformed files are spooled so the uploaded bytes have a known size and
 * hash before the upload starts.
 */
import type { Transform } from 'node:stream';
import type { Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';

export interface GateContext {
  readonly src: Backend;
  readonly dst: Backend;
  readonly signal: AbortSignal;
}

export interface ByteTransform {
  readonly name: string;
  /**
   * A fresh transform per attempt, and a report (counts only, never values) after it ended.
   * `size`: the bytes it is about to get, when known (the file, or one segment of a followed
   * file); a transform may plan by it (PII scrubbing: whether to use a thread).
   */
  create(opts?: { readonly size?: number }): { stream: Transform; report(): Record<string, unknown> };
}

export type GateDecision =
  | {
      readonly allow: false;
      readonly classification: string;
      readonly reason: string;
      /** Which rule decided the classification, for the user and the audit trail. */
      readonly rule?: string;
    }
  | {
      readonly allow: true;
      readonly classification?: string;
      readonly rule?: string;
      readonly tags?: Readonly<Record<string, string>>;
      readonly metadata?: Readonly<Record<string, string>>;
      readonly transforms?: readonly ByteTransform[];
    };

export interface TransferGate {
  admit(entry: Entry, ctx: GateContext): Promise<GateDecision>;
}
