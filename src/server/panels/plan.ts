import type { DashboardPanel } from './index.js';

/** The bandwidth plan of the scheduled jobs: peak, headroom, seeding advice. */
export const bandwidthPlanPanel: DashboardPanel = {
  id: 'plan',
  title: 'Bandwidth plan',
  endpoint: '/api/plan',
  empty: 'no scheduled job with a volume or history yet',
  render: `({ plan: p }, h) => !p ? '<span class="muted">no scheduled job with a volume or history yet</span>' :
      '<div class="scroll"><table><thead><tr><th>job</th><th>volume</th><th>every</th><th>window</th><th>required</th></tr></thead><tbody>' + p.workloads.map((w) => '<tr><td class="wrap">' + h.esc(w.name) + '</td><td>' + (w.volumeBytes / 1e12).toFixed(2) + ' TB</td><td>' + h.dur(w.everyMs) + '</td><td>' + h.dur(w.windowMs) + '</td><td>' + h.bits(w.requiredBitsPerSecond) + '</td></tr>').join('') + '</tbody></table></div>' +
      '<p>peak <b>' + h.bits(p.peakBitsPerSecond) + '</b>; recommended link <b id="plan-recommended">' + h.bits(p.recommendedBitsPerSecond) + '</b> (+' + Math.round(p.headroom * 100) + '% headroom)' + (p.recommendedOptions.length ? ': ' + h.esc(p.recommendedOptions.join('; ')) : '') + '</p>' +
      p.workloads.filter((w) => w.seed).map((w) => '<p>' + h.esc(w.name) + ' seed: ' + h.esc(w.seed.advice) + '</p>').join('')`,
};
