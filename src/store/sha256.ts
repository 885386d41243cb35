/**
 * One-shot SHA-256 (hex). crypto.hash avoids creating a Hash object per
 * call, which matters at hundreds of thousands of events per second; it
 * exists from Node 20.12 and the package allows 20.10, hence the fallback.
 */
import * as crypto from 'node:crypto';

export const sha256Hex: (data: string | Buffer) => string =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'hex') : (data) => crypto.createHash('sha256').update(data).digest('hex');
