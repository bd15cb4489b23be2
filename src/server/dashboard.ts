/**
 * The web dashboard: one self-contained page (no build step, no CDN) that polls the API
 * every second. Jobs with status and next run, live runs with progress and a throughput
 * chart, link utilization against the warning line, recent runs, and the bandwidth plan.
 * With a token, open it as /#token=... once; the page keeps it for the session. The page
 * carries the daemon's per-process CSRF token (same-origin.ts) and sends it on its POSTs.
 */
import { CSRF_HEADER } from './same-origin.js';

/** The page, with the daemon's CSRF token embedded (base64url: nothing to escape). */
export function dashboardHtml(csrfToken: string): string {
  if (!/^[\w-]+$/.test(csrfToken)) throw new RangeError('the CSRF token must be base64url');
  return DASHBOARD_HTML.replace('<meta name="hybridsync-csrf">', `<meta name="hybridsync-csrf" data-header="${CSRF_HEADER}" content="${csrfToken}">`);
}

const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="hybridsync-csrf">
<title>hybridsync</title>
<style>
  :root { --fg:#1d2433; --muted:#6b7385; --line:#e3e6ec; --ok:#1f8a4c; --bad:#c0392b; --warn:#d68910; --accent:#2f6fdb; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0; background: #f6f7f9; }
  header { background: #1d2433; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: #aab; font-size: 12px; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px 4px 0; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { font-weight: 600; color: var(--muted); font-size: 12px; }
  .st-ok { color: var(--ok); } .st-failed, .st-interrupted { color: var(--bad); } .st-running { color: var(--accent); } .st-window-end, .st-stopped, .st-denied { color: var(--warn); }
  button { font: inherit; padding: 2px 10px; border: 1px solid var(--accent); color: var(--accent); background: #fff; border-radius: 4px; cursor: pointer; }
  button:disabled { opacity: .4; cursor: default; }
  .bar { height: 14px; background: #edf0f5; border-radius: 3px; position: relative; overflow: hidden; min-width: 160px; }
  .bar > i { display: block; height: 100%; background: var(--accent); }
  .bar > b { position: absolute; top: 0; bottom: 0; width: 2px; background: var(--bad); }
  .muted { color: var(--muted); }
  .warning { color: var(--bad); font-weight: 600; }
  canvas { width: 100%; height: 140px; display: block; }
  pre { margin: 0; white-space: pre-wrap; }
</style>
</head>
<body>
<header><h1>hybridsync</h1><span id="status">connecting…</span></header>
<main>
  <section class="wide"><h2>Jobs</h2><table id="jobs"><thead><tr><th>job</th><th>kind</th><th>source → destination</th><th>schedule</th><th>window</th><th>link / lane</th><th>status</th><th>next run</th><th></th></tr></thead><tbody></tbody></table></section>
  <section><h2>Live runs</h2><div id="live" class="muted">no run in progress</div><canvas id="throughput" width="600" height="140" aria-label="throughput chart"></canvas></section>
  <section><h2>Links</h2><div id="links" class="muted">no links declared</div><canvas id="linkchart" width="600" height="140" aria-label="link utilization chart"></canvas></section>
  <section><h2>Recent runs</h2><table id="recent"><thead><tr><th>#</th><th>job</th><th>trigger</th><th>started</th><th>status</th><th>files</th><th>bytes</th></tr></thead><tbody></tbody></table></section>
  <section class="wide"><h2>Audit trail <span class="muted">(newest first; denials highlighted)</span></h2><table id="audit"><thead><tr><th>#</th><th>time</th><th>event</th><th>file / subject</th><th>classification</th><th>environments</th><th>detail</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Bandwidth plan</h2><div id="plan" class="muted">no scheduled job with a volume or history yet</div></section>
</main>
<script>
(() => {
  const m = /token=([^&]+)/.exec(location.hash);
  if (m) { sessionStorage.setItem('hybridsync-token', decodeURIComponent(m[1])); history.replaceState(null, '', location.pathname); }
  const token = sessionStorage.getItem('hybridsync-token');
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const csrf = document.querySelector('meta[name="hybridsync-csrf"]');
  const api = (path, init = {}) => fetch(path, { ...init, headers: { ...headers, ...init.headers } }).then((r) => { if (!r.ok) throw new Error(path + ': HTTP ' + r.status); return r.json(); });
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const bytes = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + ' ' + u[i]; };
  const bits = (n) => { const u = [[1e12, 'Tbps'], [1e9, 'Gbps'], [1e6, 'Mbps'], [1e3, 'kbps']]; for (const [f, s] of u) if (n >= f) return (n / f).toFixed(n / f >= 10 ? 1 : 2) + ' ' + s; return Math.round(n) + ' bps'; };
  const when = (t) => t ? new Date(t).toLocaleString() : '–';
  const dur = (ms) => { if (!isFinite(ms)) return '–'; const s = Math.round(ms / 1000); return s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' + (s % 60) + 's' : Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm'; };
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

  async function refresh() {
    try {
      const [jobs, runs, links, plan] = await Promise.all([api('/api/jobs'), api('/api/runs'), api('/api/links'), api('/api/plan')]);
      $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
      const tbody = $('jobs').tBodies[0];
      tbody.innerHTML = jobs.jobs.map((j) => {
        const st = j.running ? 'running' : (j.lastRun ? j.lastRun.status : 'never run');
        return '<tr data-job="' + esc(j.name) + '"><td><b>' + esc(j.name) + '</b></td><td>' + esc(j.kind) + '</td><td>' + esc(j.source) + ' → ' + esc(j.destination) + '</td><td>' + esc(j.schedule ?? 'manual') + '</td><td>' + esc(j.window ?? '–') + '</td><td>' + esc((j.link ?? '–') + ' / ' + j.lane) + '</td><td class="job-status st-' + esc(st) + '">' + esc(st) + '</td><td>' + when(j.nextRun) + '</td><td><button data-run="' + esc(j.name) + '"' + (j.running ? ' disabled' : '') + '>Run now</button></td></tr>';
      }).join('');
      tbody.querySelectorAll('button[data-run]').forEach((b) => b.addEventListener('click', () => runJob(b.dataset.run, b)));

      const now = Date.now();
      for (const l of runs.live) {
        const key = l.job + '#' + l.historyId;
        const pts = speeds.get(key) ?? [];
        pts.push([now, l.progress.speed]);
        if (pts.length > 300) pts.shift();
        speeds.set(key, pts);
      }
      $('live').innerHTML = runs.live.length === 0 ? '<span class="muted">no run in progress</span>' : runs.live.map((l) => {
        const p = l.progress; const pct = p.bytesPlanned > 0 ? Math.min(100, (p.bytesDone * 100) / p.bytesPlanned) : 0;
        return '<div class="live-run" data-job="' + esc(l.job) + '"><b>' + esc(l.job) + '</b> <span class="muted">' + esc(l.trigger) + (l.deadline ? ', window ends ' + when(l.deadline) : '') + '</span>' +
          '<div class="bar"><i style="width:' + pct.toFixed(1) + '%"></i></div>' +
          '<span class="progress">' + bytes(p.bytesDone) + ' / ' + bytes(p.bytesPlanned) + ', ' + p.filesDone + '/' + p.filesPlanned + ' files, ' + bytes(p.speed) + '/s, ETA ' + dur(p.etaMs) + (p.failed ? ', <span class="warning">' + p.failed + ' failed</span>' : '') + '</span></div>';
      }).join('');
      chart($('throughput'), [...speeds.entries()].slice(-4).map(([k, pts]) => ({ label: k.split('#')[0] + ' B/s', points: pts })));

      $('links').innerHTML = links.links.length === 0 ? '<span class="muted">no links declared</span>' : '<table><thead><tr><th>link</th><th>capacity</th><th>throughput</th><th>utilization</th><th></th></tr></thead><tbody>' + links.links.map((l) =>
        '<tr class="link" data-link="' + esc(l.name) + '"><td>' + esc(l.name) + ' <span class="muted">' + esc(l.kind ?? '') + '</span></td><td>' + bits(l.capacityBitsPerSecond) + '</td><td>' + bits(l.bitsPerSecond) + '</td><td><div class="bar" title="line: ' + Math.round(l.threshold * 100) + '%"><i style="width:' + Math.min(100, l.utilization * 100).toFixed(1) + '%"></i><b style="left:' + (l.threshold * 100) + '%"></b></div></td><td>' + (l.utilization * 100).toFixed(0) + '%' + (l.warning ? ' <span class="warning">' + esc(l.warning.message) + '</span>' : '') + '</td></tr>').join('') + '</tbody></table>';
      chart($('linkchart'), links.links.map((l) => ({ label: l.name + ' utilization', points: l.samples.map((s) => [s.t, s.utilization]) })), { max: 1, line: links.links[0]?.threshold ?? 0.7, lineLabel: Math.round((links.links[0]?.threshold ?? 0.7) * 100) + '% — plan an upgrade above this' });

      $('recent').tBodies[0].innerHTML = runs.recent.map((r) => '<tr><td>' + r.id + '</td><td>' + esc(r.job) + '</td><td>' + esc(r.trigger) + '</td><td>' + when(r.startedAt) + '</td><td class="st-' + esc(r.status) + '">' + esc(r.status) + '</td><td>' + r.files + '</td><td>' + bytes(r.bytes) + '</td></tr>').join('');

      const audit = await api('/api/audit?limit=15').catch(() => ({ records: [] }));
      $('audit').tBodies[0].innerHTML = audit.records.length === 0 ? '<tr><td colspan="7" class="muted">no audit records yet</td></tr>' : audit.records.map((r) => {
        const denied = r.type === 'denied' || r.decision === 'deny';
        const detail = r.reason ?? r.message ?? (r.bytes !== undefined ? bytes(r.bytes) : '');
        return '<tr class="audit-row' + (denied || r.type === 'link-warning' ? ' warning' : '') + '" data-type="' + esc(r.type) + '"><td>' + r.seq + '</td><td>' + esc(String(r.time).replace('T', ' ').slice(0, 19)) + '</td><td>' + esc(r.type) + '</td><td>' + esc(r.key ?? r.link ?? '') + '</td><td>' + esc(r.classification ?? '') + '</td><td>' + esc([r.srcEnv, r.dstEnv].filter(Boolean).join(' → ')) + '</td><td>' + esc(String(detail)) + '</td></tr>';
      }).join('');

      const p = plan.plan;
      $('plan').innerHTML = !p ? '<span class="muted">no scheduled job with a volume or history yet</span>' :
        '<table><thead><tr><th>job</th><th>volume</th><th>every</th><th>window</th><th>required</th></tr></thead><tbody>' + p.workloads.map((w) => '<tr><td>' + esc(w.name) + '</td><td>' + (w.volumeBytes / 1e12).toFixed(2) + ' TB</td><td>' + dur(w.everyMs) + '</td><td>' + dur(w.windowMs) + '</td><td>' + bits(w.requiredBitsPerSecond) + '</td></tr>').join('') + '</tbody></table>' +
        '<p>peak <b>' + bits(p.peakBitsPerSecond) + '</b>; recommended link <b id="plan-recommended">' + bits(p.recommendedBitsPerSecond) + '</b> (+' + Math.round(p.headroom * 100) + '% headroom)' + (p.recommendedOptions.length ? ': ' + esc(p.recommendedOptions.join('; ')) : '') + '</p>' +
        p.workloads.filter((w) => w.seed).map((w) => '<p>' + esc(w.name) + ' seed: ' + esc(w.seed.advice) + '</p>').join('');
    } catch (e) {
      $('status').textContent = 'error: ' + e.message;
    }
  }
  refresh();
  setInterval(refresh, 1000);
})();
</script>
</body>
</html>
`;
