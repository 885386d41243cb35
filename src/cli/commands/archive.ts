import type { Command } from 'commander';
import { usageError } from '../../core/errors.js';
import { ArchiveConfig, runArchiver } from '../../jetstream/index.js';
import { addGlobalOptions, loadContext, type GlobalFlags } from '../command-context.js';
import { addStoreOptions, openStoreFrom, type StoreFlags } from '../store-options.js';

interface ArchiveFlags extends GlobalFlags, StoreFlags {
  from?: string;
  stream?: string;
  consumer?: string;
  subjectPrefix?: string;
  credsFile?: string;
  user?: string;
  passwordEnv?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  leaseName?: string;
  leaseBucket?: string;
  leaseTtl?: string;
  batch?: string;
}

export function registerArchive(program: Command): void {
  const cmd = program
    .command('archive')
    .description('consume audit events from NATS JetStream and write the central, hash-chained store')
    .addHelpText(
      'after',
      `
Edges run \`dbwitness run\` with a JetStream output; the archiver builds one
chain per source from the stream. A message is acknowledged to JetStream
only after the store fsync'd it; redeliveries and republished events are
dropped (by stream sequence, then by event id).

Several archivers may run for availability with the same --store (a shared
volume) and --lease-name: only the holder of the lease writes; a standby
takes over when the holder stops renewing it for the lease TTL.

Create the stream, buckets and consumer first: dbwitness setup nats.

Examples:
  dbwitness archive --from nats://nats-1:4222,nats://nats-2:4222 --creds-file /etc/dbwitness/archiver.creds \\
                    --tls-ca /etc/dbwitness/nats-ca.pem --store /var/lib/dbwitness --signing-key /etc/dbwitness/store-key.pem
  dbwitness archive --config /etc/dbwitness/archive.yaml`,
    )
    .option('--from <urls>', 'NATS server URLs, comma-separated (nats:// or tls://)')
    .option('--stream <name>', 'JetStream stream (default DBWITNESS)')
    .option('--consumer <name>', 'durable consumer (default dbwitness-archiver)')
    .option('--subject-prefix <prefix>', 'subject prefix (default dbwitness)')
    .option('--creds-file <file>', 'NATS credentials file')
    .option('--user <name>', 'NATS user (password from --password-env)')
    .option('--password-env <var>', 'environment variable holding the NATS password')
    .option('--tls-ca <file>', 'CA bundle for the NATS servers\' certificates (enables TLS)')
    .option('--tls-cert <file>', 'client certificate for mutual TLS')
    .option('--tls-key <file>', 'client key for mutual TLS')
    .option('--lease-name <name>', 'lease shared by the archivers of one store (default archive)')
    .option('--lease-bucket <name>', 'KV bucket holding the lease (default dbwitness_archiver)')
    .option('--lease-ttl <duration>', 'lease TTL, equal to the lease bucket\'s TTL (default 15s)')
    .option('--batch <n>', 'messages per batch (default 1000)');
  addStoreOptions(cmd);
  addGlobalOptions(cmd);
  cmd.action(async (flags: ArchiveFlags) => {
    const { config, logger } = await loadContext(flags);
    const archive = archiveConfigFrom(flags, (config as { archive?: unknown }).archive);
    const stop = new AbortController();
    const onStop = (signal: NodeJS.Signals): void => {
      if (stop.signal.aborted) process.exit(130); // nothing is acknowledged before it is stored
      logger.info({ signal }, 'stopping: finishing the current batch');
      stop.abort();
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    try {
      await runArchiver({ config: archive, openStore: () => openStoreFrom(flags, config, logger), logger, signal: stop.signal });
    } finally {
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
    }
  });
}

function archiveConfigFrom(flags: ArchiveFlags, fromFile: unknown): ArchiveConfig {
  const base = typeof fromFile === 'object' && fromFile !== null ? { ...(fromFile as Record<string, unknown>) } : {};
  const set = (key: string, value: unknown): void => {
    if (value !== undefined) base[key] = value;
  };
  set('servers', flags.from);
  set('stream', flags.stream);
  set('consumer', flags.consumer);
  set('subject_prefix', flags.subjectPrefix);
  set('creds_file', flags.credsFile);
  set('user', flags.user);
  set('password_env', flags.passwordEnv);
  set('lease_name', flags.leaseName);
  set('lease_ttl', flags.leaseTtl);
  set('lease_bucket', flags.leaseBucket);
  if (flags.batch !== undefined) base.batch = Number(flags.batch);
  if (flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    base.tls = { ...(flags.tlsCa ? { ca_file: flags.tlsCa } : {}), ...(flags.tlsCert ? { cert_file: flags.tlsCert } : {}), ...(flags.tlsKey ? { key_file: flags.tlsKey } : {}) };
  }
  if (base.servers === undefined) throw usageError('E_ARCHIVE_FROM', 'no NATS servers given', 'pass --from nats://HOST:4222 or set archive.servers in the config file');
  const r = ArchiveConfig.safeParse(base);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw usageError('E_ARCHIVE_CONFIG', `invalid archive setting ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, 'fix the flag or the archive section of the config file (see dbwitness archive --help)');
  }
  return r.data;
}
