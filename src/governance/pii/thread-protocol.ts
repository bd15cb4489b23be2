/**
 * What the scrubbing threads (threads.ts, scrub-worker.ts) say to each other. Structured
 * clone carries data only, so an error crosses as its name, message and hint and is made
 * again on the other side as the same type: the run treats it exactly as one raised on
 * its own thread (a ScrubInputError fails the file, a ConfigError the run).
 */
import { ConfigError, InternalError } from '../../core/errors.js';
import { ScrubInputError } from './errors.js';

/** Given to each thread when it starts. */
export interface WorkerSetup {
  /** The scrub config as written (the `pii` section without keyFile and threads): loadScrubConfig runs in the thread. */
  readonly scrub: Readonly<Record<string, unknown>>;
  /** The `hash` operator's secret; held in memory only, never logged. */
  readonly key?: Uint8Array;
}

export type ToWorker =
  /** `discard`: a scan; the thread keeps the output to itself and sends only the report. */
  | { readonly op: 'open'; readonly id: number; readonly fileName: string; readonly discard?: boolean }
  | { readonly op: 'data'; readonly id: number; readonly bytes: Uint8Array }
  | { readonly op: 'end'; readonly id: number }
  | { readonly op: 'abort'; readonly id: number };

export type FromWorker =
  | { readonly id: number; readonly out: Uint8Array }
  /** One input chunk is through the scrubber. */
  | { readonly id: number; readonly ack: true }
  /** The stream ended; its report. */
  | { readonly id: number; readonly done: Record<string, unknown> }
  | { readonly id: number; readonly error: WireError };

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly hint?: string;
}

export function errorToWire(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  const hint = (e as { hint?: unknown }).hint;
  return { name: e.name, message: e.message, ...(typeof hint === 'string' ? { hint } : {}) };
}

export function errorFromWire(w: WireError): Error {
  const opts = w.hint !== undefined ? { hint: w.hint } : undefined;
  switch (w.name) {
    case 'ScrubInputError':
      return new ScrubInputError(w.message, opts);
    case 'ConfigError':
      return new ConfigError(w.message, opts);
    default:
      return new InternalError(w.message, opts);
  }
}
