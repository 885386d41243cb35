/**
 * `dbwitness keygen`: the Ed25519 key pair that seals the store, and
 * optionally an AES-256 key for encryption at rest.
 */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { usageError } from '../../core/errors.js';
import { generateSigningKeyPair } from '../../store/keys.js';

interface KeygenFlags {
  out?: string;
  private?: string;
  public?: string;
  encryptionKey?: string;
  force?: boolean;
}

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('Create the Ed25519 key pair that seals the store (private key 0600), and optionally an encryption key')
    .option('--out <dir>', 'write DIR/store-key.pem and DIR/store-key.pub.pem')
    .option('--private <file>', 'path of the private key (instead of --out)')
    .option('--public <file>', 'path of the public key (instead of --out)')
    .option('--encryption-key <file>', 'also write a random 32-byte AES-256 key (base64) for encryption at rest')
    .option('--force', 'overwrite existing key files')
    .addHelpText(
      'after',
      `
Keep a copy of the public key outside the store's host and give it to
\`dbwitness verify --public-key\`: a key stored with the data proves nothing
against someone who can rewrite the data.

Examples:
  dbwitness keygen --out /etc/dbwitness
  dbwitness keygen --private /etc/dbwitness/seal.pem --public /srv/audit-keys/seal.pub.pem
  dbwitness keygen --out /etc/dbwitness --encryption-key /etc/dbwitness/store.key`,
    )
    .action(async (flags: KeygenFlags) => {
      const privatePath = flags.private ?? (flags.out !== undefined ? join(flags.out, 'store-key.pem') : undefined);
      const publicPath = flags.public ?? (flags.out !== undefined ? join(flags.out, 'store-key.pub.pem') : undefined);
      if (privatePath === undefined || publicPath === undefined) {
        throw usageError('E_KEYGEN_PATHS', 'keygen needs to know where to write the keys', 'pass --out DIR, or both --private FILE and --public FILE');
      }
      const keys = generateSigningKeyPair();
      await writeNew(privatePath, keys.privatePem, 0o600, flags.force === true);
      await writeNew(publicPath, keys.publicPem, 0o644, flags.force === true);
      process.stdout.write(`private key: ${privatePath} (mode 0600; give it to \`dbwitness run --signing-key\`)\npublic key:  ${publicPath} (key id ${keys.keyId}; keep a copy off this host for \`dbwitness verify --public-key\`)\n`);
      if (flags.encryptionKey !== undefined) {
        await writeNew(flags.encryptionKey, randomBytes(32).toString('base64') + '\n', 0o600, flags.force === true);
        process.stdout.write(`encryption key: ${flags.encryptionKey} (mode 0600; losing it makes the store unreadable: back it up)\n`);
      }
    });
}

async function writeNew(path: string, data: string, mode: number, force: boolean): Promise<void> {
  if (!force && (await stat(path).catch(() => null)) !== null) {
    throw usageError('E_KEYGEN_EXISTS', `${path} already exists`, 'choose another path, or pass --force to replace it (a store sealed with the old key then needs the old public key to verify)');
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const fh = await open(path, force ? 'w' : 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
