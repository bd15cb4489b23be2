/** Entity types found in free text by the detectors. */
export const TEXT_ENTITY_TYPES = ['email', 'phone', 'card', 'iban', 'ssn', 'ip', 'mac', 'dob'] as const;

/**
 * Entity types recognised only as whole columns (CSV columns, JSON keys) by name or by
 * sampled values: free text cannot be searched for them reliably without a language model.
 */
export const COLUMN_ENTITY_TYPES = ['person_name', 'address', 'postal_code', 'national_id', 'username'] as const;

export const ENTITY_TYPES = [...TEXT_ENTITY_TYPES, ...COLUMN_ENTITY_TYPES] as const;

export type TextEntityType = (typeof TEXT_ENTITY_TYPES)[number];
export type EntityType = (typeof ENTITY_TYPES)[number];

export function isEntityType(s: string): s is EntityType {
  return (ENTITY_TYPES as readonly string[]).includes(s);
}

/** One detected value: a half-open UTF-16 range [start, end) of the scanned string. */
export interface Finding {
  type: TextEntityType;
  start: number;
  end: number;
  /** Confidence in [0, 1]; findings under the configured `minScore` are not reported. */
  score: number;
}

export type ScrubFormat = 'csv' | 'tsv' | 'jsonl' | 'text';

/**
 * What one file's scrub did. Counts and column names only: never a value, so the report
 * can be logged, audited and shown to anyone.
 */
export interface ScrubReport {
  /** The format the file was read as, or `binary` when it was passed through. */
  format: ScrubFormat | 'binary';
  /** True when the bytes were passed through untouched (unreadable or binary format). */
  passthrough: boolean;
  /** Why the file was passed through. */
  reason?: string;
  /** Values replaced per entity type (every type present, zero when none). */
  counts: Record<EntityType, number>;
  /** CSV columns / JSON key paths handled as a whole, as `name` or `#index` when headerless. */
  columns?: string[];
  /**
   * How each entry of `columns` was handled: its entity type, `drop` (removed), or
   * `redacted` (an explicit rule without a type).
   */
  columnTypes?: Record<string, EntityType | 'drop' | 'redacted'>;
  /** Records read: CSV rows (header included), JSONL or text lines. */
  records: number;
  /** JSONL lines that were not valid JSON and were scrubbed as plain text instead. */
  malformedRecords: number;
  /** Text lines over the line limit that had to be split at a non-word boundary. */
  forcedSplits: number;
  bytesIn: number;
  bytesOut: number;
  /** `latin1` when the input was not valid UTF-8 (bytes are then preserved one to one). */
  encoding?: 'utf8' | 'latin1';
}

export function zeroCounts(): Record<EntityType, number> {
  const counts = {} as Record<EntityType, number>;
  for (const t of ENTITY_TYPES) counts[t] = 0;
  return counts;
}
