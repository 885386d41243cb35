/**
 * Store flags shared by run (and later archive): where the store is, the
 * signing key, the encryption key and rotation limits.
 */
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { ConfigFile } from '../config/config-schema.js';
import { durationMs } from '../config/config-schema.js';
import { usageError } from '../core/errors.js';
import type { AuditStore } from '../core/ports.js';
import { openStore, loadEncryptionKey, parseEncryptionKey } from '../store/index.js';

export interface StoreFlags {
  store?: string;
  signingKey?: string;
  encryptionKeyFile?: string;
  unsigned?: boolean;
}

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--store <dir>', 'store directory (created if missing)')
    .option('--signing-key <file>', 'Ed25519 private key that seals segments (create with dbwitness keygen)')
    .option('--unsigned', 'allow a store without a signing key (evaluation only: seals then prove nothing against someone who can rewrite the files)')
    .option('--encryption-key-file <file>', 'AES-256 key (base64 or hex) for encryption at rest; or set DBWITNESS_ENCRYPTION_KEY');
}

/** The store's AES key from --encryption-key-file, store.encryption_key_file, the named env var, or DBWITNESS_ENCRYPTION_KEY. */
export async function storeEncryptionKey(flags: StoreFlags, config: ConfigFile): Promise<Buffer | undefined> {
  const keyFile = flags.encryptionKeyFile ?? config.store?.encryption_key_file;
  const keyEnv = config.store?.encryption_key_env;
  const fromNamedEnv = keyFile === undefined && keyEnv !== undefined ? process.env[keyEnv] : undefined;
  return fromNamedEnv !== undefined ? parseEncryptionKey(fromNamedEnv, keyEnv!) : loadEncryptionKey(keyFile);
}

export async function openStoreFrom(flags: StoreFlags, config: ConfigFile, logger: Logger): Promise<AuditStore> {
  const dir = flags.store ?? config.store?.dir;
  if (dir === undefined) {
    throw usageError('E_STORE_DIR', 'no store directory given', 'pass --store DIR or set store.dir in the config file');
  }
  const encryptionKey = await storeEncryptionKey(flags, config);
  const signingKeyFile = flags.signingKey ?? config.store?.signing_key;
  const maxAge = config.store?.segment_max_age;
  return openStore(dir, {
    logger,
    ...(signingKeyFile !== undefined ? { signingKeyFile } : {}),
    ...(flags.unsigned === true ? { unsigned: true } : {}),
    ...(encryptionKey !== undefined ? { encryptionKey } : {}),
    ...(config.store?.segment_max_bytes !== undefined ? { segmentMaxBytes: config.store.segment_max_bytes } : {}),
    ...(maxAge !== undefined ? { segmentMaxAgeMs: durationMs(maxAge) } : {}),
  });
}
