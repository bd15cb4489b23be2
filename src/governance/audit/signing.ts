/**
 * Ed25519 signing of audit checkpoints. The private key is created on first use (PKCS#8
 * PEM, mode 0600; a key others can read is flagged); the public key is written next to it
 * and can be exported for auditors, who then verify with it rather than with whatever
 * key sits beside the log.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, UsageError } from '../../core/errors.js';

export interface Signer {
  /** `ed25519:` + the first 32 hex digits of SHA-256 over the public key (SPKI DER). */
  readonly keyId: string;
  readonly publicKeyPem: string;
  /** Base64 signature of `message`. */
  sign(message: Buffer): string;
}

export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 32)}`;
}

export function publicKeyPath(keyFile: string): string {
  return keyFile.replace(/(\.pem)?$/, '.pub.pem');
}

function readPrivateKey(keyFile: string, onWarning?: (message: string) => void): KeyObject {
  const st = statSync(keyFile);
  if ((st.mode & 0o077) !== 0) {
    onWarning?.(
      `the audit signing key ${keyFile} is accessible by other users (mode ${(st.mode & 0o777).toString(8)}): whoever can read it can forge checkpoints; chmod 600 it, and rotate it if it may have been copied`,
    );
  }
  const key = createPrivateKey(readFileSync(keyFile));
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`audit signing key ${keyFile} is not an Ed25519 key`, { hint: 'remove it to have a new one created, or point audit.keyFile at an Ed25519 key' });
  return key;
}

/**
 * Loads the signing key, creating it (and its .pub.pem) on first use. A key other users
 * can access is used, but `onWarning` says so (the runs record it in the audit trail).
 */
export function loadOrCreateSigner(keyFile: string, onWarning?: (message: string) => void): Signer {
  let key: KeyObject;
  try {
    key = readPrivateKey(keyFile, onWarning);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`cannot read audit signing key ${keyFile}: ${(err as Error).message}`, { cause: err });
    }
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    const pair = generateKeyPairSync('ed25519');
    try {
      writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ConfigError(`cannot create audit signing key ${keyFile}: ${(e as Error).message}`, { cause: e });
      // another process created it first: use theirs
    }
    key = readPrivateKey(keyFile, onWarning);
  }
  const pub = createPublicKey(key);
  const publicKeyPem = pub.export({ type: 'spki', format: 'pem' }).toString();
  const pubFile = publicKeyPath(keyFile);
  try {
    if (readFileSync(pubFile, 'utf8') !== publicKeyPem) writeFileSync(pubFile, publicKeyPem, { mode: 0o644 });
  } catch {
    writeFileSync(pubFile, publicKeyPem, { mode: 0o644 });
  }
  return {
    keyId: keyIdOf(pub),
    publicKeyPem,
    sign: (message) => sign(null, message, key).toString('base64'),
  };
}

export function readPublicKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch (err) {
    throw new ConfigError(`cannot read public key ${file}: ${(err as Error).message}`, { cause: err, hint: 'give the PEM written by `hybridsync audit public-key`' });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`${file} is not an Ed25519 public key`);
  return key;
}

/**
 * The key signatures must verify with: `explicit` (a PEM an auditor trusts), else the
 * public key written beside the local signing key, else the signing key itself.
 */
export function trustedPublicKey(paths: { readonly keyFile: string; readonly publicKeyFile: string }, explicit?: string): KeyObject {
  if (explicit) return readPublicKey(explicit);
  if (existsSync(paths.publicKeyFile)) return readPublicKey(paths.publicKeyFile);
  if (existsSync(paths.keyFile)) return createPublicKey(readFileSync(paths.keyFile));
  throw new UsageError('no public key to verify with', { hint: `give --public-key FILE (from \`hybridsync audit public-key\`), or run where ${paths.keyFile} exists` });
}

export function verifySignature(publicKey: KeyObject, message: Buffer, signatureB64: string): boolean {
  try {
    return verify(null, message, publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** What a checkpoint signature covers. */
export interface CheckpointBody {
  readonly logId: string;
  readonly treeSize: number;
  /** Hex RFC 6962 root over the first treeSize lines. */
  readonly root: string;
  /** ISO time of the checkpoint. */
  readonly time: string;
}

export function checkpointMessage(c: CheckpointBody): Buffer {
  return Buffer.from(`hybridsync-audit-checkpoint/v1\n${c.logId}\n${c.treeSize}\n${c.root}\n${c.time}\n`, 'utf8');
}
