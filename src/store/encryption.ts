/**
 * Optional encryption at rest: AES-256-GCM, one frame per line.
 *
 * An encrypted line is `~` followed by base64(iv[12] | ciphertext | tag[16])
 * and a newline. A fresh random 96-bit IV per line (NIST SP 800-38D, 8.2.2)
 * keeps a single key safe well past any realistic number of lines. Line
 * framing means a torn write damages at most the last line, exactly as in a
 * plaintext segment. The chain hash covers the plaintext, so verify and
 * query need the key; seals cover the stored (encrypted) bytes.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { usageError, DbwitnessError } from '../core/errors.js';
import { decodeStrictBase64 } from './strict-base64.js';

export const ENCRYPTED_PREFIX = '~';
export const ENCRYPTION_KEY_ENV = 'DBWITNESS_ENCRYPTION_KEY';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function encryptLine(key: Buffer, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ENCRYPTED_PREFIX + Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64');
}

/** Decrypts one framed line (without its newline); throws E_STORE_DECRYPT on a wrong key or damaged frame. */
export function decryptLine(key: Buffer, framed: string, where: string): string {
  // GCM authenticates the bytes, not their spelling: a non-canonical frame is an altered line.
  const raw = decodeStrictBase64(framed.slice(1));
  if (raw === null || raw.length < IV_BYTES + TAG_BYTES) throw decryptError(where);
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw decryptError(where);
  }
}

export function decryptError(where: string): DbwitnessError {
  return usageError(
    'E_STORE_DECRYPT',
    `cannot decrypt ${where}: the encryption key is wrong or the line was altered`,
    `pass the key the store was written with (--encryption-key-file FILE or ${ENCRYPTION_KEY_ENV}); if the key is right, run \`dbwitness verify\` to locate the damage`,
  );
}

export function missingKeyError(where: string): DbwitnessError {
  return usageError(
    'E_STORE_KEY_REQUIRED',
    `${where} is encrypted and no encryption key was given`,
    `pass the store's key with --encryption-key-file FILE or set ${ENCRYPTION_KEY_ENV} (32 bytes, base64 or hex)`,
  );
}

/** Parses a 32-byte key written as base64 or hex (surrounding whitespace ignored). */
export function parseEncryptionKey(text: string, origin: string): Buffer {
  const t = text.trim();
  let key: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) key = Buffer.from(t, 'base64');
  if (key === null || key.length !== 32) {
    throw usageError(
      'E_STORE_KEY_FORMAT',
      `the encryption key from ${origin} is not 32 bytes of base64 or hex`,
      'generate one with `openssl rand -base64 32` (or `dbwitness keygen --encryption-key FILE`) and pass that',
    );
  }
  return key;
}

export function assertEncryptionKey(key: Buffer): void {
  if (key.length !== 32) {
    throw usageError('E_STORE_KEY_FORMAT', `the encryption key has ${key.length} bytes; AES-256 needs 32`, 'pass a 32-byte key (base64 or hex in a file)');
  }
}

/** The key from `file` if given, else from DBWITNESS_ENCRYPTION_KEY, else undefined. */
export async function loadEncryptionKey(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Buffer | undefined> {
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw usageError('E_STORE_KEY_FILE', `cannot read the encryption key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, 'check the path and that this user may read it');
    }
    return parseEncryptionKey(text, file);
  }
  const fromEnv = env[ENCRYPTION_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return parseEncryptionKey(fromEnv, ENCRYPTION_KEY_ENV);
  return undefined;
}
