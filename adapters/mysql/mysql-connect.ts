/**
 * Opening connections from a source config. The URL may carry the password,
 * but `password_env` is preferred; neither ever reaches a log or an error.
 */
import mysql from 'mysql2/promise';
import type { ConnectionOptions } from 'mysql2';
import { DbwitnessError, redactUrl } from '../../src/core/errors.js';
import { resolveSourceUrl } from '../../src/core/source-config.js';
import type { MysqlSourceConfig } from './mysql-config.js';

export type MysqlConnection = mysql.Connection;

export interface ServerFlavor {
  readonly version: string;
  readonly isMariaDb: boolean;
  /** e.g. [10, 11, 19] */
  readonly numeric: readonly [number, number, number];
}

/** mysql2 options for the URL (password from `password_env` when set). */
export function connectionOptions(config: Pick<MysqlSourceConfig, 'url' | 'password_env'>): ConnectionOptions {
  const resolved = resolveSourceUrl(config);
  let u: URL;
  try {
    u = new URL(resolved);
  } catch {
    throw new DbwitnessError('E_MYSQL_URL', `cannot parse the source URL ${redactUrl(config.url)}`, 'use mysql://user@host:port/database (put the password in an environment variable named by password_env)');
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new DbwitnessError('E_MYSQL_URL', `source URL scheme ${u.protocol} is not mysql: or mariadb:`, 'use mysql://user@host:port/database');
  }
  const opts: ConnectionOptions = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    // Exact values: DECIMAL/BIGINT as strings, temporals as the server's text.
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    decimalNumbers: false,
    jsonStrings: true,
    timezone: 'Z',
    charset: 'utf8mb4_general_ci',
    connectTimeout: 10_000,
  };
  if (u.password) opts.password = decodeURIComponent(u.password);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (db) opts.database = db;
  const socket = u.searchParams.get('socket');
  if (socket) opts.socketPath = socket;
  const ssl = u.searchParams.get('ssl') ?? u.searchParams.get('sslmode');
  if (ssl === 'required' || ssl === 'true' || ssl === 'REQUIRED') opts.ssl = { rejectUnauthorized: false };
  if (ssl === 'verify' || ssl === 'VERIFY_IDENTITY') opts.ssl = { rejectUnauthorized: true };
  return opts;
}

export async function connect(config: Pick<MysqlSourceConfig, 'url' | 'password_env'>): Promise<MysqlConnection> {
  const opts = connectionOptions(config);
  try {
    const conn = await mysql.createConnection(opts);
    // Sessions of dbwitness itself write nothing to audited tables; UTC
    // makes TIMESTAMP text identical to what the binlog decoder prints.
    await conn.query("SET time_zone = '+00:00'");
    return conn;
  } catch (e) {
    throw connectError(config.url, e);
  }
}

export function connectError(url: string, e: unknown): DbwitnessError {
  const code = (e as { code?: string }).code ?? 'UNKNOWN';
  const errno = (e as { errno?: number }).errno;
  return new DbwitnessError(
    'E_MYSQL_CONNECT',
    `cannot connect to ${redactUrl(url)} (${code}${errno ? ` ${errno}` : ''})`,
    code === 'ER_ACCESS_DENIED_ERROR'
      ? 'check the user name and the password in the environment variable named by password_env'
      : 'check that the server is running and reachable at that host and port',
    { cause: e },
  );
}

export async function serverFlavor(conn: MysqlConnection): Promise<ServerFlavor> {
  const [rows] = await conn.query('SELECT VERSION() AS v');
  const version = String((rows as Array<{ v: string }>)[0]!.v);
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  const numeric: [number, number, number] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  return { version, isMariaDb: /mariadb/i.test(version), numeric };
}

/** Runs a query and returns its rows typed as records. */
export async function rows<T = Record<string, unknown>>(conn: MysqlConnection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [r] = await conn.query(sql, params);
  return r as T[];
}

export function atLeast(flavor: ServerFlavor, major: number, minor: number): boolean {
  const [a, b] = flavor.numeric;
  return a > major || (a === major && b >= minor);
}
