/**
 * `hybridsync daemon`: runs the jobs' schedules, governs the links and serves the HTTP API,
 * metrics and dashboard. SIGTERM/SIGINT: no new runs, running ones stop cleanly (files in
 * flight finished, multipart uploads journaled for the next run), then exit 0.
 */
import { Command } from 'commander';
import { gatewaysAndCopies } from '../api/datasets.js';
import { streamPull, streamPush } from '../api/stream.js';
import { openLocation } from '../api/transfer.js';
import { LaneRegistry } from '../stream/stats.js';
import type { AuditLog } from '../governance/audit/log.js';
import { auditPaths, openAuditLog } from '../governance/audit/setup.js';
import { compileClassification } from '../governance/classify/rules.js';
import { Daemon } from '../ops/daemon.js';
import { formatInstant } from '../ops/format.js';
import { jobStreamRequest, loadOperations } from '../ops/jobs.js';
import { parseListen } from '../server/api.js';
import { auditFeed } from '../server/audit-feed.js';
import { startServer } from '../server/index.js';
import { OpsMetrics } from '../server/metrics.js';
import { processSignal, reportError } from './context.js';
import { EXIT } from './exit.js';
import { jobPreparer } from './job.js';

interface DaemonFlags {
  config?: string;
  state?: string;
  listen?: string;
  clusterRedis?: string;
  monitorInterval?: string;
}

const log = (m: string): void => void process.stderr.write(`${formatInstant(Date.now(), undefined, { seconds: true })} ${m}\n`);

export function daemonCommand(): Command {
  return new Command('daemon')
    .description('run the job schedules, link governors and monitor, and serve the HTTP API and dashboard')
    .option('--config <file>', 'config file (default ./hybridsync.yaml or HYBRIDSYNC_CONFIG)')
    .option('--state <file>', 'state database')
    .option('--listen <host:port>', 'address of the API and dashboard (default server.listen, 127.0.0.1:8787)')
    .option('--monitor-interval <seconds>', 'link utilization sample interval', '5')
    .option('--cluster-redis <url>', 'report the progress of cluster runs on this Redis (/api/cluster, /metrics)')
    .action(async (f: DaemonFlags) => {
      let daemon: Daemon | undefined;
      let auditLog: AuditLog | undefined;
      try {
        const ops = loadOperations(f.config, f.state);
        const server = ops.config.server ?? { listen: '127.0.0.1:8787', tokenEnv: 'HYBRIDSYNC_API_TOKEN' };
        const { host, port } = parseListen(f.listen ?? server.listen);
        const token = process.env[server.tokenEnv] || undefined;
        const metrics = new OpsMetrics();
        const lanes = new LaneRegistry();
        // the audit trail: link warnings are written to it, the API and dashboard read it
        const auditFile = auditPaths(ops.config.audit, ops.statePath).file;
        const audit = openAuditLog({ cfg: ops.config.audit, statePath: ops.statePath, openMirror: (uri) => openLocation(uri, { config: ops.file }), onWarning: (m) => log(`WARNING ${m}`) });
        auditLog = audit?.log;
        const feed = auditFeed(auditFile, compileClassification(ops.config.classification).scale);
        daemon = new Daemon({
          ops,
          prepare: jobPreparer(ops, { progress: false }),
          log,
          monitorSampleMs: Math.max(1, Number(f.monitorInterval) || 5) * 1000,
          onEvent: (job, link, e) => metrics.onEvent(job, link, e),
          onRunEnd: (live, status, summary) => metrics.onRunEnd(live, status, summary),
          runStream: async (job, signal, pacer) => {
            const { direction, src, dst, ...req } = jobStreamRequest(ops, job);
            const run = direction === 'push' ? streamPush : streamPull;
            await run(src, dst, { ...req, signal, lanes, ...(pacer ? { pacer } : {}), onEvent: (e) => metrics.onEvent(job.name, job.link, e) });
          },
          onLinkWarning: (w) => {
            metrics.onLinkWarning(w.link);
            audit?.log.append({ type: 'link-warning', link: w.link, utilization: w.utilization, threshold: w.threshold, since: new Date(w.since).toISOString(), message: w.message });
          },
        });
        metrics.attach(daemon, lanes);
        if (f.clusterRedis) {
          const { clusterMonitor } = await import('../api/cluster.js');
          const monitor = await clusterMonitor(f.clusterRedis);
          metrics.attachCluster(() => monitor.snapshot());
          processSignal.addEventListener('abort', () => monitor.close(), { once: true });
        }
        const gateways = ops.config.gateways?.length || ops.config.datasets ? gatewaysAndCopies({ file: ops.file, gateways: ops.config.gateways ?? [], jobs: ops.jobs, runsOf: (j) => daemon!.history.list(j, 20) }) : undefined;
        const http = await startServer({ daemon, metrics, host, port, audit: feed, ...(token ? { token } : {}), ...(server.allowedHosts ? { allowedHosts: server.allowedHosts } : {}), ...(gateways ? { gateways } : {}) });
        daemon.start();
        log(`hybridsync daemon: ${ops.jobs.length} job(s), ${ops.links.length} link(s); API and dashboard on ${http.url}/${token ? ' (bearer token required)' : ''}`);
        for (const j of daemon.jobs()) log(`${j.name}: next run ${j.nextRun ? formatInstant(j.nextRun, j.timezone) : 'when triggered'}`);
        await new Promise<void>((resolve) => {
          if (processSignal.aborted) resolve();
          processSignal.addEventListener('abort', () => resolve(), { once: true });
        });
        log('stopping: no new runs; running ones finish files in flight and journal the rest');
        await daemon.stop(processSignal.reason instanceof Error ? processSignal.reason : undefined);
        await http.close();
        await auditLog?.close();
        log('stopped');
        process.exitCode = EXIT.ok;
      } catch (err) {
        await daemon?.stop().catch(() => undefined);
        await auditLog?.close().catch(() => undefined);
        process.exitCode = reportError(err);
      }
    });
}
