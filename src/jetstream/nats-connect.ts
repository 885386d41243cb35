/**
 * One NATS connection with the configured TLS and credentials.
 *
 * The client reconnects forever: while the cluster is unreachable, publishes
 * wait for their acknowledgement (and are retried by the caller), so capture
 * pauses instead of failing. Server URLs are printed through `redactUrl`
 * (a URL may carry `user:password@`).
 */
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, ErrorCode, NatsError, type ConnectionOptions, type NatsConnection, type TlsOptions } from 'nats';
import { DbwitnessError, redactUrl, usageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { NatsConnectionConfig } from './jetstream-config.js';
import { sleep } from '../core/sleep.js';

export interface NatsConnectOptions {
  readonly logger: Logger;
  /** Connection name shown by the server's monitoring (`connz`). */
  readonly name: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How long a refused first connection is retried (a server restarting); default 30 s. */
  readonly firstConnectTimeoutMs?: number;
}

export async function connectNats(config: NatsConnectionConfig, options: NatsConnectOptions): Promise<NatsConnection> {
  const servers = config.servers as readonly string[];
  const printable = servers.map(redactUrl).join(',');
  const opts: ConnectionOptions = {
    servers: [...servers],
    name: options.name,
    // Once connected, reconnect forever: publishes wait (and are retried) meanwhile.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 10_000,
  };
  const env = options.env ?? process.env;
  if (config.user !== undefined) {
    opts.user = config.user;
    if (config.password_env !== undefined) {
      const pass = env[config.password_env];
      if (pass === undefined) throw usageError('E_NATS_PASSWORD_ENV', `the environment variable ${config.password_env} (password of NATS user ${config.user}) is not set`, `export ${config.password_env} before starting dbwitness`);
      opts.pass = pass;
    }
  } else if (config.password_env !== undefined) {
    throw usageError('E_NATS_USER', 'password_env is set but user is not', 'set user next to password_env, or use creds_file');
  }
  if (config.creds_file !== undefined) {
    const creds = await readFile(config.creds_file).catch((e: NodeJS.ErrnoException) => {
      throw usageError('E_NATS_CREDS', `cannot read the NATS credentials file ${config.creds_file} (${e.code ?? 'error'})`, 'point creds_file at the .creds file issued for this dbwitness account (nsc generate creds)');
    });
    opts.authenticator = credsAuthenticator(new Uint8Array(creds));
  }
  if (config.tls !== undefined && config.tls !== false) {
    const tls: TlsOptions = {};
    if (typeof config.tls === 'object') {
      if (config.tls.ca_file !== undefined) tls.caFile = config.tls.ca_file;
      if (config.tls.cert_file !== undefined) tls.certFile = config.tls.cert_file;
      if (config.tls.key_file !== undefined) tls.keyFile = config.tls.key_file;
    }
    opts.tls = tls;
  }
  const nc = await firstConnect(opts, printable, options.firstConnectTimeoutMs ?? 30_000);
  const log = options.logger.child({ component: 'nats', servers: printable });
  void (async () => {
    for await (const s of nc.status()) {
      // Reconnects are routine in a cluster; disconnects matter to operators.
      if (s.type === 'disconnect') log.warn('disconnected from NATS; publishes wait until it is back');
      else if (s.type === 'reconnect') log.info('reconnected to NATS');
      else if (s.type === 'error') log.warn({ err: String(s.data) }, 'NATS connection error');
    }
  })().catch(() => undefined);
  return nc;
}

/**
 * The first connection: a refused connection (server restarting) is
 * retried for a while; anything else (bad credentials, untrusted
 * certificate) fails at once, since retrying cannot fix it.
 */
async function firstConnect(opts: ConnectionOptions, printable: string, timeoutMs: number): Promise<NatsConnection> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect(opts);
    } catch (e) {
      const refused = e instanceof NatsError && e.code === ErrorCode.ConnectionRefused;
      if (!refused || Date.now() >= deadline) {
        const why = e instanceof Error ? e.message : String(e);
        throw new DbwitnessError('E_NATS_CONNECT', `cannot connect to NATS at ${printable}: ${why}`, 'check the servers, the credentials (user/password_env or creds_file) and TLS files (the certificate must name the host dbwitness connects to), and that the servers are reachable');
      }
      await pause(backoffMs(attempt, 2000));
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export const pause = sleep;

/** Exponential backoff with jitter: 100 ms, 200 ms, ... capped at `maxMs`. */
export function backoffMs(attempt: number, maxMs = 5000): number {
  const base = Math.min(maxMs, 100 * 2 ** Math.min(attempt, 16));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
