/**
 * hybridsync as a library:
 *
 *   import { sync, copy, check, openLocation, loadConfig } from 'hybridsync';
 *   const summary = await sync('onprem:training/v3', 'cloud:ml-data/training/v3', {
 *     options: { transfers: 16, checksum: true },
 *     onEvent: (e) => console.log(JSON.stringify(e)),
 *   });
 *
 * Locations are `REMOTE:bucket/prefix` (remotes from hybridsync.yaml or
 * HYBRIDSYNC_REMOTE_<NAME>_<KEY>), `s3://bucket/prefix`, `az://container/prefix`, a local
 * path or `file:///path`. Options are the CLI's (camelCase, typed or as strings, same
 * defaults). Errors are the typed errors below; each carries a `hint` and whether a retry
 * may help.
 */
export { sync, copy, check, transfer, prepareTransfer, openLocation, describeLocation } from './api/transfer.js';
export type { RunContext, TransferRequest, TransferCall, PreparedTransfer } from './api/transfer.js';
export { createSnapshot, listSnapshots, verifySnapshot, pushModel, listModels, verifyModel, promoteModel, lineageOf, modelsTrainedOn } from './api/lineage.js';
export type { LineageContext, SnapshotInfo, ModelInfo, PushResult, PromoteResult, VerifyReport, Lineage, Listed } from './api/lineage.js';
export { clusterRun, clusterWorker, clusterStatus } from './api/cluster.js';
export type { ClusterRunRequest, ClusterWorkerRequest, ClusterProgress, ShardResult, Shard } from './api/cluster.js';
export { seedExport, seedVerify, adoptInto } from './api/seed.js';
export type { SeedExportRequest, SeedExportResult, SeedVerifyResult, AdoptRequest, AdoptSummary, AdoptEvent } from './api/seed.js';
export { bisync, prepareBisync, type BisyncRequest, type PreparedBisync, type BisyncEvent, type BisyncSummary } from './api/bisync.js';
export { watchBisync, type WatchRequest } from './bisync/watch.js';
export { runBisync, type BisyncRunOptions } from './bisync/run.js';
export { streamPush, streamPull, streamStatus, type StreamRequest, type StreamSummary, type LaneStatus } from './api/stream.js';
export { resolveStreamOptions, STREAM_OPTIONS, type StreamOptions } from './config/stream.js';
export { startGateway, gatewayAdmin } from './api/gateway.js';
export type { GatewayOptions, RunningGateway, GatewayStatus, GatewayAdmin, FlushResult } from './api/gateway.js';
export { applyTiering, type TierRequest, type TierEvent, type TierSummary } from './api/tier.js';
export { loadConfig, type LoadedConfig } from './config/load.js';
export { RemoteSet, type RemoteConfig } from './config/remotes.js';
export { TRANSFER_DEFAULTS, TRANSFER_OPTIONS, resolveTransferOptions, type TransferOptions, type DeleteLimit, type Mode, type Compare } from './config/options.js';
export type { RunSummary, SyncEvent, StreamEvent } from './sync/events.js';
export { runSync, type RunOptions } from './sync/execute.js';
export { StateDb } from './sync/state.js';
export type { Backend, Features, ChunkWriter, ChunkedUpload, Tierer, ArchiveState, RestoreRequest, RestoreAnswer } from './core/backend.js';
export type { Entry, WriteMeta, WriteResult } from './core/entry.js';
export type { Location } from './core/location.js';
export * from './core/errors.js';
