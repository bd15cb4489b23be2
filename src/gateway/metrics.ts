/** Prometheus metrics of the gateway (GET /_hybridsync/metrics), read from its counters at scrape time. */
import { Gauge, Registry } from 'prom-client';
import type { GatewayCore } from './gateway.js';
import type { WriteBack } from './writeback.js';

export function gatewayMetrics(core: GatewayCore, wb: WriteBack): Registry {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };
  const c = core.counters;
  gauge('hybridsync_gateway_cache_hits_total', 'GETs served entirely from the local cache', () => c.hits);
  gauge('hybridsync_gateway_cache_misses_total', 'GETs that needed bytes from the upstream', () => c.misses);
  gauge('hybridsync_gateway_bytes_from_cache_total', 'Bytes served from the local cache', () => c.bytesFromCache);
  gauge('hybridsync_gateway_bytes_from_upstream_total', 'Bytes read from the upstream', () => c.bytesFromUpstream);
  gauge('hybridsync_gateway_upstream_reads_total', 'Read requests sent to the upstream', () => c.upstreamReads);
  gauge('hybridsync_gateway_evictions_total', 'Objects evicted from the cache', () => c.evictions);
  gauge('hybridsync_gateway_refused_writes_total', 'Writes refused because the dirty-space limit was reached', () => c.refusedWrites);
  gauge('hybridsync_gateway_policy_denied_writes_total', 'Writes the policy denied when they were made (AccessDenied)', () => c.deniedWrites);
  gauge('hybridsync_gateway_cached_bytes', 'Bytes held in the cache (clean and dirty)', () => core.index.cachedBytes());
  gauge('hybridsync_gateway_dirty_bytes', 'Bytes written locally and not yet in the cloud', () => core.index.journalStats().dirtyBytes);
  gauge('hybridsync_gateway_pending_writes', 'Journal entries waiting for upload', () => core.index.journalStats().pending);
  gauge('hybridsync_gateway_denied_writes', 'Local writes the policy keeps from the cloud', () => core.index.journalStats().denied);
  gauge('hybridsync_gateway_upload_lag_seconds', 'Age of the oldest write not yet in the cloud', () => {
    const o = core.index.journalStats().oldestMs;
    return o === null ? 0 : (Date.now() - o) / 1000;
  });
  gauge('hybridsync_gateway_uploaded_files_total', 'Files the write-back put in the cloud', () => wb.counters.uploadedFiles);
  gauge('hybridsync_gateway_uploaded_bytes_total', 'Bytes the write-back put in the cloud', () => wb.counters.uploadedBytes);
  gauge('hybridsync_gateway_upload_failures_total', 'Failed upload attempts (retried)', () => wb.counters.failures);
  gauge('hybridsync_gateway_conflicts_held', 'Writes held because the cloud changed meanwhile and no source of truth decides', () => core.index.journalStats().conflicts);
  gauge('hybridsync_gateway_conflicts_total', 'Conflicts with the cloud found at upload time (any outcome)', () => Object.values(core.index.conflictCounts()).reduce((a, b) => a + b, 0));
  gauge('hybridsync_gateway_cache_hit_ratio', 'Hits over hits and misses since the start (0 before the first read)', () => (c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : 0));
  return registry;
}
