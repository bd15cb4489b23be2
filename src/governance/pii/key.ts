import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../core/errors.js';

/** Environment variable holding the pseudonymization key when no key file is given. */
export const PII_KEY_ENV = 'HYBRIDSYNC_PII_KEY';

const MIN_KEY_BYTES = 16;
const KEY_HINT = 'create one with `openssl rand -hex 32 > pii.key` and keep it off the synced tree';

/**
 * Key material from a file or environment value: 64+ hex digits are decoded as hex,
 * `base64:...` as base64, anything else is used as raw bytes. A trailing newline is
 * ignored. The key itself never appears in an error message.
 */
export function decodePiiKey(material: Buffer, source: string): Buffer {
  let end = material.length;
  while (end > 0 && (material[end - 1] === 0x0a || material[end - 1] === 0x0d)) end--;
  const raw = material.subarray(0, end);
  const text = raw.toString('latin1');
  let key: Buffer;
  if (/^[0-9a-fA-F]{64,}$/.test(text) && text.length % 2 === 0) key = Buffer.from(text, 'hex');
  else if (text.startsWith('base64:')) key = Buffer.from(text.slice(7), 'base64');
  else key = Buffer.from(raw);
  if (key.length < MIN_KEY_BYTES) {
    throw new ConfigError(`the PII key from ${source} is ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed`, {
      hint: KEY_HINT,
    });
  }
  return key;
}

/**
 * Loads the key from `keyFile`, else from HYBRIDSYNC_PII_KEY, else returns undefined.
 * The key is only ever held in memory: nothing here writes it anywhere.
 */
export async function loadPiiKey(opts: { keyFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Buffer | undefined> {
  if (opts.keyFile !== undefined) {
    let material: Buffer;
    try {
      material = await readFile(opts.keyFile);
    } catch (e) {
      throw new ConfigError(`cannot read the PII key file ${opts.keyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        cause: e,
        hint: `check the path given to --key-file; ${KEY_HINT}`,
      });
    }
    return decodePiiKey(material, `key file ${opts.keyFile}`);
  }
  const fromEnv = (opts.env ?? process.env)[PII_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return decodePiiKey(Buffer.from(fromEnv, 'utf8'), `$${PII_KEY_ENV}`);
  return undefined;
}

export function missingKeyError(what: string): ConfigError {
  return new ConfigError(`${what} uses the hash operator, which needs a secret key`, {
    hint: `pass --key-file FILE or set ${PII_KEY_ENV}; ${KEY_HINT}`,
  });
}
