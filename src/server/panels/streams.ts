import type { DashboardPanel } from './index.js';

/**
 * The daemon's streaming lanes (`kind: stream` jobs, GET /api/streams): per lane how far
 * behind it is — bytes at the source not yet stored (push) or appended (pull), and how long
 * the oldest of them has waited — its throughput over the last minute, and its last error.
 */
export const streamLanesPanel: DashboardPanel = {
  id: 'streams',
  title: 'Streaming lanes',
  wide: true,
  endpoint: '/api/streams',
  empty: 'no stream job in this daemon',
  render: `({ lanes }, h) => !lanes.length ? '<span class="muted">no stream job in this daemon</span>' :
      '<div class="scroll"><table><thead><tr><th>lane</th><th>direction</th><th>source → destination</th><th>state</th><th>lag</th><th>oldest waiting</th><th>throughput (1 min)</th><th>segments</th><th>shipped</th><th>last commit</th></tr></thead><tbody>' +
      lanes.map((l) => '<tr class="stream-lane" data-lane="' + h.esc(l.lane) + '" data-state="' + h.esc(l.state) + '"><td class="wrap"><b>' + h.esc(l.lane) + '</b></td><td>' + h.esc(l.direction) + '</td><td class="wrap">' + h.brk(l.src) + ' → ' + h.brk(l.dst) + '</td>' +
        '<td class="' + (l.state === 'failed' ? 'st-failed' : l.state === 'following' ? 'st-running' : 'muted') + '">' + h.esc(l.state) + '</td>' +
        '<td class="lag-bytes">' + h.bytes(l.lagBytes) + '</td><td class="lag-seconds">' + l.lagSeconds.toFixed(1) + ' s</td>' +
        '<td class="throughput">' + h.bytes(Math.round(l.bytesPerSecond)) + '/s</td><td>' + l.segments + '</td><td>' + h.bytes(l.bytes) + '</td><td>' + h.when(l.lastCommitAt) + '</td></tr>' +
        (l.error ? '<tr class="stream-lane-error" data-lane="' + h.esc(l.lane) + '"><td></td><td colspan="9" class="wrap warning">' + h.brk(l.error) + '</td></tr>' : '')).join('') +
      '</tbody></table></div>'`,
};
