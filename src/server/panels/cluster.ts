import type { DashboardPanel } from './index.js';

/**
 * Cluster runs on the daemon's --cluster-redis (GET /api/cluster): per run its shards done
 * of those enqueued, files and bytes against what the coordinator listed, the rate over the
 * transfer window, the workers on it now, failed shards and the deletion barrier's state;
 * above them, how many workers are alive on that Redis.
 */
export const clusterPanel: DashboardPanel = {
  id: 'cluster',
  title: 'Cluster runs',
  wide: true,
  endpoint: '/api/cluster',
  empty: 'not connected to a cluster: start the daemon with --cluster-redis URL',
  render: `(s, h) => {
    if (!s.configured) return '<span class="muted">not connected to a cluster: start the daemon with --cluster-redis URL</span>';
    if (s.error) return '<span class="warning" id="cluster-error">' + h.esc(s.error) + '</span>';
    const head = '<p><b id="cluster-alive">' + s.workersAlive.length + '</b> worker(s) alive' + (s.workersAlive.length ? ': ' + h.esc(s.workersAlive.join(', ')) : '') + '</p>';
    if (!s.runs.length) return head + '<span class="muted">no cluster runs on this Redis yet</span>';
    const st = { done: 'ok', failed: 'failed', cancelled: 'interrupted', listing: 'running', running: 'running', deleting: 'running' };
    const barrier = (p) => p.mode === 'copy' ? 'none (copy)' : ({ waiting: 'waiting for ' + Math.max(0, p.shards - p.shardsDone) + ' shard(s)' + (p.status === 'listing' ? ' and the listing' : ''), deleting: 'deleting ' + p.deleted + '/' + p.deletesDue, done: 'done: ' + p.deleted + '/' + p.deletesDue + ' deleted', refused: 'refused by --max-delete: nothing deleted', failed: 'failed: ' + p.deleted + '/' + p.deletesDue + ' deleted', 'not-run': 'not run: nothing deleted' })[p.barrier];
    const row = (p) => {
      const pct = p.shards > 0 ? Math.min(100, (p.shardsDone * 100) / p.shards) : 0;
      const workers = new Set(p.active.map((a) => a.worker));
      return '<tr class="cluster-run" data-run="' + h.esc(p.runId) + '" data-status="' + h.esc(p.status) + '" data-barrier="' + h.esc(p.barrier) + '">' +
        '<td class="wrap"><b>' + h.esc(p.runId) + '</b> <span class="muted">' + h.esc(p.mode) + (p.dryRun ? ' (dry run)' : '') + ', lane ' + h.esc(p.lane) + (p.link ? ' on ' + h.esc(p.link.name) + ' (' + h.bits(p.link.bytesPerSecond * 8) + ')' : '') + ', started ' + h.when(p.createdAt) + '</span><br>' + h.brk(p.src) + ' → ' + h.brk(p.dst) + (p.message ? '<br><span class="warning">' + h.esc(p.message) + '</span>' : '') + '</td>' +
        '<td class="st-' + (st[p.status] || 'running') + '">' + h.esc(p.status) + '</td>' +
        '<td class="shards" style="min-width:120px"><span class="shards-done">' + p.shardsDone + '</span>/<span class="shards-total">' + p.shards + '</span>' + (p.status === 'listing' ? '+' : '') + '<div class="bar"><i style="width:' + pct.toFixed(1) + '%"></i></div></td>' +
        '<td class="files"><span class="files-done">' + p.transferred + '</span> sent, ' + p.skipped + ' unchanged<br><span class="muted">of ' + p.listed.srcFiles + ' listed</span></td>' +
        '<td class="bytes">' + h.bytes(p.bytes) + '<br><span class="muted">of ' + h.bytes(p.listed.srcBytes) + '</span></td>' +
        '<td class="rate">' + (p.rate > 0 ? h.bytes(p.rate) + '/s' : '–') + '</td>' +
        '<td class="workers"><span class="workers-active">' + workers.size + '</span> on ' + p.active.length + ' shard(s)<br><span class="muted">' + p.workers.length + ' took part</span></td>' +
        '<td class="failed wrap' + (p.failedShards ? ' warning' : '') + '"><span class="failed-shards">' + p.failedShards + '</span>' + (p.failed ? ' (' + p.failed + (p.failed === 1 ? ' file' : ' files') + ')' : '') + (p.firstFailure && p.status !== 'failed' ? '<br><span class="muted">' + h.esc(p.firstFailure.error) + '</span>' : '') + '</td>' +
        '<td class="barrier wrap">' + h.esc(barrier(p)) + '</td></tr>';
    };
    return head + '<div class="scroll"><table><thead><tr><th>run</th><th>status</th><th>shards</th><th>files</th><th>bytes</th><th>rate</th><th>workers now</th><th>failed shards</th><th>deletions</th></tr></thead><tbody>' + s.runs.map(row).join('') + '</tbody></table></div>';
  }`,
};
