import type { DashboardPanel } from './index.js';

/**
 * The caching gateways the config names (gateways:) — hit ratio, bytes served from the cache
 * and from the cloud, dirty bytes, upload lag, writes pending, held as conflicts or denied —
 * and every dataset's copies with their freshness (the jobs' mirrors, the gateways' caches).
 * Each number's cell carries its raw value in data-value.
 */
export const gatewayPanel: DashboardPanel = {
  id: 'gateway',
  title: 'Caching gateways and dataset copies',
  wide: true,
  endpoint: '/api/gateway',
  empty: 'no gateways: and no datasets: in the config',
  render: `({ gateways, datasets }, h) => {
      if (!gateways.length && !datasets.length) return '<span class="muted">no gateways: and no datasets: in the config</span>';
      const cell = (metric, value, shown) => '<td data-metric="' + metric + '" data-value="' + h.esc(value ?? '') + '">' + shown + '</td>';
      const gw = (g) => {
        if (!g.status) return '<p class="gateway" data-gateway="' + h.esc(g.name) + '"><b>' + h.esc(g.name) + '</b> <span class="warning">' + h.esc(g.error) + '</span></p>';
        const s = g.status, r = s.reads, d = s.dirty;
        return '<div class="gateway" data-gateway="' + h.esc(g.name) + '"><p><b>' + h.esc(g.name) + '</b> bucket ' + h.esc(s.bucket) + ' over <span class="wrap">' + h.brk(s.upstream) + '</span>, cache ' + h.bytes(s.cache.bytes) + ' of ' + h.bytes(s.cache.maxSize) + '</p>' +
          '<div class="scroll"><table><thead><tr><th>hit ratio</th><th>hits</th><th>misses</th><th>from cache</th><th>from cloud</th><th>dirty</th><th>pending</th><th>held conflicts</th><th>denied</th><th>upload lag</th><th>last refresh</th><th>last upload</th></tr></thead><tbody><tr>' +
          cell('hit-ratio', r.hitRatio, r.hitRatio === null ? '–' : (r.hitRatio * 100).toFixed(1) + '%') + cell('hits', r.hits, r.hits) + cell('misses', r.misses, r.misses) +
          cell('bytes-from-cache', r.bytesFromCache, h.bytes(r.bytesFromCache)) + cell('bytes-from-upstream', r.bytesFromUpstream, h.bytes(r.bytesFromUpstream)) +
          cell('dirty-bytes', d.bytes, h.bytes(d.bytes)) + cell('pending', d.pending, d.pending + (d.failing ? ' <span class="warning">(' + d.failing + ' retrying)</span>' : '')) +
          cell('conflicts', d.conflicts, d.conflicts ? '<span class="warning">' + d.conflicts + '</span>' : '0') + cell('denied', d.denied, d.denied) +
          cell('upload-lag', d.uploadLagSeconds, h.dur(d.uploadLagSeconds * 1000)) + cell('last-refresh', s.derivedCopy.lastRefreshAt, h.when(s.derivedCopy.lastRefreshAt)) + cell('last-upload', s.derivedCopy.lastUploadAt, h.when(s.derivedCopy.lastUploadAt)) +
          '</tr></tbody></table></div></div>';
      };
      const copies = (ds) => ds.copies.map((c) => '<tr data-dataset="' + h.esc(ds.name) + '" data-copy="' + h.esc(c.name) + '"><td>' + h.esc(ds.name) + '</td><td>' + h.esc(ds.ssot ?? 'not declared') + '</td><td>' + h.esc(c.kind) + ' ' + h.esc(c.name) + '</td><td class="wrap">' + h.brk(c.location) + '</td><td class="wrap">' + h.brk(c.from) + '</td>' +
        cell('last-sync', c.lastSyncAt, h.when(c.lastSyncAt)) + '<td>' + h.esc(c.lastStatus ?? '–') + '</td>' + cell('not-in-cloud', c.notInCloud, c.notInCloud === null ? '–' : c.notInCloud) + '</tr>').join('');
      const withCopies = datasets.filter((ds) => ds.copies.length > 0);
      return (gateways.length ? gateways.map(gw).join('') : '<p class="muted">no gateways: in the config</p>') +
        '<h3>Dataset copies</h3>' + (withCopies.length ? '<div class="scroll"><table><thead><tr><th>dataset</th><th>source of truth</th><th>copy</th><th>at</th><th>from</th><th>last sync</th><th>status</th><th>not in cloud</th></tr></thead><tbody>' + withCopies.map(copies).join('') + '</tbody></table></div>' : '<p class="muted">no copies of a declared dataset</p>');
    }`,
};
