/**
 * Ed25519 sealing keys. The private key signs seals and chain heads; its
 * public key is copied next to the store (store-key.pub.pem) and should also
 * be kept somewhere the store's writer cannot reach, for `verify --public-key`.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { usageError } from '../core/errors.js';
import { decodeStrictBase64 } from './strict-base64.js';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyId: string;
}

/** Short stable id of a public key: first 16 hex of SHA-256 over its SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

export function generateSigningKeyPair(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKeyPem(publicKey),
    keyId: keyIdOf(publicKey),
  };
}

export async function loadSigningKey(file: string): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (e) {
    throw usageError('E_STORE_SIGNING_KEY', `cannot read the signing key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, 'create one with `dbwitness keygen --out DIR` and pass DIR/store-key.pem');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw usageError('E_STORE_SIGNING_KEY', `${file} is not a PEM private key`, 'create one with `dbwitness keygen --out DIR`');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw usageError('E_STORE_SIGNING_KEY', `${file} holds a ${privateKey.asymmetricKeyType ?? 'unknown'} key; seals use Ed25519`, 'create one with `dbwitness keygen --out DIR`');
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export async function loadPublicKey(file: string): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (e) {
    throw usageError('E_VERIFY_PUBLIC_KEY', `cannot read the public key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, 'pass the store-key.pub.pem created by `dbwitness keygen`');
  }
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return key;
  } catch {
    throw usageError('E_VERIFY_PUBLIC_KEY', `${file} is not an Ed25519 public key in PEM form`, 'pass the store-key.pub.pem created by `dbwitness keygen`');
  }
}

export function signText(key: KeyObject, text: string): string {
  return sign(null, Buffer.from(text, 'utf8'), key).toString('base64');
}

export function verifyText(key: KeyObject, text: string, signatureB64: string): boolean {
  const signature = decodeStrictBase64(signatureB64);
  if (signature === null) return false; // another spelling of a valid signature is still an altered byte
  try {
    return verify(null, Buffer.from(text, 'utf8'), key, signature);
  } catch {
    return false;
  }
}
