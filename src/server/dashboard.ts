/**
 * The web dashboard: one self-contained page (no build step, no CDN) that polls the API
 * every second. Jobs with status, last and next run; the runs in progress with progress and
 * a throughput chart (rendered from the same /api/jobs response as the job rows, so the two
 * never disagree); link utilization against the warning line; recent runs; the bandwidth
 * plan; the newest audit records (skipped unchanged files only on request, filtered by the
 * server). Every time on the page goes through one formatter: local time, the zone named in
 * the header. With a token, open it as /#token=... once; the page keeps it for the session.
 * The page carries the daemon's per-process CSRF token (same-origin.ts) and sends it on its
 * POSTs.
 */
import { DASHBOARD_PANELS, type DashboardPanel } from './panels/index.js';
import { CSRF_HEADER } from './same-origin.js';

export interface DashboardOptions {
  /** Whether the daemon serves /api/audit (the page does not ask for it otherwise). */
  readonly audit: boolean;
}

/** The page, with the daemon's CSRF token embedded (base64url: nothing to escape). */
export function dashboardHtml(csrfToken: string, o: DashboardOptions = { audit: true }): string {
  if (!/^[\w-]+$/.test(csrfToken)) throw new RangeError('the CSRF token must be base64url');
  return PAGE.replace('<meta name="hybridsync-csrf">', `<meta name="hybridsync-csrf" data-header="${CSRF_HEADER}" content="${csrfToken}">`).replace(
    '<meta name="hybridsync-audit">',
    `<meta name="hybridsync-audit" content="${o.audit ? 'on' : 'off'}">`,
  );
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The page with the panels of panels/ in place: their cards and their scripts. */
function withPanels(html: string, panels: readonly DashboardPanel[]): string {
  const cards = panels.map((p) => `<section${p.wide ? ' class="wide"' : ''}><h2>${escapeHtml(p.title)}</h2><div id="${p.id}" class="muted">${escapeHtml(p.empty)}</div></section>`).join('\n  ');
  const scripts = panels.map((p) => `{ id: ${JSON.stringify(p.id)}, endpoint: ${JSON.stringify(p.endpoint)}, empty: ${JSON.stringify(p.empty)}, render: ${p.render} }`).join(',\n    ');
  return html.replace('<!--panels-->', () => cards).replace('/*panel-scripts*/', () => scripts);
}

/** The page's icon, also served at /favicon.ico. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2433"/><path d="M4 6h8l-2-2M12 10H4l2 2" stroke="#fff" stroke-width="1.6" fill="none"/></svg>';

const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="hybridsync-csrf">
<meta name="hybridsync-audit">
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<title>hybridsync</title>
<style>
  :root { --fg:#1d2433; --muted:#6b7385; --line:#e3e6ec; --ok:#1f8a4c; --bad:#c0392b; --warn:#d68910; --accent:#2f6fdb; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0; background: #f6f7f9; }
  header { background: #1d2433; color: #fff; padding: 10px 20px; display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: #aab; font-size: 12px; }
  /* minmax(0, …) and min-width: 0: a long path wraps inside its card instead of widening the grid */
  main { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; padding: 16px 20px; }
  /* one column below 1180 px; the job rows' dates and schedules may then break at their spaces */
  @media (max-width: 1180px) { main { grid-template-columns: minmax(0, 1fr); } td.narrow-wrap { white-space: normal; } }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; }
  h2 .muted, h2 label { text-transform: none; letter-spacing: 0; font-weight: 400; font-size: 12px; }
  h2 label { margin-left: auto; color: var(--fg); cursor: pointer; }
  .scroll { overflow-x: auto; max-width: 100%; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: 4px 8px 4px 0; border-bottom: 1px solid var(--line); white-space: nowrap; }
  td.wrap { white-space: normal; overflow-wrap: break-word; }
  th { font-weight: 600; color: var(--muted); font-size: 12px; }
  td.action { text-align: right; padding-right: 0; }
  .st-ok, .st-known-denials { color: var(--ok); } .st-failed, .st-interrupted { color: var(--bad); } .st-running { color: var(--accent); } .st-window-end, .st-stopped, .st-denied, .st-restarting { color: var(--warn); }
  button { font: inherit; padding: 2px 10px; border: 1px solid var(--accent); color: var(--accent); background: #fff; border-radius: 4px; cursor: pointer; white-space: nowrap; }
  button:disabled { opacity: .4; cursor: default; }
  .bar { height: 14px; background: #edf0f5; border-radius: 3px; position: relative; overflow: hidden; min-width: 80px; }
  .bar > i { display: block; height: 100%; background: var(--accent); }
  .bar > b { position: absolute; top: 0; bottom: 0; width: 2px; background: var(--bad); }
  .live-run { margin-bottom: 8px; overflow-wrap: anywhere; }
  .muted { color: var(--muted); }
  .warning { color: var(--bad); font-weight: 600; }
  canvas { width: 100%; height: 140px; display: block; }
  p { overflow-wrap: anywhere; }
</style>
</head>
<body>
<header><h1>hybridsync</h1><span id="status">connecting…</span><span id="zone"></span></header>
<main>
  <section class="wide"><h2>Jobs</h2><div class="scroll"><table id="jobs"><thead><tr><th>job</th><th>kind</th><th>source → destination</th><th>schedule</th><th>window</th><th>link / lane</th><th>status</th><th>last run</th><th>next run</th><th></th></tr></thead><tbody></tbody></table></div></section>
  <section><h2>Runs in progress</h2><div id="live" class="muted">no run in progress</div><canvas id="throughput" width="600" height="140" aria-label="throughput chart"></canvas></section>
  <section><h2>Links</h2><div id="links" class="muted">no links declared</div><canvas id="linkchart" width="600" height="140" aria-label="link utilization chart"></canvas></section>
  <section><h2>Recent runs</h2><div class="scroll"><table id="recent"><thead><tr><th>#</th><th>job</th><th>trigger</th><th>started</th><th>status</th><th>files</th><th>bytes</th></tr></thead><tbody></tbody></table></div></section>
  <section class="wide"><h2>Audit trail <span class="muted">newest first; denials highlighted; unchanged files left out</span><label><input type="checkbox" id="audit-skips"> show skipped (unchanged) files</label></h2><div class="scroll"><table id="audit"><thead><tr><th>#</th><th>time</th><th>event</th><th>file / subject</th><th>classification</th><th>environments</th><th>detail</th></tr></thead><tbody></tbody></table></div></section>
  <!--panels-->
</main>
<script>
(() => {
  const m = /token=([^&]+)/.exec(location.hash);
  if (m) { sessionStorage.setItem('hybridsync-token', decodeURIComponent(m[1])); history.replaceState(null, '', location.pathname); }
  const token = sessionStorage.getItem('hybridsync-token');
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const csrf = document.querySelector('meta[name="hybridsync-csrf"]');
  const auditOn = document.querySelector('meta[name="hybridsync-audit"]').content === 'on';
  const api = (path, init = {}) => fetch(path, { ...init, headers: { ...headers, ...init.headers } }).then((r) => { if (!r.ok) throw new Error(path + ': HTTP ' + r.status); return r.json(); });
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  // a path or URI may break after a "/" (<wbr>), so a long one wraps instead of widening its card
  const brk = (s) => String(s ?? '').split(/(?<=[/])/).map(esc).join('<wbr>');
  const bytes = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + ' ' + u[i]; };
  const bits = (n) => { const u = [[1e12, 'Tbps'], [1e9, 'Gbps'], [1e6, 'Mbps'], [1e3, 'kbps']]; for (const [f, s] of u) if (n >= f) return (n / f).toFixed(n / f >= 10 ? 1 : 2) + ' ' + s; return Math.round(n) + ' bps'; };
  const dur = (ms) => { if (!isFinite(ms)) return '–'; const s = Math.round(ms / 1000); return s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' + (s % 60) + 's' : Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm'; };
  // the one date format of the page: 2026-12-02 03:00:05, local time, the zone named in the header
  const pad = (n) => String(n).padStart(2, '0');
  const when = (t) => {
    if (t === null || t === undefined || t === '') return '–';
    const d = new Date(typeof t === 'number' ? t : Date.parse(t));
    if (isNaN(d.getTime())) return esc(t);
    return '<time datetime="' + d.toISOString() + '">' + d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '</time>';
  };
  const offset = -new Date().getTimezoneOffset();
  $('zone').textContent = 'times in ' + (Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time') + ' (UTC' + (offset < 0 ? '−' : '+') + pad(Math.floor(Math.abs(offset) / 60)) + ':' + pad(Math.abs(offset) % 60) + ')';
  const speeds = new Map();

  function chart(canvas, series, opts = {}) {
    const ctx = canvas.getContext('2d');
    const w = canvas.width, h = canvas.height, pad = 4;
    ctx.clearRect(0, 0, w, h);
    const all = series.flatMap((s) => s.points.map((p) => p[1]));
    const max = Math.max(opts.max ?? 0, ...all, 1e-9);
    if (opts.line !== undefined) {
      const y = h - pad - (opts.line / max) * (h - 2 * pad);
      ctx.strokeStyle = '#c0392b'; ctx.setLineDash([5, 4]); ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke(); ctx.setLineDash([]);
      ctx.fillStyle = '#c0392b'; ctx.font = '11px sans-serif'; ctx.fillText(opts.lineLabel ?? '', 4, y - 3);
    }
    const colors = ['#2f6fdb', '#1f8a4c', '#d68910', '#8e44ad'];
    series.forEach((s, i) => {
      if (s.points.length < 2) return;
      const t0 = s.points[0][0], t1 = s.points[s.points.length - 1][0] || t0 + 1;
      ctx.strokeStyle = colors[i % colors.length]; ctx.lineWidth = 2; ctx.beginPath();
      s.points.forEach(([t, v], j) => { const x = ((t - t0) / Math.max(1, t1 - t0)) * (w - 2 * pad) + pad; const y = h - pad - (v / max) * (h - 2 * pad); j ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
      ctx.stroke();
      ctx.fillStyle = colors[i % colors.length]; ctx.font = '11px sans-serif'; ctx.fillText(s.label, w - 160, 14 + 13 * i);
    });
  }

  async function runJob(name, btn) {
    btn.disabled = true;
    try { await api('/api/jobs/' + encodeURIComponent(name) + '/run', { method: 'POST', headers: { [csrf.dataset.header]: csrf.content } }); } catch (e) { alert(e.message); }
    refresh();
  }

  // the job rows and the runs in progress come from one /api/jobs response: one source of truth
  function renderJobs(jobs) {
    const tbody = $('jobs').tBodies[0];
    tbody.innerHTML = jobs.map((j) => {
      // a stream job has no runs: it runs from the daemon's start, or waits to restart after a failure
      const st = j.run || (j.kind === 'stream' && j.running) ? 'running' : j.kind === 'stream' ? 'restarting' : (j.lastRun ? j.lastRun.status : 'never run');
      return '<tr data-job="' + esc(j.name) + '"><td><b>' + esc(j.name) + '</b></td><td>' + esc(j.kind) + '</td><td class="wrap">' + brk(j.source) + ' → ' + brk(j.destination) + '</td><td class="narrow-wrap">' + esc(j.schedule ?? 'manual') + '</td><td>' + esc(j.window ?? '–') + '</td><td class="wrap">' + esc((j.link ?? '–') + ' / ' + j.lane) + '</td><td class="job-status st-' + esc(st) + '">' + esc(st) + '</td><td class="narrow-wrap">' + when(j.lastRun ? j.lastRun.startedAt : null) + '</td><td class="narrow-wrap">' + when(j.nextRun) + '</td><td class="action">' + (j.kind === 'stream' ? '' : '<button data-run="' + esc(j.name) + '"' + (j.run ? ' disabled' : '') + '>Run now</button>') + '</td></tr>';
    }).join('');
    tbody.querySelectorAll('button[data-run]').forEach((b) => b.addEventListener('click', () => runJob(b.dataset.run, b)));

    const live = jobs.filter((j) => j.run).map((j) => j.run);
    const now = Date.now();
    for (const l of live) {
      const key = l.job + '#' + l.historyId;
      const pts = speeds.get(key) ?? [];
      pts.push([now, l.progress.speed]);
      if (pts.length > 300) pts.shift();
      speeds.set(key, pts);
    }
    $('live').innerHTML = live.length === 0 ? '<span class="muted" id="no-live">no run in progress</span>' : live.map((l) => {
      const p = l.progress; const pct = p.bytesPlanned > 0 ? Math.min(100, (p.bytesDone * 100) / p.bytesPlanned) : 0;
      const head = '<div class="live-run" data-job="' + esc(l.job) + '" data-run="' + l.historyId + '" data-phase="' + esc(l.phase) + '"><b>' + esc(l.job) + '</b> <span class="muted">run ' + l.historyId + ', ' + esc(l.trigger) + ', started ' + when(l.startedAt) + (l.deadline ? ', window ends ' + when(l.deadline) : '') + '</span>';
      if (l.phase === 'preparing') return head + '<div class="bar"><i style="width:0%"></i></div><span class="progress">preparing: connecting to the endpoints, checking TLS and policy</span></div>';
      return head + '<div class="bar"><i style="width:' + pct.toFixed(1) + '%"></i></div>' +
        '<span class="progress">' + bytes(p.bytesDone) + ' / ' + bytes(p.bytesPlanned) + ', ' + p.filesDone + '/' + p.filesPlanned + ' files, ' + bytes(p.speed) + '/s, ETA ' + dur(p.etaMs) + (p.failed ? ', <span class="warning">' + p.failed + ' failed</span>' : '') + '</span></div>';
    }).join('');
    chart($('throughput'), [...speeds.entries()].slice(-4).map(([k, pts]) => ({ label: k.split('#')[0] + ' B/s', points: pts })));
  }

  function renderLinks(links) {
    $('links').innerHTML = links.length === 0 ? '<span class="muted">no links declared</span>' : '<div class="scroll"><table><thead><tr><th>link</th><th>capacity</th><th>throughput</th><th>utilization</th><th></th></tr></thead><tbody>' + links.map((l) =>
      '<tr class="link" data-link="' + esc(l.name) + '"><td class="wrap">' + esc(l.name) + ' <span class="muted">' + esc(l.kind ?? '') + '</span></td><td>' + bits(l.capacityBitsPerSecond) + '</td><td>' + bits(l.bitsPerSecond) + '</td><td style="width:30%"><div class="bar" title="line: ' + Math.round(l.threshold * 100) + '%"><i style="width:' + Math.min(100, l.utilization * 100).toFixed(1) + '%"></i><b style="left:' + (l.threshold * 100) + '%"></b></div></td><td class="wrap">' + (l.utilization * 100).toFixed(0) + '%' + (l.warning ? ' <span class="warning">' + esc(l.warning.message) + '</span>' : '') + '</td></tr>').join('') + '</tbody></table></div>';
    chart($('linkchart'), links.map((l) => ({ label: l.name + ' utilization', points: l.samples.map((s) => [s.t, s.utilization]) })), { max: 1, line: links[0]?.threshold ?? 0.7, lineLabel: Math.round((links[0]?.threshold ?? 0.7) * 100) + '% — plan an upgrade above this' });
  }

  function renderRecent(recent) {
    $('recent').tBodies[0].innerHTML = recent.map((r) => '<tr><td>' + r.id + '</td><td class="wrap">' + esc(r.job) + '</td><td>' + esc(r.trigger) + '</td><td>' + when(r.startedAt) + '</td><td class="st-' + esc(r.status) + '">' + esc(r.status) + '</td><td>' + r.files + '</td><td>' + bytes(r.bytes) + '</td></tr>').join('');
  }

  function renderAudit(records) {
    $('audit').tBodies[0].innerHTML = records === undefined ? '<tr><td colspan="7" class="muted">auditing is disabled in this daemon\\'s config</td></tr>' : records.length === 0 ? '<tr><td colspan="7" class="muted">no audit records yet</td></tr>' : records.map((r) => {
      const denied = r.type === 'denied' || r.decision === 'deny';
      const detail = r.reason ?? r.message ?? (r.bytes !== undefined ? bytes(r.bytes) : '');
      return '<tr class="audit-row' + (denied || r.type === 'link-warning' ? ' warning' : '') + '" data-type="' + esc(r.type) + '"><td>' + r.seq + '</td><td>' + when(r.time) + '</td><td>' + esc(r.type) + '</td><td class="wrap">' + brk(r.key ?? r.link ?? '') + '</td><td>' + esc(r.classification ?? '') + '</td><td class="wrap">' + esc([r.srcEnv, r.dstEnv].filter(Boolean).join(' → ')) + '</td><td class="wrap">' + brk(detail) + '</td></tr>';
    }).join('');
  }

  // the panels of panels/: each polls its endpoint; a 404 shows its empty text
  const h = { esc, brk, bytes, bits, dur, when };
  const panels = [/*panel-scripts*/];
  async function renderPanel(p) {
    const r = await fetch(p.endpoint, { headers });
    if (r.status === 404) { $(p.id).innerHTML = '<span class="muted">' + esc(p.empty) + '</span>'; return; }
    if (!r.ok) throw new Error(p.endpoint + ': HTTP ' + r.status);
    $(p.id).innerHTML = p.render(await r.json(), h);
  }

  async function refresh() {
    try {
      const skips = $('audit-skips').checked;
      const [jobs, runs, links, audit] = await Promise.all([
        api('/api/jobs'), api('/api/runs'), api('/api/links'),
        auditOn ? api('/api/audit?limit=15' + (skips ? '&include=skip' : '')) : Promise.resolve(undefined),
        ...panels.map(renderPanel),
      ]);
      renderJobs(jobs.jobs);
      renderLinks(links.links);
      renderRecent(runs.recent);
      renderAudit(audit?.records);
      $('status').innerHTML = 'updated ' + when(Date.now());
    } catch (e) {
      $('status').textContent = 'error: ' + e.message;
    }
  }
  $('audit-skips').addEventListener('change', refresh);
  refresh();
  setInterval(refresh, 1000);
})();
</script>
</body>
</html>
`;

const PAGE = withPanels(DASHBOARD_HTML, DASHBOARD_PANELS);
