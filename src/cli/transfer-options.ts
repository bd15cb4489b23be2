/**
 * The flags of sync, copy and check. The transfer options come from the one table in
 * config/options.ts; this file adds only what belongs to a terminal (output) and to the
 * default s3:// remote (connection flags), and turns parsed flags into a TransferRequest.
 */
import { Command, Option } from 'commander';
import type { TransferRequest } from '../api/transfer.js';
import { flagName, TRANSFER_OPTIONS, type Command as OptionCommand, type TransferOptions } from '../config/options.js';
import { defaultStatePath } from '../sync/state.js';

export interface OutputFlags {
  json?: boolean;
  verbose?: boolean;
  progress: boolean;
  stats: string;
}

export interface ConnectionFlags {
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  s3Profile?: string;
  s3AllowHttp?: boolean;
  caBundle?: string;
}

export type TransferFlags = OutputFlags &
  ConnectionFlags & { state?: string; config?: string } & { [K in keyof TransferOptions]?: TransferOptions[K] | string | string[] };

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Adds the connection flags of the default s3:// remote. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--s3-endpoint <url>', 's3:// endpoint (default AWS_ENDPOINT_URL or AWS); named remotes have their own')
    .option('--s3-region <region>', 's3:// region (default AWS_REGION or us-east-1)')
    .option('--s3-path-style', 'path-style addressing (default on for custom endpoints)')
    .option('--s3-profile <name>', 'AWS profile for s3:// locations')
    .option('--s3-allow-http', 'allow plain http to a non-loopback endpoint')
    .option('--ca-bundle <file>', 'PEM CA bundle for https endpoints (default AWS_CA_BUNDLE)');
}

export function addTransferOptions(cmd: Command, mode: OptionCommand): Command {
  for (const spec of TRANSFER_OPTIONS) {
    if (spec.modes && !spec.modes.includes(mode)) continue;
    const flag = `--${flagName(spec.key)}${spec.arg ? ` <${spec.arg}>` : ''}`;
    const o = new Option(flag, spec.help);
    if (spec.kind === 'list') o.argParser(collect);
    else if (spec.default !== undefined && spec.kind !== 'bool') o.default(String(spec.default));
    cmd.addOption(o);
  }
  cmd
    .option('--json', 'NDJSON events on stdout')
    .option('-v, --verbose', 'print every file')
    .option('--no-progress', 'no progress output')
    .option('--stats <duration>', 'interval of progress lines when not on a terminal', '5s')
    .option('--state <file>', `state database (default ${defaultStatePath()})`)
    .option('--config <file>', 'hybridsync.yaml: remotes, environments, classification, policy, audit, tls (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml if present)');
  return addConnectionOptions(cmd);
}

/** The connection flags as the default remote's settings. */
export function connectionOf(f: ConnectionFlags): Pick<TransferRequest, 's3' | 'endpoint'> {
  return {
    s3: {
      ...(f.s3Endpoint ? { endpoint: f.s3Endpoint } : {}),
      ...(f.s3Region ? { region: f.s3Region } : {}),
      ...(f.s3PathStyle ? { forcePathStyle: true } : {}),
      ...(f.s3Profile ? { profile: f.s3Profile } : {}),
      ...(f.s3AllowHttp ? { allowInsecureHttp: true } : {}),
      ...(f.caBundle ? { caBundle: f.caBundle } : {}),
    },
    endpoint: { ...(f.caBundle ? { caBundle: f.caBundle } : {}), ...(f.s3AllowHttp ? { allowInsecureHttp: true } : {}) },
  };
}

/** The transfer options among parsed flags (strings; parsed and defaulted by the library). */
export function transferOptionsOf(f: TransferFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of TRANSFER_OPTIONS) if (f[spec.key] !== undefined) out[spec.key] = f[spec.key];
  return out;
}
