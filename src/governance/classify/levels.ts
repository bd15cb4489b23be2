/**
 * Classification levels, ordered from least to most sensitive. Every comparison of
 * levels goes through here so an unknown level can never compare as "low".
 */
import { ConfigError } from '../../core/errors.js';

export class LevelScale {
  private readonly rankOf: ReadonlyMap<string, number>;

  constructor(readonly levels: readonly string[]) {
    if (levels.length === 0) throw new ConfigError('classification needs at least one level');
    this.rankOf = new Map(levels.map((l, i) => [l, i]));
  }

  has(level: string): boolean {
    return this.rankOf.has(level);
  }

  /** Rank of a level; an unknown level ranks above the highest (fail closed). */
  rank(level: string): number {
    return this.rankOf.get(level) ?? this.levels.length;
  }

  get lowest(): string {
    return this.levels[0]!;
  }

  get highest(): string {
    return this.levels[this.levels.length - 1]!;
  }

  /** a is strictly more sensitive than b. */
  above(a: string, b: string): boolean {
    return this.rank(a) > this.rank(b);
  }

  /** Levels from the lowest up to and including `level`. */
  upTo(level: string): string[] {
    return this.levels.slice(0, this.rank(level) + 1);
  }
}
