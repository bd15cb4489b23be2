/**
 * `audit report`: a self-contained HTML compliance summary of (a filtered part of) the
 * audit log — whether the log verifies, runs, transfers by classification × destination
 * environment, denials and their reasons, transforms applied, TLS in transit. Aggregates
 * stream through; only the first denied files are kept to be listed.
 */
import { formatBytes } from '../../lib/units.js';
import type { AuditRecord } from './format.js';
import type { VerifyResult } from './verify.js';

interface Cell {
  files: number;
  bytes: number;
}

const LISTED_DENIALS = 200;

export class ReportAggregator {
  private first: string | undefined;
  private last: string | undefined;
  private readonly runs = new Map<string, { status?: string; mode?: string; dryRun?: boolean; user?: string; start?: string }>();
  private readonly transfers = new Map<string, Map<string, Cell>>();
  private readonly denials = new Map<string, Map<string, Cell>>();
  private readonly reasons = new Map<string, number>();
  private readonly deniedFiles: Array<{ time: string; key: string; classification: string; dstEnv: string; reason: string }> = [];
  private readonly transforms = new Map<string, { files: number; counts: Map<string, number> }>();
  private readonly tls = new Map<string, { protocol: string; allowedBy?: string; count: number }>();
  private readonly tlsRefused: Array<{ time: string; endpoint: string; problem: string }> = [];
  private deletes = 0;
  private errors = 0;
  private verifications = 0;
  private labelChanges = 0;
  private totalBytes = 0;
  private totalFiles = 0;
  private totalDenied = 0;

  constructor(private readonly levels: readonly string[]) {}

  add(r: AuditRecord): void {
    this.first ??= r.time;
    this.last = r.time;
    const run = typeof r.run === 'string' ? r.run : '';
    const dstEnv = typeof r.dstEnv === 'string' ? r.dstEnv : '(none)';
    const level = typeof r.classification === 'string' ? r.classification : '(unclassified)';
    switch (r.type) {
      case 'run-start':
        this.runs.set(run, { mode: r.mode as string, dryRun: r.dryRun as boolean, user: r.user as string, start: r.time });
        break;
      case 'run-end': {
        const x = this.runs.get(run) ?? {};
        x.status = r.status as string;
        this.runs.set(run, x);
        break;
      }
      case 'transfer': {
        bump(this.transfers, level, dstEnv, Number(r.bytes ?? 0));
        this.totalFiles++;
        this.totalBytes += Number(r.bytes ?? 0);
        for (const t of Array.isArray(r.transforms) ? (r.transforms as Array<{ name?: string; report?: { counts?: Record<string, number> } }>) : []) {
          const name = t.name ?? '?';
          const agg = this.transforms.get(name) ?? { files: 0, counts: new Map<string, number>() };
          agg.files++;
          for (const [k, n] of Object.entries(t.report?.counts ?? {})) if (typeof n === 'number' && n > 0) agg.counts.set(k, (agg.counts.get(k) ?? 0) + n);
          this.transforms.set(name, agg);
        }
        break;
      }
      case 'denied': {
        bump(this.denials, level, dstEnv, Number(r.bytes ?? 0));
        this.totalDenied++;
        const reason = String(r.reason ?? '');
        this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
        if (this.deniedFiles.length < LISTED_DENIALS) this.deniedFiles.push({ time: r.time, key: String(r.key ?? ''), classification: level, dstEnv, reason });
        break;
      }
      case 'delete':
        this.deletes++;
        break;
      case 'error':
        this.errors++;
        break;
      case 'verification':
        this.verifications++;
        break;
      case 'label-set':
      case 'label-unset':
        this.labelChanges++;
        break;
      case 'tls': {
        const k = `${String(r.endpoint)}|${String(r.protocol)}`;
        const x = this.tls.get(k) ?? { protocol: String(r.protocol), ...(r.allowedBy ? { allowedBy: String(r.allowedBy) } : {}), count: 0 };
        x.count++;
        this.tls.set(k, x);
        break;
      }
      case 'tls-refused':
        if (this.tlsRefused.length < LISTED_DENIALS) this.tlsRefused.push({ time: r.time, endpoint: String(r.endpoint), problem: String(r.problem) });
        break;
      default:
        break;
    }
  }

  html(meta: { title: string; logFile: string; generated: string; filter: string; verify?: VerifyResult }): string {
    const v = meta.verify;
    const verdict = !v
      ? '<p class="warn">Integrity not verified (--no-verify).</p>'
      : v.ok
        ? `<p class="ok">The log verifies: ${v.records} records, ${v.checkpoints} signed checkpoints, signed by ${esc(v.keyId)}${v.lastCheckpoint ? `, last checkpoint ${esc(v.lastCheckpoint.time)}` : ''}.</p>`
        : `<p class="bad">The log FAILS verification at line ${v.firstBad?.line}: ${esc(v.firstBad?.problem ?? '')}. Figures below come from a log that was altered.</p>`;
    const runs = [...this.runs.values()];
    const byStatus = new Map<string, number>();
    for (const r of runs) byStatus.set(r.status ?? 'unfinished', (byStatus.get(r.status ?? 'unfinished') ?? 0) + 1);
    const envs = [...new Set([...collectCols(this.transfers), ...collectCols(this.denials)])].sort();
    const levels = [...this.levels, ...[...new Set([...this.transfers.keys(), ...this.denials.keys()])].filter((l) => !this.levels.includes(l))];
    const matrix = (m: Map<string, Map<string, Cell>>): string => {
      const rows = levels.filter((l) => m.has(l));
      if (rows.length === 0) return '<p>None.</p>';
      return table(
        ['classification', ...envs, 'total'],
        rows.map((l) => {
          const row = m.get(l)!;
          let files = 0;
          let bytes = 0;
          const cells = envs.map((e) => {
            const c = row.get(e);
            files += c?.files ?? 0;
            bytes += c?.bytes ?? 0;
            return c ? `${c.files} files<br><small>${formatBytes(c.bytes)}</small>` : '';
          });
          return [esc(l), ...cells, `${files} files<br><small>${formatBytes(bytes)}</small>`];
        }),
      );
    };
    const reasons = [...this.reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
    const tlsRows = [...this.tls.entries()].map(([k, x]) => [esc(k.split('|')[0]!), esc(x.protocol), esc(x.allowedBy ?? ''), String(x.count)]);
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2733;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe3;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d5dbe3;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f2f5f8}small{color:#5b6776}.ok{color:#14622f;font-weight:600}.bad{color:#a4161a;font-weight:600}.warn{color:#8a5a00;font-weight:600}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{color:#5b6776}
</style></head><body>
<h1>${esc(meta.title)}</h1>
<dl><dt>Audit log</dt><dd>${esc(meta.logFile)}</dd><dt>Period</dt><dd>${esc(this.first ?? '-')} — ${esc(this.last ?? '-')}</dd>
<dt>Filter</dt><dd>${esc(meta.filter || 'none')}</dd><dt>Generated</dt><dd>${esc(meta.generated)}</dd></dl>
<h2>Integrity</h2>${verdict}
<h2>Summary</h2>
<dl><dt>Runs</dt><dd>${runs.length}${byStatus.size ? ` (${[...byStatus.entries()].map(([s, n]) => `${n} ${esc(s)}`).join(', ')})` : ''}</dd>
<dt>Files transferred</dt><dd>${this.totalFiles} (${formatBytes(this.totalBytes)})</dd>
<dt>Denied by policy</dt><dd>${this.totalDenied}</dd><dt>Deleted at destinations</dt><dd>${this.deletes}</dd>
<dt>Verification failures</dt><dd>${this.verifications}</dd><dt>Errors</dt><dd>${this.errors}</dd><dt>Label changes</dt><dd>${this.labelChanges}</dd></dl>
<h2>Transfers by classification and destination environment</h2>${matrix(this.transfers)}
<h2>Denials by classification and destination environment</h2>${matrix(this.denials)}
${reasons.length ? `<h3>Reasons</h3>${table(['reason', 'files'], reasons.map(([r, n]) => [esc(r), String(n)]))}` : ''}
${this.deniedFiles.length ? `<h3>Denied files${this.totalDenied > this.deniedFiles.length ? ` (first ${this.deniedFiles.length} of ${this.totalDenied})` : ''}</h3>${table(['time', 'file', 'classification', 'destination', 'reason'], this.deniedFiles.map((d) => [esc(d.time), esc(d.key), esc(d.classification), esc(d.dstEnv), esc(d.reason)]))}` : ''}
<h2>Transforms applied</h2>${
      this.transforms.size
        ? table(
            ['transform', 'files', 'values replaced'],
            [...this.transforms.entries()].map(([n, x]) => [esc(n), String(x.files), esc([...x.counts.entries()].map(([k, c]) => `${k} ${c}`).join(', ') || '0')]),
          )
        : '<p>None.</p>'
    }
<h2>Encryption in transit</h2>${tlsRows.length ? table(['endpoint', 'protocol', 'exception allowed by', 'runs'], tlsRows) : '<p>No S3 endpoint was contacted.</p>'}
${this.tlsRefused.length ? `<h3>Endpoints refused</h3>${table(['time', 'endpoint', 'problem'], this.tlsRefused.map((t) => [esc(t.time), esc(t.endpoint), esc(t.problem)]))}` : ''}
</body></html>
`;
  }
}

function bump(m: Map<string, Map<string, Cell>>, row: string, col: string, bytes: number): void {
  let r = m.get(row);
  if (!r) m.set(row, (r = new Map()));
  const c = r.get(col) ?? { files: 0, bytes: 0 };
  c.files++;
  c.bytes += bytes;
  r.set(col, c);
}

function collectCols(m: Map<string, Map<string, Cell>>): string[] {
  return [...m.values()].flatMap((r) => [...r.keys()]);
}

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
