/**
 * Where in hybridsync.yaml a problem is, as people read it: `file:line:column: path: message`.
 * List items are numbered from 1 (`classification.rules#2.level` is the rule `classify`
 * calls `path rule #2`), and an unknown key is reported at its own position with the known
 * key it is probably a typo of.
 */
import type { LineCounter, Node } from 'yaml';
import { yaml } from './yaml.js';
import type * as z from 'zod';
import { closestMatch } from '../lib/edit-distance.js';

export interface ConfigIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** Report the position of the key at the end of `path` (an unknown key), not of its value. */
  readonly atKey?: boolean;
}

/** `['classification', 'rules', 1, 'level']` → `classification.rules#2.level`; items count from 1. */
export function formatConfigPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((seg, i) => (typeof seg === 'number' ? `#${seg + 1}` : `${i === 0 ? '' : '.'}${String(seg)}`)).join('');
}

/** The YAML node at `path` (or the key node of its last segment), else the nearest enclosing one. */
function nodeAt(root: Node | null, path: readonly PropertyKey[], atKey: boolean): Node | undefined {
  let node: Node | null | undefined = root;
  for (const [i, seg] of path.entries()) {
    if (yaml().isMap(node)) {
      const items = node.items as Array<{ key: unknown; value: unknown }>;
      const pair = items.find((p) => yaml().isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return node;
      node = atKey && i === path.length - 1 ? (pair.key as Node) : ((pair.value as Node | null) ?? (pair.key as Node));
    } else if (yaml().isSeq(node)) {
      const item = node.items[Number(seg)] as Node | undefined;
      if (!item) return node;
      node = item;
    } else return node ?? undefined;
  }
  return node ?? undefined;
}

/** `file:line:column: path: message` for one issue, positioned in the parsed document. */
export function formatConfigIssue(file: string, root: Node | null, lc: LineCounter, issue: ConfigIssue): { line: number; text: string } {
  const node = nodeAt(root, issue.path, issue.atKey ?? false);
  const pos = node?.range ? lc.linePos(node.range[0]) : undefined;
  const line = pos?.line ?? 1;
  return { line, text: `${file}:${line}:${pos?.col ?? 1}: ${formatConfigPath(issue.path)}: ${issue.message}` };
}

// ------------------------------------------------------------------ unknown keys

type Def = {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly out?: z.ZodType;
  readonly element?: z.ZodType;
  readonly shape?: Readonly<Record<string, z.ZodType>>;
  readonly valueType?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly left?: z.ZodType;
  readonly right?: z.ZodType;
  readonly getter?: () => z.ZodType;
  readonly values?: readonly unknown[];
};
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas a value checked by `s` meets once wrappers (optional, default, pipes), unions and intersections are unwrapped. */
function concrete(s: z.ZodType, depth = 0): z.ZodType[] {
  if (depth > 32) return [];
  const d = defOf(s);
  const next = (...xs: Array<z.ZodType | undefined>): z.ZodType[] => xs.flatMap((x) => (x ? concrete(x, depth + 1) : []));
  switch (d.type) {
    case 'union':
      return next(...(d.options ?? []));
    case 'intersection':
      return next(d.left, d.right);
    case 'pipe':
      return next(d.in, d.out);
    case 'lazy':
      return next(d.getter?.());
    default:
      return d.innerType ? next(d.innerType) : [s];
  }
}

const field = (o: unknown, k: PropertyKey): unknown => (o !== null && typeof o === 'object' ? (o as Record<PropertyKey, unknown>)[k] : undefined);

/**
 * The keys the schema allows in the object at `path` of `data`. Of a discriminated union,
 * the options whose literal fields (`type: s3`) the value matches.
 */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  let nodes = [schema];
  let value = data;
  for (const seg of path) {
    nodes = nodes.flatMap((n) => concrete(n)).flatMap((n) => {
      const d = defOf(n);
      const child = d.type === 'object' ? d.shape?.[String(seg)] : d.type === 'array' ? d.element : d.type === 'record' ? d.valueType : undefined;
      return child ? [child] : [];
    });
    value = field(value, seg);
  }
  const shapes = nodes.flatMap((n) => concrete(n)).flatMap((n) => (defOf(n).type === 'object' && defOf(n).shape ? [defOf(n).shape!] : []));
  const matches = (shape: Readonly<Record<string, z.ZodType>>): boolean =>
    Object.entries(shape).every(([k, f]) => defOf(f).type !== 'literal' || field(value, k) === undefined || (defOf(f).values ?? []).includes(field(value, k)));
  const chosen = shapes.filter(matches);
  return [...new Set((chosen.length ? chosen : shapes).flatMap((s) => Object.keys(s)))];
}

/**
 * The zod issues as config issues: an "unrecognized keys" issue (which zod places on the
 * enclosing object) becomes one issue per key, at the key, with the nearest known key.
 */
export function configIssues(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], data: unknown): ConfigIssue[] {
  return issues.flatMap((issue): ConfigIssue[] => {
    if (issue.code !== 'unrecognized_keys') return [{ path: issue.path, message: issue.message }];
    const known = knownKeys(schema, issue.path, data).filter((k) => k !== '$schema');
    return issue.keys.map((key) => {
      const near = closestMatch(key, known);
      return { path: [...issue.path, key], atKey: true, message: `unknown key${near ? `; did you mean "${near}"?` : known.length ? `; allowed here: ${known.join(', ')}` : ''}` };
    });
  });
}
