/**
 * Named remotes, as rclone users know them: `onprem:bucket/prefix` names the remote
 * `onprem`, defined under `remotes:` in hybridsync.yaml or, with no file, by environment
 * variables `HYBRIDSYNC_REMOTE_<NAME>_<KEY>` (like `RCLONE_CONFIG_<NAME>_<KEY>`; the
 * environment wins over the file key by key).
 *
 * Secrets are given only by reference: the name of an environment variable (`…Env`), a
 * file (`…File`), or an AWS profile of the shared config/credentials files. A remote
 * definition therefore never holds a secret, and can be printed, stored in the state
 * database or audited as it is. References are resolved only when a backend is opened
 * (resolveSecrets), and the values go nowhere else.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { ConfigError, UsageError } from '../core/errors.js';
import { formatConfigPath } from './positions.js';

export const REMOTE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
/**
 * A secret pasted where the name of its variable belongs (`secretAccessKeyEnv: Xq3L9p…`)
 * must be refused without being echoed: long, mixed case and digits, no underscore — the
 * shape of generated keys, not of variable names (which are UPPER_SNAKE by convention).
 */
export function looksLikeSecret(v: string): boolean {
  return v.length >= 16 && !v.includes('_') && /[a-z]/.test(v) && /[A-Z]/.test(v) && /\d/.test(v);
}
const PASTED = 'this looks like the secret itself, not the name of an environment variable: put the secret in a variable and give its name here';
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, `not an environment variable name (letters, digits and _); if it is the secret itself, ${PASTED.slice(PASTED.indexOf('put'))}`)
  .refine((v) => !looksLikeSecret(v), { message: PASTED });
const tlsVersion = z.enum(['TLSv1.3', 'TLSv1.2']);

const s3Remote = z
  .object({
    type: z.literal('s3'),
    description: z.string().optional(),
    endpoint: z.url().optional().describe('S3 endpoint, e.g. https://ceph.dc1.example:7480 (default: AWS for the region)'),
    region: z.string().optional().describe('default AWS_REGION, else us-east-1'),
    profile: z.string().optional().describe('a profile of the AWS shared config/credentials files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE)'),
    pathStyle: z.boolean().optional().describe('path-style addressing (default: on for a custom endpoint)'),
    accessKeyIdEnv: envName.optional().describe('environment variable holding the access key id'),
    secretAccessKeyEnv: envName.optional().describe('environment variable holding the secret access key'),
    sessionTokenEnv: envName.optional().describe('environment variable holding a session token'),
    caBundle: z.string().optional().describe('PEM CA bundle for this endpoint'),
    tls: z.object({ minVersion: tlsVersion.default('TLSv1.3') }).strict().optional().describe('TLS 1.2 only for endpoints that cannot do 1.3 (warned, audited)'),
    allowHttp: z.boolean().optional().describe('allow plain http to a non-loopback endpoint'),
  })
  .strict();

const azureRemote = z
  .object({
    type: z.literal('azureblob'),
    description: z.string().optional(),
    account: z.string().optional().describe('storage account name (default: from the connection string)'),
    endpoint: z.url().optional().describe('blob endpoint, e.g. https://acct.blob.core.windows.net (default from account)'),
    connectionStringEnv: envName.optional().describe('environment variable holding a connection string (default AZURE_STORAGE_CONNECTION_STRING)'),
    accountKeyEnv: envName.optional().describe('environment variable holding the account key'),
    accountKeyFile: z.string().optional().describe('file holding the account key'),
    sasTokenEnv: envName.optional().describe('environment variable holding a SAS token'),
    sasTokenFile: z.string().optional().describe('file holding a SAS token'),
    caBundle: z.string().optional(),
    tls: z.object({ minVersion: tlsVersion.default('TLSv1.3') }).strict().optional(),
    allowHttp: z.boolean().optional(),
  })
  .strict();

const localRemote = z
  .object({
    type: z.literal('local'),
    description: z.string().optional(),
    root: z.string().min(1).describe('directory NAME: stands for (NAME:sub/dir is below it)'),
  })
  .strict();

/** Keys that would hold a secret in the file itself: refused with the reference to use instead. */
const INLINE_SECRETS: Record<string, string> = {
  secretAccessKey: 'secretAccessKeyEnv: NAME_OF_ENV_VAR (or profile: NAME)',
  accessKeyId: 'accessKeyIdEnv: NAME_OF_ENV_VAR (or profile: NAME), next to secretAccessKeyEnv',
  sessionToken: 'sessionTokenEnv: NAME_OF_ENV_VAR',
  accountKey: 'accountKeyEnv: NAME_OF_ENV_VAR or accountKeyFile: /path',
  sasToken: 'sasTokenEnv: NAME_OF_ENV_VAR or sasTokenFile: /path',
  connectionString: 'connectionStringEnv: NAME_OF_ENV_VAR',
};

export const remoteSchema = z.preprocess(
  (v, ctx) => {
    if (v && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        if (k in INLINE_SECRETS) ctx.addIssue({ code: 'custom', path: [k], message: `credentials are never written in the config: use ${INLINE_SECRETS[k]}` });
      }
    }
    return v;
  },
  z.discriminatedUnion('type', [s3Remote, azureRemote, localRemote], { error: (i) => (i.code === 'invalid_union' ? 'type must be s3, azureblob or local' : undefined) }),
);

export const remotesSchema = z
  .record(z.string().regex(REMOTE_NAME, 'remote names are lowercase letters, digits, "-" and "_", starting with a letter'), remoteSchema)
  .describe('named remotes: NAME:bucket/prefix in locations');

export type RemoteConfig = z.infer<typeof s3Remote> | z.infer<typeof azureRemote> | z.infer<typeof localRemote>;
export type S3RemoteConfig = z.infer<typeof s3Remote>;
export type AzureRemoteConfig = z.infer<typeof azureRemote>;
export type RemoteType = RemoteConfig['type'];

// ---------------------------------------------------------------- environment form

/** `HYBRIDSYNC_REMOTE_<NAME>_<KEY>` keys and the config keys they set. */
const ENV_KEYS: Record<string, string> = {
  TYPE: 'type',
  DESCRIPTION: 'description',
  ENDPOINT: 'endpoint',
  REGION: 'region',
  PROFILE: 'profile',
  PATH_STYLE: 'pathStyle',
  CA_BUNDLE: 'caBundle',
  ALLOW_HTTP: 'allowHttp',
  TLS_MIN_VERSION: 'tls.minVersion',
  ACCOUNT: 'account',
  ROOT: 'root',
  ACCESS_KEY_ID_ENV: 'accessKeyIdEnv',
  SECRET_ACCESS_KEY_ENV: 'secretAccessKeyEnv',
  SESSION_TOKEN_ENV: 'sessionTokenEnv',
  CONNECTION_STRING_ENV: 'connectionStringEnv',
  ACCOUNT_KEY_ENV: 'accountKeyEnv',
  ACCOUNT_KEY_FILE: 'accountKeyFile',
  SAS_TOKEN_ENV: 'sasTokenEnv',
  SAS_TOKEN_FILE: 'sasTokenFile',
};
/**
 * Secrets set directly in the environment form (`HYBRIDSYNC_REMOTE_CLOUD_SECRET_ACCESS_KEY`):
 * the variable itself is the reference, so the definition records its name, not its value.
 */
const ENV_SECRET_KEYS: Record<string, string> = {
  ACCESS_KEY_ID: 'accessKeyIdEnv',
  SECRET_ACCESS_KEY: 'secretAccessKeyEnv',
  SESSION_TOKEN: 'sessionTokenEnv',
  CONNECTION_STRING: 'connectionStringEnv',
  ACCOUNT_KEY: 'accountKeyEnv',
  SAS_TOKEN: 'sasTokenEnv',
};
const ENV_PREFIX = 'HYBRIDSYNC_REMOTE_';
const BOOLEAN_KEYS = new Set(['pathStyle', 'allowHttp']);

function parseEnvBool(name: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name}="${v}" is not a boolean`, { hint: 'use true or false' });
}

/** Raw (unvalidated) remote definitions from HYBRIDSYNC_REMOTE_<NAME>_<KEY> variables. */
export function remotesFromEnv(env: NodeJS.ProcessEnv): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const suffixes = [...Object.keys(ENV_KEYS), ...Object.keys(ENV_SECRET_KEYS)].sort((a, b) => b.length - a.length);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const rest = name.slice(ENV_PREFIX.length);
    const suffix = suffixes.find((s) => rest.endsWith(`_${s}`) && rest.length > s.length + 1);
    if (!suffix) {
      throw new ConfigError(`unknown remote setting ${name}`, {
        hint: `settings are HYBRIDSYNC_REMOTE_<NAME>_<KEY> with KEY one of ${[...Object.keys(ENV_KEYS), ...Object.keys(ENV_SECRET_KEYS)].join(', ')}`,
      });
    }
    const remote = rest.slice(0, -(suffix.length + 1)).toLowerCase();
    const r = (out[remote] ??= {});
    const secretRef = ENV_SECRET_KEYS[suffix];
    if (secretRef) {
      r[secretRef] = name;
      continue;
    }
    const key = ENV_KEYS[suffix]!;
    if (key === 'tls.minVersion') r.tls = { minVersion: value };
    else r[key] = BOOLEAN_KEYS.has(key) ? parseEnvBool(name, value) : value;
  }
  return out;
}

// --------------------------------------------------------------------- the set

export type RemoteOrigin = 'file' | 'env' | 'file+env';

/** The remotes of one run: the file's, overridden key by key by the environment's. */
export class RemoteSet {
  private constructor(
    private readonly remotes: ReadonlyMap<string, RemoteConfig>,
    private readonly origins: ReadonlyMap<string, RemoteOrigin> = new Map(),
  ) {}

  static load(fromFile: Readonly<Record<string, RemoteConfig>> | undefined, env: NodeJS.ProcessEnv = process.env): RemoteSet {
    const merged = new Map<string, RemoteConfig>();
    const origins = new Map<string, RemoteOrigin>();
    const fromEnv = remotesFromEnv(env);
    const names = new Set([...Object.keys(fromFile ?? {}), ...Object.keys(fromEnv)]);
    for (const name of names) {
      const raw = { ...(fromFile?.[name] ?? {}), ...(fromEnv[name] ?? {}) };
      if (!REMOTE_NAME.test(name)) throw new ConfigError(`invalid remote name "${name}"`, { hint: 'remote names are lowercase letters, digits, "-" and "_", starting with a letter' });
      const r = remoteSchema.safeParse(raw);
      if (!r.success) {
        const where = fromEnv[name] ? `HYBRIDSYNC_REMOTE_${name.toUpperCase()}_*` : `remotes.${name}`;
        const issue = r.error.issues[0]!;
        throw new ConfigError(`remote "${name}" (${where}): ${issue.path.length ? `${formatConfigPath(issue.path)}: ` : ''}${issue.message}`, {
          hint: 'a remote needs a type (s3, azureblob or local); see README "Remotes"',
        });
      }
      merged.set(name, r.data);
      origins.set(name, fromFile?.[name] && fromEnv[name] ? 'file+env' : fromFile?.[name] ? 'file' : 'env');
    }
    return new RemoteSet(merged, origins);
  }

  static empty(): RemoteSet {
    return new RemoteSet(new Map());
  }

  get(name: string): RemoteConfig | undefined {
    return this.remotes.get(name);
  }

  /** Where a remote was defined: hybridsync.yaml, HYBRIDSYNC_REMOTE_* variables, or both. */
  origin(name: string): RemoteOrigin | undefined {
    return this.origins.get(name);
  }

  names(): string[] {
    return [...this.remotes.keys()].sort();
  }

  /** The definition of `name`, or a UsageError naming the remotes that exist. */
  require(name: string, spec: string): RemoteConfig {
    const r = this.remotes.get(name);
    if (r) return r;
    const known = this.names();
    throw new UsageError(`unknown remote "${name}" in ${spec}`, {
      hint: `${known.length ? `remotes are ${known.join(', ')}; ` : ''}define it under remotes: in hybridsync.yaml or with HYBRIDSYNC_REMOTE_${name.toUpperCase()}_TYPE=s3; for a local path containing ":" write ./${spec}`,
    });
  }
}

// ------------------------------------------------------------- secret references

function fromEnvRef(remote: string, key: string, ref: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (ref === undefined) return undefined;
  const v = env[ref];
  if (v === undefined || v === '') {
    throw new ConfigError(`remote "${remote}": ${key} names the environment variable ${ref}, which is not set`, { hint: `export ${ref}=… or change ${key}` });
  }
  return v;
}

function fromFileRef(remote: string, key: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`remote "${remote}": cannot read ${key} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
      hint: 'check the path and its permissions',
    });
  }
}

export interface S3Secrets {
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}
export interface AzureSecrets {
  readonly connectionString?: string;
  readonly accountKey?: string;
  readonly sasToken?: string;
}

/** Resolves an S3 remote's credential references. Values go to the client only. */
export function resolveS3Secrets(name: string, r: S3RemoteConfig, env: NodeJS.ProcessEnv = process.env): S3Secrets {
  const accessKeyId = fromEnvRef(name, 'accessKeyIdEnv', r.accessKeyIdEnv, env);
  const secretAccessKey = fromEnvRef(name, 'secretAccessKeyEnv', r.secretAccessKeyEnv, env);
  const sessionToken = fromEnvRef(name, 'sessionTokenEnv', r.sessionTokenEnv, env);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(`remote "${name}": accessKeyIdEnv and secretAccessKeyEnv go together`, { hint: 'set both, or use profile' });
  }
  return accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {};
}

/** Resolves an Azure remote's references; default: AZURE_STORAGE_CONNECTION_STRING, as the Azure SDK's tools do. */
export function resolveAzureSecrets(name: string, r: AzureRemoteConfig, env: NodeJS.ProcessEnv = process.env): AzureSecrets {
  const accountKey = fromEnvRef(name, 'accountKeyEnv', r.accountKeyEnv, env) ?? fromFileRef(name, 'accountKeyFile', r.accountKeyFile);
  const sasToken = fromEnvRef(name, 'sasTokenEnv', r.sasTokenEnv, env) ?? fromFileRef(name, 'sasTokenFile', r.sasTokenFile);
  const connectionString =
    fromEnvRef(name, 'connectionStringEnv', r.connectionStringEnv, env) ?? (accountKey || sasToken ? undefined : env.AZURE_STORAGE_CONNECTION_STRING || undefined);
  return { ...(connectionString ? { connectionString } : {}), ...(accountKey ? { accountKey } : {}), ...(sasToken ? { sasToken } : {}) };
}
