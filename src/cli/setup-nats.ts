/**
 * `dbwitness setup nats`: the JetStream stream, KV buckets and durable
 * consumer that edge `run`s publish to and `archive` reads from. Printed for
 * review (as `nats` CLI commands and JSON definitions) unless --apply.
 */
import type { Logger } from 'pino';
import type { ConfigFile } from '../config/config-schema.js';
import { validate } from '../config/load-config.js';
import { usageError } from '../core/errors.js';
import { applyNatsSetup, formatNatsPlan, planNatsSetup } from '../jetstream/index.js';
import { NatsSetupConfig } from '../jetstream/jetstream-config.js';

export interface NatsSetupFlags {
  url?: string;
  replicas?: string;
  apply?: boolean;
  uninstall?: boolean;
}

/** Connection fields shared by the config file's `output` (edge) and `archive` sections. */
const CONNECTION_KEYS = ['servers', 'creds_file', 'user', 'password_env', 'tls', 'subject_prefix', 'stream', 'checkpoint_bucket'] as const;

export async function setupNats(flags: NatsSetupFlags, config: ConfigFile, logger: Logger): Promise<void> {
  if (flags.uninstall) {
    throw usageError('E_NATS_UNINSTALL', 'setup nats has no --uninstall: deleting the stream would delete audit events not yet archived', 'archive everything first, then remove the stream with `nats stream rm` after review');
  }
  const fromFile = (config as Record<string, unknown>).output ?? (config as Record<string, unknown>).archive;
  const base: Record<string, unknown> = {};
  if (fromFile !== null && typeof fromFile === 'object') {
    for (const k of CONNECTION_KEYS) if (k in fromFile) base[k] = (fromFile as Record<string, unknown>)[k];
  }
  if (flags.url !== undefined) base.servers = flags.url;
  if (flags.replicas !== undefined) {
    const n = Number(flags.replicas);
    if (!Number.isInteger(n) || n < 1 || n > 5) throw usageError('E_NATS_REPLICAS', `--replicas must be a whole number from 1 to 5, got "${flags.replicas}"`, 'use 3 in production (survives one lost server), 1 only for a single-server test setup');
    base.replicas = n;
  }
  if (base.servers === undefined) throw usageError('E_NATS_SERVERS', 'no NATS servers given', 'pass --url nats://host:4222[,nats://host2:4222] or set output.servers in the config file');
  const c = validate(NatsSetupConfig, base, 'nats setup');
  const plan = planNatsSetup(c);
  if (!flags.apply) {
    process.stdout.write(formatNatsPlan(plan, c.servers));
    return;
  }
  await applyNatsSetup(c, { logger });
  process.stdout.write(`nats setup applied: ${plan.steps.length} steps (stream ${c.stream}, consumer ${c.consumer})\n`);
}
