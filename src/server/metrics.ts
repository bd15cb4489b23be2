/**
 * Prometheus metrics of the daemon (GET /metrics): bytes, files, errors and run durations
 * per job and link, runs by outcome, link capacity, throughput, utilization and warnings.
 * Counters follow the engine's events; gauges are read from the daemon at scrape time.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunSummary, SyncEvent } from '../sync/events.js';
import type { Daemon } from '../ops/daemon.js';
import type { JobRunStatus } from '../ops/history.js';
import type { LiveRun } from '../ops/runner.js';
import type { ClusterProgress } from '../cluster/run-store.js';

/** What a daemon reports of its --cluster-redis: the recent runs and the workers alive. */
export interface ClusterSnapshot {
  readonly runs: readonly ClusterProgress[];
  readonly workersAlive: readonly string[];
}
export type ClusterView = () => Promise<ClusterSnapshot>;

/** GET /api/cluster: whether the daemon reports a cluster, and what it reads (or why it cannot). */
export interface ClusterState extends ClusterSnapshot {
  readonly configured: boolean;
  readonly error?: string;
}
import type { LaneRegistry, LaneSnapshot } from '../stream/stats.js';

export class OpsMetrics {
  readonly registry = new Registry();
  private readonly bytes: Counter<'job' | 'link'>;
  private readonly files: Counter<'job' | 'link'>;
  private readonly errors: Counter<'job' | 'kind'>;
  private readonly runs: Counter<'job' | 'status'>;
  private readonly duration: Histogram<'job'>;
  private readonly warnings: Counter<'link'>;
  private daemon: Daemon | undefined;
  private cluster: ClusterView | undefined;
  /** One Redis read per second at most, shared by the cluster gauges and /api/cluster. */
  private clusterRead: { at: number; state: Promise<ClusterState> } | undefined;
  private lanes: LaneRegistry | undefined;

  constructor() {
    const registers = [this.registry];
    this.bytes = new Counter({ name: 'hybridsync_job_bytes_total', help: 'Bytes transferred by job runs', labelNames: ['job', 'link'], registers });
    this.files = new Counter({ name: 'hybridsync_job_files_total', help: 'Files transferred by job runs', labelNames: ['job', 'link'], registers });
    this.errors = new Counter({ name: 'hybridsync_job_errors_total', help: 'File errors in job runs, by error kind', labelNames: ['job', 'kind'], registers });
    this.runs = new Counter({ name: 'hybridsync_job_runs_total', help: 'Finished job runs by outcome', labelNames: ['job', 'status'], registers });
    this.duration = new Histogram({
      name: 'hybridsync_job_run_duration_seconds',
      help: 'Duration of job runs',
      labelNames: ['job'],
      buckets: [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600],
      registers,
    });
    this.warnings = new Counter({ name: 'hybridsync_link_utilization_warnings_total', help: 'Sustained high-utilization warnings per link', labelNames: ['link'], registers });
    const daemon = (): Daemon | undefined => this.daemon;
    new Gauge({
      name: 'hybridsync_job_running',
      help: '1 while a run of the job is in progress',
      labelNames: ['job'],
      registers,
      collect() {
        for (const j of daemon()?.jobs() ?? []) this.set({ job: j.name }, j.running ? 1 : 0);
      },
    });
    new Gauge({
      name: 'hybridsync_job_next_run_timestamp_seconds',
      help: 'When the job runs next (Unix time)',
      labelNames: ['job'],
      registers,
      collect() {
        for (const j of daemon()?.jobs() ?? []) if (j.nextRun !== null) this.set({ job: j.name }, j.nextRun / 1000);
      },
    });
    const linkGauge = (name: string, help: string, pick: (l: ReturnType<Daemon['links']>[number]) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['link'],
        registers,
        collect() {
          for (const l of daemon()?.links() ?? []) this.set({ link: l.name }, pick(l));
        },
      });
    };
    linkGauge('hybridsync_link_capacity_bits_per_second', 'Declared link capacity', (l) => l.capacityBitsPerSecond);
    linkGauge('hybridsync_link_throughput_bits_per_second', 'Measured link throughput (last sample)', (l) => l.bitsPerSecond);
    linkGauge('hybridsync_link_utilization_ratio', 'Measured throughput / capacity (last sample)', (l) => l.utilization);
    const runs = (): Promise<readonly ClusterProgress[]> => this.clusterRuns();
    const clusterGauge = (name: string, help: string, pick: (p: ClusterProgress) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['run'],
        registers,
        async collect() {
          for (const p of await runs()) this.set({ run: p.runId }, pick(p));
        },
      });
    };
    clusterGauge('hybridsync_cluster_running', '1 while a cluster run is listing, transferring or deleting', (p) => (['listing', 'running', 'deleting'].includes(p.status) ? 1 : 0));
    clusterGauge('hybridsync_cluster_shards', 'Shards of a cluster run enqueued so far', (p) => p.shards);
    clusterGauge('hybridsync_cluster_shards_done', 'Shards of a cluster run done', (p) => p.shardsDone);
    clusterGauge('hybridsync_cluster_files_transferred', 'Files transferred by a cluster run (every shard run)', (p) => p.transferred);
    clusterGauge('hybridsync_cluster_bytes_transferred', 'Bytes transferred by a cluster run (every shard run)', (p) => p.bytes);
    clusterGauge('hybridsync_cluster_files_failed', "Files that failed in shards' last attempts", (p) => p.failed);
    clusterGauge('hybridsync_cluster_source_files', 'Source files the coordinator listed', (p) => p.listed.srcFiles);
    clusterGauge('hybridsync_cluster_deletes_due', 'Deletions parked for the barrier', (p) => p.deletesDue);
    clusterGauge('hybridsync_cluster_deleted', 'Deletions the barrier made', (p) => p.deleted);
    clusterGauge('hybridsync_cluster_workers', 'Workers that completed shards of the run', (p) => p.workers.length);
    clusterGauge('hybridsync_cluster_shards_active', 'Shards of the run running now on live workers', (p) => p.active.length);
    clusterGauge('hybridsync_cluster_shards_failing', 'Shards of the run whose latest attempt failed', (p) => p.failedShards);
    clusterGauge('hybridsync_cluster_rate_bytes_per_second', "Bytes per second over the run's transfer window", (p) => p.rate);
    const clusterState = (): Promise<ClusterState> => this.clusterState();
    new Gauge({
      name: 'hybridsync_cluster_workers_alive',
      help: 'Cluster workers on the Redis whose heartbeat is recent',
      registers,
      async collect() {
        const s = await clusterState();
        if (s.configured && !s.error) this.set(s.workersAlive.length);
      },
    });
    const lanes = (): LaneSnapshot[] => this.streamLanes();
    const laneGauge = (name: string, help: string, pick: (l: LaneSnapshot) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['lane', 'direction'],
        registers,
        collect() {
          this.reset();
          for (const l of lanes()) this.set({ lane: l.lane, direction: l.direction }, pick(l));
        },
      });
    };
    laneGauge('hybridsync_stream_lag_bytes', 'Bytes at the source of a stream lane not yet stored (push) or appended (pull)', (l) => l.lagBytes);
    laneGauge('hybridsync_stream_lag_seconds', 'Age of the oldest byte a stream lane has not yet shipped', (l) => l.lagSeconds);
    laneGauge('hybridsync_stream_throughput_bytes_per_second', 'Bytes a stream lane stored per second over the last minute', (l) => l.bytesPerSecond);
    laneGauge('hybridsync_stream_segments', 'Segments a stream lane committed since it started', (l) => l.segments);
    laneGauge('hybridsync_stream_bytes', 'Bytes a stream lane committed since it started', (l) => l.bytes);
    laneGauge('hybridsync_stream_up', '1 while a stream lane is following its source', (l) => (l.state === 'following' ? 1 : 0));
    linkGauge('hybridsync_link_utilization_warning', '1 while utilization has stayed above the threshold for the configured period', (l) => (l.warning ? 1 : 0));
  }

  attach(daemon: Daemon, lanes?: LaneRegistry): void {
    this.daemon = daemon;
    this.lanes = lanes;
  }

  /** Reports cluster runs (GET /api/cluster, hybridsync_cluster_* gauges). */
  attachCluster(view: ClusterView): void {
    this.cluster = view;
  }

  /** The cluster as /api/cluster shows it: not configured, read, or unreadable (Redis down) with why. */
  clusterState(): Promise<ClusterState> {
    const view = this.cluster;
    if (!view) return Promise.resolve({ configured: false, runs: [], workersAlive: [] });
    if (!this.clusterRead || Date.now() - this.clusterRead.at > 1000) {
      const state = view().then(
        (s): ClusterState => ({ configured: true, ...s }),
        (err: unknown): ClusterState => ({ configured: true, runs: [], workersAlive: [], error: `cannot read the cluster's Redis: ${(err as Error).message}` }),
      );
      this.clusterRead = { at: Date.now(), state };
    }
    return this.clusterRead.state;
  }

  /** Recent cluster runs (none without attachCluster, or when Redis cannot be read). */
  async clusterRuns(): Promise<readonly ClusterProgress[]> {
    return (await this.clusterState()).runs;
  }

  /** The stream lanes of this daemon, live (GET /api/streams, the hybridsync_stream_* gauges). */
  streamLanes(): LaneSnapshot[] {
    return this.lanes?.snapshots() ?? [];
  }

  onEvent(job: string, link: string | undefined, e: SyncEvent): void {
    const labels = { job, link: link ?? '' };
    if (e.type === 'transfer') {
      this.bytes.inc(labels, e.bytesSent);
      this.files.inc(labels);
    } else if (e.type === 'segment' && !e.confirmed) {
      this.bytes.inc(labels, e.bytes);
    } else if (e.type === 'error') {
      this.errors.inc({ job, kind: e.kind });
    }
  }

  onRunEnd(live: LiveRun, status: JobRunStatus, _summary: RunSummary | undefined, now = Date.now()): void {
    this.runs.inc({ job: live.job, status });
    this.duration.observe({ job: live.job }, (now - live.startedAt) / 1000);
  }

  onLinkWarning(link: string): void {
    this.warnings.inc({ link });
  }
}
