/**
 * Private MariaDB servers for tests (Debian's mariadb-server 10.11): a fresh
 * datadir from mariadb-install-db, a free port, row-based binlog with full
 * images and metadata, GTID strict mode. Never touches the machine's own
 * MariaDB service.
 *
 * root has no password and may connect over TCP from 127.0.0.1:
 * mariadb-install-db's "normal" root authentication creates root@localhost,
 * root@127.0.0.1 and root@::1 without passwords.
 *
 * @example
 *   await using db = await startMariaDB({ database: 'clinic' });
 *   const [row] = await db.query<{ f: string }>('select @@binlog_format as f');
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { exec, serverEnv, tailText } from './proc.js';
import { withFreePort } from './ports.js';
import { killQuietly, recordServerPid, register, rmDirSync } from './registry.js';
import { makeHarnessDir, makeSubdir, unprivilegedUser, type RunAs } from './temp.js';
import { waitFor } from './wait.js';

export interface MariaDbServer extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  readonly socket: string;
  readonly dataDir: string;
  /** Holds binlog.* (log-bin) and error.log. */
  readonly logDir: string;
  /** Where mariadb, mariadb-admin, mariadb-binlog live. */
  readonly binDir: string;
  readonly errorLog: string;
  readonly serverId: number;
  /** mysql://root@127.0.0.1:port/db */
  url(opts?: { user?: string; password?: string; database?: string }): string;
  /**
   * Runs SQL (text protocol, `?` placeholders) over TCP as root or opts.user.
   * Returns rows for a SELECT, `[ResultSetHeader]` for other statements.
   * BIGINT/DECIMAL come back as strings and temporal values as text, so
   * tests compare exact values.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: { user?: string; password?: string; database?: string }): Promise<T[]>;
  /** 'fast' = clean shutdown (SIGTERM); 'immediate' = SIGKILL, a crash. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and deletes its directory. Idempotent. */
  close(): Promise<void>;
}

export interface StartMariaDbOptions {
  /** Extra [mariadbd] settings, given as --key=value after the harness defaults. */
  config?: Record<string, string>;
  /** Created after start. */
  database?: string;
}

const SERVER = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';
const CLIENT_BIN_DIR = '/usr/bin';

export async function startMariaDB(opts: StartMariaDbOptions = {}): Promise<MariaDbServer> {
  if (!existsSync(SERVER) || !existsSync(INSTALL_DB)) {
    throw new Error(`MariaDB is not installed (${SERVER} or ${INSTALL_DB} missing); install it with: apt-get install mariadb-server mariadb-client`);
  }
  const server = new PrivateMariaDb(unprivilegedUser(['mysql']), opts.config ?? {});
  try {
    await server.init();
    await withFreePort((port) => server.firstStart(port), (err) => err instanceof PortInUseError);
    if (opts.database !== undefined) await server.query(`CREATE DATABASE \`${opts.database.replaceAll('`', '``')}\``);
    return server;
  } catch (err) {
    await server.close();
    throw err;
  }
}

class PortInUseError extends Error {}

class PrivateMariaDb implements MariaDbServer {
  readonly host = '127.0.0.1';
  readonly binDir = CLIENT_BIN_DIR;
  readonly socket: string;
  readonly dataDir: string;
  readonly logDir: string;
  readonly errorLog: string;
  readonly serverId: number;
  #port = 0;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #base: string;
  readonly #runAs: RunAs | undefined;
  readonly #config: Record<string, string>;
  readonly #unregister: () => void;

  constructor(runAs: RunAs | undefined, config: Record<string, string>) {
    this.#runAs = runAs;
    this.#config = config;
    this.#base = makeHarnessDir('mariadb-', runAs);
    this.dataDir = join(this.#base, 'data');
    this.logDir = makeSubdir(this.#base, 'logs', runAs);
    makeSubdir(this.#base, 'tmp', runAs);
    this.socket = join(this.#base, 'mysqld.sock');
    this.errorLog = join(this.logDir, 'error.log');
    // Distinct per server so two test servers can replicate or be told apart.
    this.serverId = 1 + Math.floor(Math.random() * (2 ** 31 - 2));
    this.#unregister = register({ killSync: () => killQuietly(this.#child?.pid, 'SIGKILL'), dirs: [this.#base] });
  }

  get port(): number {
    return this.#port;
  }

  async init(): Promise<void> {
    const args = [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      // Smaller redo log than the 96M default: tests write little, disks are shared.
      '--innodb-log-file-size=16M',
      // The bootstrap server's temporary tables go to this server's own dir:
      // in the shared /tmp, two installs at once can collide on #sql-temptable names.
      `--tmpdir=${join(this.#base, 'tmp')}`,
      ...(this.#runAs !== undefined ? [`--user=${this.#runAs.user}`] : []),
    ];
    const result = await exec(INSTALL_DB, args, { cwd: this.#base });
    if (result.code !== 0) throw new Error(`mariadb-install-db failed:\n${tailText(result.stdout + result.stderr)}`);
  }

  async firstStart(port: number): Promise<void> {
    this.#port = port;
    await this.start();
  }

  url(opts: { user?: string; password?: string; database?: string } = {}): string {
    const user = encodeURIComponent(opts.user ?? 'root');
    const password = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}` : '';
    const database = opts.database !== undefined ? encodeURIComponent(opts.database) : '';
    return `mysql://${user}${password}@${this.host}:${this.#port}/${database}`;
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = [], opts: { user?: string; password?: string; database?: string } = {}): Promise<T[]> {
    const conn = await mysql.createConnection({
      host: this.host,
      port: this.#port,
      user: opts.user ?? 'root',
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      ...(opts.database !== undefined ? { database: opts.database } : {}),
      supportBigNumbers: true,
      bigNumberStrings: true,
      decimalNumbers: false,
      dateStrings: true,
    });
    try {
      const [rows] = await conn.query(sql, params);
      return (Array.isArray(rows) ? rows : [rows]) as T[];
    } finally {
      await conn.end();
    }
  }

  async start(): Promise<void> {
    if (this.#closed) throw new Error('MariaDB server was closed; start a new one with startMariaDB()');
    if (this.#child !== undefined) return;
    const child = spawn(SERVER, this.#serverArgs(), { cwd: this.#base, env: serverEnv(), stdio: 'ignore' });
    this.#child = child;
    if (child.pid !== undefined) recordServerPid(this.#base, child.pid);
    let exitCode: number | null | undefined;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        exitCode = code;
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once('error', () => resolve());
    });
    try {
      await waitFor(
        async () => {
          if (exitCode !== undefined) throw new Error(`mariadbd exited with code ${String(exitCode)}`);
          await this.#socketPing();
          return true;
        },
        { what: `MariaDB on port ${this.#port} to accept connections`, timeoutMs: 60_000, intervalMs: 100 },
      );
      // TCP too: the socket can come up while the TCP listener failed to bind.
      await this.query('select 1');
    } catch (err) {
      const log = this.#logTail();
      await this.stop('immediate');
      if (/Address already in use|Bind on TCP\/IP port/i.test(log)) throw new PortInUseError(`port ${this.#port} is taken`);
      throw new Error(`MariaDB did not start: ${(err as Error).message}\n--- ${this.errorLog} ---\n${log}`);
    }
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    // SIGTERM is mariadbd's normal shutdown; SIGKILL leaves InnoDB and the
    // binlog to crash recovery at the next start, like a power cut to the process.
    child.kill(mode === 'fast' ? 'SIGTERM' : 'SIGKILL');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await this.#exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop('fast');
    await this.start();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.stop('immediate');
    this.#closed = true;
    this.#unregister();
    rmDirSync(this.#base);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #serverArgs(): string[] {
    const settings: Record<string, string> = {
      datadir: this.dataDir,
      socket: this.socket,
      port: String(this.#port),
      'bind-address': this.host,
      'log-bin': join(this.logDir, 'binlog'),
      'binlog-format': 'ROW',
      'binlog-row-image': 'FULL',
      'binlog-row-metadata': 'FULL',
      'server-id': String(this.serverId),
      'gtid-strict-mode': 'ON',
      // Durability tests kill the server and expect committed transactions in the binlog.
      'sync-binlog': '1',
      'log-error': this.errorLog,
      'pid-file': join(this.#base, 'mysqld.pid'),
      tmpdir: join(this.#base, 'tmp'),
      'innodb-buffer-pool-size': '64M',
      'innodb-log-file-size': '16M',
      'character-set-server': 'utf8mb4',
      'collation-server': 'utf8mb4_general_ci',
      'skip-name-resolve': 'ON',
      ...this.#config,
    };
    return [
      '--no-defaults',
      ...(this.#runAs !== undefined ? [`--user=${this.#runAs.user}`] : []),
      ...Object.entries(settings).map(([key, value]) => `--${key}=${value}`),
    ];
  }

  async #socketPing(): Promise<void> {
    const conn = await mysql.createConnection({ socketPath: this.socket, user: 'root', connectTimeout: 2000 });
    await conn.end();
  }

  #logTail(): string {
    return existsSync(this.errorLog) ? tailText(readFileSync(this.errorLog, 'utf8')) : '(no error log)';
  }
}
