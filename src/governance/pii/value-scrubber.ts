import type { CountryCode } from 'libphonenumber-js/max';
import { operatorFor, type OperatorSpec, type ScrubConfig } from './config.js';
import { PiiDetector } from './detect/detect.js';
import { applyOperator, mask, type OperatorContext, type Pseudonymizer } from './operators.js';
import { zeroCounts, type EntityType } from './types.js';

/**
 * Scrubs single values, whatever format they came from: free text (detect, then replace
 * each finding) or a whole value of a known type (a PII column). Counts what it
 * replaced; never keeps a value.
 */
export class ValueScrubber {
  readonly counts = zeroCounts();
  readonly detector: PiiDetector;
  private readonly ops: Record<EntityType, OperatorSpec>;
  /**
   * Per type, the replacement when it does not depend on the value (redact, drop,
   * replace), else undefined: such a finding is replaced without cutting it out of the
   * text or building its replacement again.
   */
  private readonly fixed: Record<EntityType, string | undefined>;
  private readonly opCtx: OperatorContext;
  private readonly allow: ReadonlySet<string>;

  constructor(config: ScrubConfig, pseudonymizer: Pseudonymizer | undefined) {
    const types = config.detect.types.filter((t) => operatorFor(config, t).operator !== 'keep');
    this.detector = new PiiDetector({ types, minScore: config.detect.minScore, phoneRegions: config.detect.phoneRegions });
    this.ops = {} as Record<EntityType, OperatorSpec>;
    this.fixed = {} as Record<EntityType, string | undefined>;
    for (const t of Object.keys(this.counts) as EntityType[]) {
      const op = (this.ops[t] = operatorFor(config, t));
      const independent = op.operator === 'redact' || op.operator === 'drop' || op.operator === 'replace';
      this.fixed[t] = independent ? applyOperator(op, t, '', { pseudonymizer: undefined, regions: [] }) : undefined;
    }
    this.opCtx = { pseudonymizer, regions: config.detect.phoneRegions as CountryCode[] };
    this.allow = new Set(config.allow);
  }

  /** `value` with every finding replaced; the same string when nothing was found. */
  text(value: string, field?: string): string {
    const parts = this.parts;
    parts.length = 0;
    this.last = 0;
    this.collectFrom = value;
    if (this.replaceEach(value, field, 0, this.collect) === 0) return value;
    parts.push(value.slice(this.last));
    const out = parts.join('');
    parts.length = 0;
    return out;
  }

  private readonly parts: string[] = [];
  private last = 0;
  private collectFrom = '';
  private readonly collect = (start: number, end: number, text: string): void => {
    this.parts.push(this.collectFrom.slice(this.last, start), text);
    this.last = end;
  };

  /**
   * Finds what to replace in `value` and reports each replacement as
   * `onEdit(offset + start, offset + end, replacement)`, in order; returns how many. Counts
   * them; allowed values are left alone.
   */
  replaceEach(value: string, field: string | undefined, offset: number, onEdit: (start: number, end: number, text: string) => void): number {
    const findings = this.detector.detect(value, field);
    if (findings.length === 0) return 0;
    let n = 0;
    const checkAllow = this.allow.size > 0;
    for (const f of findings) {
      const fixed = this.fixed[f.type];
      if (fixed !== undefined && !checkAllow) {
        onEdit(offset + f.start, offset + f.end, fixed);
        this.counts[f.type]++;
        n++;
        continue;
      }
      const found = value.slice(f.start, f.end);
      if (checkAllow && this.allow.has(found)) continue;
      onEdit(offset + f.start, offset + f.end, applyOperator(this.ops[f.type], f.type, found, this.opCtx));
      this.counts[f.type]++;
      n++;
    }
    return n;
  }

  /**
   * The whole `value` handled as `type` with `op` (a PII column). Empty values stay
   * empty; an untyped rule (e.g. `notes: redact`) is applied without counting a type.
   */
  whole(value: string, type: EntityType | undefined, op: OperatorSpec): string {
    if (op.operator === 'keep' || isBlank(value) || (this.allow.size > 0 && this.allow.has(value))) return value;
    if (type) {
      this.counts[type]++;
      return applyOperator(op, type, value, this.opCtx);
    }
    switch (op.operator) {
      case 'replace':
        return op.with ?? '<REDACTED>';
      case 'mask':
        return mask(value, op.keep, op.char);
      default:
        return '';
    }
  }
}

/** True when `value` is empty or only whitespace (what `value.trim() === ''` says, without a new string). */
function isBlank(value: string): boolean {
  const first = value.charCodeAt(0);
  // Nearly every value starts with a printable ASCII character.
  if (first > 32 && first < 127) return false;
  return value.trim().length === 0;
}
