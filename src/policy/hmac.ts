/**
 * The keyed hash that replaces a column value. HMAC rather than a plain
 * hash: a plain SHA-256 of a date of birth or an MRN is reversed by hashing
 * every candidate; without the key that dictionary attack is impossible,
 * while equal values still hash equally so a reviewer can follow one value
 * across events.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { usageError } from '../core/errors.js';
import type { HmacKeySource } from './config.js';

/** Shorter keys weaken HMAC-SHA-256 below its 256-bit design strength. */
export const MIN_HMAC_KEY_BYTES = 32;

export type Hmac = (value: string | Buffer) => string;

export function makeHmac(key: Buffer): Hmac {
  return (value) => createHmac('sha256', key).update(value).digest('hex');
}

/**
 * Reads the key from a file (raw bytes, a trailing newline ignored) or an
 * environment variable. A value of 64+ hex digits is decoded as hex, so
 * `openssl rand -hex 32` output works in either place.
 */
export function loadHmacKey(source: HmacKeySource, env: NodeJS.ProcessEnv = process.env): Buffer {
  let raw: Buffer;
  let where: string;
  if ('file' in source) {
    where = `file ${source.file}`;
    try {
      raw = readFileSync(source.file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw usageError('E_HMAC_KEY_FILE', `cannot read the redaction HMAC key file ${source.file} (${code})`, 'create it with `openssl rand -hex 32 > FILE` and make it readable by dbwitness only (chmod 600)');
    }
  } else {
    where = `environment variable ${source.env}`;
    const value = env[source.env];
    if (value === undefined || value === '') {
      throw usageError('E_HMAC_KEY_MISSING', `the redaction HMAC key environment variable ${source.env} is not set`, `export ${source.env}=$(openssl rand -hex 32), keeping the same value for the life of the store`);
    }
    raw = Buffer.from(value, 'utf8');
  }
  let text = raw.toString('utf8');
  if (text.endsWith('\n')) text = text.replace(/\r?\n$/, '');
  const key = /^(?:[0-9a-fA-F]{2}){32,}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'utf8');
  if (key.length < MIN_HMAC_KEY_BYTES) {
    throw usageError('E_HMAC_KEY_SHORT', `the redaction HMAC key from ${where} has ${key.length} bytes; at least ${MIN_HMAC_KEY_BYTES} are needed`, 'generate one with `openssl rand -hex 32`');
  }
  return key;
}
