/**
 * The demo: what hybridsync does on an embedded default, with no account and no server.
 * It generates a small hybrid-AI tree as the "on-prem" side (training shards, a model
 * checkpoint, experiment metadata, a feature extract, an inference request log with
 * personal data, a restricted patient table), writes a governance config for it
 * (hybridsync.yaml: environments onprem and cloud, a classification, a policy), and then
 *
 * 1. syncs on-prem → "cloud" (a local directory, or any destination): the policy denies the
 *    restricted table, and the request log reaches the cloud PII-scrubbed;
 * 2. verifies the audit trail and writes the HTML compliance report;
 * 3. edits one file in place (same size) and syncs again: only that file moves;
 * 4. checks both sides by content: the scrubbed extract against the source version it was
 *    made from, the denied file reported as denied (absent, as the policy requires).
 *
 * Each step is reported through `onStep` as data; the CLI prints it. The transfers go
 * through the same composition root as `hybridsync sync` (an injected `run`, so the CLI can
 * show its progress and summaries). `ok` says whether everything behaved as designed —
 * the denial is part of the design, not a failure.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { readAuditRecords } from '../governance/audit/export.js';
import { ReportAggregator } from '../governance/audit/report.js';
import { auditPaths } from '../governance/audit/setup.js';
import { verifyAuditLog, type VerifyResult } from '../governance/audit/verify.js';
import { compileClassification } from '../governance/classify/rules.js';
import type { RunSummary, SyncEvent } from '../sync/events.js';
import { openLocation, transfer, type RunContext, type TransferRequest } from './transfer.js';

/** The file the policy keeps on-prem. */
export const DEMO_RESTRICTED = 'restricted/patients.csv';
/** The inference request log that may go to the cloud only PII-scrubbed. */
export const DEMO_EXTRACT = 'features/inference/requests-2026-11-22.csv';
/** The file edited in place between the two syncs. */
export const DEMO_EDITED = 'experiments/exp-001/metrics.json';
/** Columns of the extract that hold personal data; the others reach the cloud unchanged. */
export const DEMO_PII_COLUMNS = ['email', 'phone'] as const;

export interface DemoRequest extends Pick<RunContext, 's3' | 'endpoint' | 'signal'> {
  /** Working directory: onprem/, cloud/, hybridsync.yaml, state.db, audit/, audit-report.html. */
  readonly dir: string;
  /** Destination instead of DIR/cloud (s3://bucket/prefix, az://…, REMOTE:…, a path). */
  readonly dst?: string;
  /** Runs one transfer of the demo (default: transfer(), without output). */
  readonly run?: (req: TransferRequest) => Promise<RunSummary>;
  readonly onStep?: (step: DemoStep) => void;
}

export type DemoStep =
  | { step: 'generated'; onprem: string; files: number; bytes: number }
  | { step: 'config'; file: string; policy: string[] }
  | { step: 'sync'; pass: 1 | 2; src: string; dst: string }
  | { step: 'synced'; pass: 1 | 2; summary: RunSummary; denied: Array<{ key: string; classification: string; reason: string }> }
  | { step: 'kept-on-prem'; key: string; absentAtDestination: boolean; dst: string }
  | { step: 'scrubbed'; key: string; before: string; after: string; counts: Record<string, number>; piiLeft: number; otherColumnsIdentical: boolean }
  | { step: 'verified'; result: VerifyResult }
  | { step: 'report'; file: string; mentionsDenial: boolean }
  | { step: 'edited'; key: string }
  | { step: 'check' }
  | { step: 'checked'; summary: RunSummary };

export interface DemoResult {
  /** Everything behaved as designed: one denial (the restricted file), scrubbed extract, verified trail, one file moved, no differences. */
  readonly ok: boolean;
  /** What did not behave as designed (empty when ok). */
  readonly problems: string[];
  readonly onprem: string;
  readonly configFile: string;
  readonly statePath: string;
  readonly auditLog: string;
  readonly reportFile: string;
  readonly dst: string;
  /** The last run's summary that was not as designed, for the exit code. */
  readonly failedRun?: RunSummary;
}

/** Deterministic pseudo-random bytes (so reruns generate the same tree): one SHAKE256 output. */
function bytes(seed: string, n: number): Buffer {
  return createHash('shake256', { outputLength: n }).update(seed).digest();
}

/** The personal data planted in the inference log: none of it may reach the cloud. */
export function demoPlantedPii(): string[] {
  return demoRequests().flatMap((r) => [r.email, r.phone]);
}

function demoRequests(): Array<{ id: string; ts: string; email: string; phone: string; a: string; b: string; score: string }> {
  const first = ['ana', 'bo', 'chidi', 'dana', 'emil', 'fatima', 'goran', 'hana'];
  const last = ['lopez', 'chen', 'okafor', 'novak', 'schmidt', 'haddad', 'petrov', 'sato'];
  const phones = ['+1 415 555 0100', '+1 212 555 0147', '+49 30 901820', '+44 20 7946 0958', '(415) 555-0199', '+1 646 555 0123', '+49 89 2314567', '+33 1 42 68 53 00'];
  return Array.from({ length: 40 }, (_, i) => ({
    id: `req-${String(i + 1).padStart(6, '0')}`,
    ts: `2026-11-22T10:${String(Math.floor(i / 6)).padStart(2, '0')}:${String((i * 7) % 60).padStart(2, '0')}Z`,
    email: `${first[i % 8]}.${last[(i * 3) % 8]}${i}@example.com`,
    phone: phones[i % 8]!,
    a: ((i * 37) % 100 / 100).toFixed(2),
    b: String((i * 13) % 7),
    score: ((i * 7919) % 1000 / 1000).toFixed(3),
  }));
}

/** Writes the demo tree under `root`; reruns write the same bytes and times. */
export function generateDemoTree(root: string): { files: number; bytes: number } {
  let files = 0;
  let total = 0;
  const put = (rel: string, data: Buffer | string): void => {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, data);
    utimesSync(p, new Date('2026-11-01T02:00:00Z'), new Date('2026-11-01T02:00:00Z'));
    files++;
    total += Buffer.byteLength(data);
  };
  for (let i = 0; i < 24; i++) put(`training/imagenet-subset/shard-${String(i).padStart(5, '0')}.tfrecord`, bytes(`shard${i}`, 512 * 1024 + i * 4096));
  put('training/imagenet-subset/_manifest.json', JSON.stringify({ shards: 24, format: 'tfrecord', split: 'train' }, null, 2));
  put('models/resnet50/run-0042/checkpoint-epoch-10.pt', bytes('ckpt', 24 * 1024 * 1024));
  put('models/resnet50/run-0042/config.yaml', 'arch: resnet50\nlr: 0.1\nbatch_size: 256\nepochs: 90\n');
  for (let e = 1; e <= 5; e++) {
    put(`experiments/exp-00${e}/params.json`, JSON.stringify({ lr: 0.1 / e, seed: e, optimizer: 'sgd' }));
    put(`experiments/exp-00${e}/metrics.json`, JSON.stringify({ epoch: 10, top1: 0.7 + e / 100, loss: 1.2 - e / 10 }));
  }
  const rows = ['user_bucket,feature_a,feature_b,label'];
  for (let r = 0; r < 20_000; r++) rows.push(`${r % 97},${(r * 7) % 13},${(r * 31) % 101},${r % 2}`);
  put('features/daily/2026-11-22.csv', rows.join('\n'));
  const requests = ['request_id,ts,email,phone,feature_a,feature_b,score', ...demoRequests().map((r) => [r.id, r.ts, r.email, r.phone, r.a, r.b, r.score].join(','))];
  put(DEMO_EXTRACT, `${requests.join('\n')}\n`);
  put(
    DEMO_RESTRICTED,
    'patient_id,name,date_of_birth,diagnosis,ward\nP-00017,Jane Roe,1980-04-12,hypertension,cardiology\nP-00018,John Doe,1975-09-30,type 2 diabetes,endocrinology\nP-00019,Mary Major,1992-01-05,asthma,pulmonology\n',
  );
  return { files, bytes: total };
}

/** The demo's hybridsync.yaml: the places, the levels, the rules and the policy. */
export function demoConfigYaml(onprem: string, cloud: string): string {
  const q = (s: string): string => JSON.stringify(s);
  return `# Written by \`hybridsync demo\`: the governance config of the demo tree (see docs/governance.md).
version: 1
environments:
  onprem:
    kind: onprem
    locations: [${q(onprem)}]
  cloud:
    kind: cloud
    locations: [${q(cloud)}]
classification:
  levels: [public, internal, confidential, restricted]
  default: internal
  rules:
    - path: "restricted/**"
      level: restricted
      description: patient records stay in the data centre
    - path: "features/inference/**"
      level: confidential
      description: request logs carry users' e-mail addresses and phone numbers
  detectors:
    pii:
      paths: ["**/*.csv", "**/*.jsonl", "**/*.json"]
policy:
  unknownEnvironment: deny
  environments:
    onprem:
      maxLevel: restricted
    cloud:
      maxLevel: confidential
      require:
        confidential: [pii-scrub]
pii:
  detect:
    phoneRegions: [US, DE, GB, FR]
  entities:
    email: replace
    phone: replace
`;
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Columns of a simple CSV line (the demo's extract has no quoting). */
const cells = (line: string): string[] => line.split(',');

/** Whether the columns of `before` that are not PII are byte-identical in `after`, line by line. */
function otherColumnsIdentical(before: string, after: string): boolean {
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.length !== b.length) return false;
  const header = cells(a[0]!);
  const keep = header.map((h, i) => ((DEMO_PII_COLUMNS as readonly string[]).includes(h) ? -1 : i)).filter((i) => i >= 0);
  return a.every((line, n) => {
    const x = cells(line);
    const y = cells(b[n]!);
    return x.length === y.length && keep.every((i) => x[i] === y[i]);
  });
}

/** The scrub report of the extract's latest transfer, from the audit trail (it holds counts, never values). */
async function scrubCounts(auditLog: string, key: string, signal?: AbortSignal): Promise<Record<string, number>> {
  let counts: Record<string, number> = {};
  for await (const r of readAuditRecords(auditLog, signal)) {
    if (r.type !== 'transfer' || r.key !== key || !Array.isArray(r.transforms)) continue;
    const scrub = (r.transforms as Array<{ name: string; report?: { counts?: Record<string, number> } }>).find((t) => t.name === 'pii-scrub');
    if (scrub?.report?.counts) counts = Object.fromEntries(Object.entries(scrub.report.counts).filter(([, n]) => n > 0));
  }
  return counts;
}

async function verifyAndReport(loaded: LoadedConfig, statePath: string, reportFile: string, signal?: AbortSignal): Promise<{ verify: VerifyResult; mentionsDenial: boolean }> {
  const paths = auditPaths(loaded.config?.audit, statePath);
  const verify = await verifyAuditLog({ file: paths.file, publicKey: createPublicKey(readFileSync(paths.keyFile)), mirrors: [], ...(signal ? { signal } : {}) });
  const agg = new ReportAggregator(compileClassification(loaded.config?.classification).scale.levels);
  for await (const r of readAuditRecords(paths.file, signal)) agg.add(r);
  const html = agg.html({ title: 'hybridsync demo: compliance report', logFile: paths.file, generated: new Date().toISOString(), filter: '', verify });
  writeFileSync(reportFile, html);
  return { verify, mentionsDenial: html.includes(DEMO_RESTRICTED) };
}

export async function runDemo(o: DemoRequest): Promise<DemoResult> {
  const dir = resolve(o.dir);
  const onprem = join(dir, 'onprem');
  const dst = o.dst ?? join(dir, 'cloud');
  const configFile = join(dir, 'hybridsync.yaml');
  const statePath = join(dir, 'state.db');
  const reportFile = join(dir, 'audit-report.html');
  const step = (s: DemoStep): void => o.onStep?.(s);
  const run = o.run ?? transfer;
  const problems: string[] = [];
  let failedRun: RunSummary | undefined;

  const g = generateDemoTree(onprem);
  step({ step: 'generated', onprem, files: g.files, bytes: g.bytes });
  writeFileSync(configFile, demoConfigYaml(onprem, dst));
  const loaded = loadConfig(configFile);
  step({
    step: 'config',
    file: configFile,
    policy: ['restricted data (restricted/**) may not leave on-prem', 'confidential data (features/inference/**, or any file with PII) goes to the cloud only PII-scrubbed'],
  });
  const auditLog = auditPaths(loaded.config?.audit, statePath).file;
  const ctx = { config: loaded, statePath, ...(o.s3 ? { s3: o.s3 } : {}), ...(o.endpoint ? { endpoint: o.endpoint } : {}), ...(o.signal ? { signal: o.signal } : {}) };

  /** One sync; as designed when nothing failed and exactly the restricted file was denied. */
  const syncPass = async (pass: 1 | 2): Promise<RunSummary> => {
    step({ step: 'sync', pass, src: onprem, dst });
    const denied: Array<{ key: string; classification: string; reason: string }> = [];
    const summary = await run({
      ...ctx,
      mode: 'sync',
      src: onprem,
      dst,
      options: { createBucket: true },
      onEvent: (e: SyncEvent) => void (e.type === 'denied' && denied.push({ key: e.key, classification: e.classification, reason: e.reason })),
    });
    step({ step: 'synced', pass, summary, denied });
    if (summary.status === 'aborted' || summary.failed > 0) {
      problems.push(`sync ${pass}: ${summary.failed} file(s) failed (status ${summary.status})`);
      failedRun = summary;
    } else if (denied.map((d) => d.key).join() !== DEMO_RESTRICTED) {
      problems.push(`sync ${pass}: expected exactly ${DEMO_RESTRICTED} to be denied, got ${denied.map((d) => d.key).join(', ') || 'no denial'}`);
    }
    return summary;
  };

  const first = await syncPass(1);
  if (first.status === 'aborted' || first.failed > 0) return { ok: false, problems, onprem, configFile, statePath, auditLog, reportFile, dst, ...(failedRun ? { failedRun } : {}) };

  // what reached the destination: read back through the same backends a sync uses
  const cloud = openLocation(dst, ctx);
  try {
    const absent = (await cloud.stat(DEMO_RESTRICTED, o.signal ? { signal: o.signal } : {})) === undefined;
    step({ step: 'kept-on-prem', key: DEMO_RESTRICTED, absentAtDestination: absent, dst });
    if (!absent) problems.push(`${DEMO_RESTRICTED} is at the destination although the policy denies it`);

    const before = readFileSync(join(onprem, DEMO_EXTRACT), 'utf8');
    const after = await readText(await cloud.read(DEMO_EXTRACT, o.signal ? { signal: o.signal } : {}));
    const piiLeft = demoPlantedPii().filter((v) => after.includes(v)).length;
    const identical = otherColumnsIdentical(before, after);
    const counts = await scrubCounts(auditLog, DEMO_EXTRACT, o.signal);
    step({ step: 'scrubbed', key: DEMO_EXTRACT, before: before.split('\n')[1]!, after: after.split('\n')[1] ?? '', counts, piiLeft, otherColumnsIdentical: identical });
    if (piiLeft > 0) problems.push(`${piiLeft} planted PII value(s) reached the destination in ${DEMO_EXTRACT}`);
    if (!identical) problems.push(`the columns of ${DEMO_EXTRACT} that hold no PII changed on the way`);
  } finally {
    await cloud.close?.();
  }

  const { verify, mentionsDenial } = await verifyAndReport(loaded, statePath, reportFile, o.signal);
  step({ step: 'verified', result: verify });
  step({ step: 'report', file: reportFile, mentionsDenial });
  if (!verify.ok) problems.push(`the audit trail does not verify: ${verify.firstBad?.problem ?? verify.mirrorFailure ?? 'unknown'}`);
  if (!mentionsDenial) problems.push(`the report does not list the denial of ${DEMO_RESTRICTED}`);

  // a same-size edit: the metric value changes, the length does not
  const edited = join(onprem, DEMO_EDITED);
  const text = readFileSync(edited, 'utf8');
  writeFileSync(edited, text.includes('"epoch":10') ? text.replace('"epoch":10', '"epoch":11') : text.replace('"epoch":11', '"epoch":10'));
  step({ step: 'edited', key: DEMO_EDITED });
  const second = await syncPass(2);
  if (second.status !== 'aborted' && second.failed === 0 && second.transferred !== 1) problems.push(`sync 2: expected only the edited file to move, ${second.transferred} moved`);

  // check knows the policy: the denied file is reported denied (absent as it should be), the
  // scrubbed extract is compared with the source version it was made from
  if (second.status !== 'aborted') {
    step({ step: 'check' });
    const checked = await run({ ...ctx, mode: 'check', src: onprem, dst, options: { checksum: true } });
    step({ step: 'checked', summary: checked });
    if (checked.status !== 'known-denials' || checked.differences > 0 || checked.denied !== 1 || checked.derived < 1) {
      problems.push(`check: ${checked.differences} difference(s), ${checked.failed} failed`);
      failedRun = checked;
    }
  }
  if (!existsSync(reportFile)) problems.push(`no report at ${reportFile}`);
  return { ok: problems.length === 0, problems, onprem, configFile, statePath, auditLog, reportFile, dst, ...(failedRun ? { failedRun } : {}) };
}
