/**
 * `dbwitness setup mysql`: a plan the DBA reads before `--apply` runs it.
 * Every statement is idempotent (IF NOT EXISTS / OR REPLACE), so applying
 * twice changes nothing, and `--uninstall` removes what setup created.
 * The replication password is never printed: the plan shows a placeholder
 * naming the environment variable, substituted only when applying.
 */
import { DbwitnessError, usageError } from '../../src/core/errors.js';
import type { AdapterContext, SetupPlan, SetupStep } from '../../src/core/ports.js';
import { resolveTables } from './audited-tables.js';
import { splitAccount, type MysqlSourceConfig } from './mysql-config.js';
import { connect, rows, serverFlavor, type ServerFlavor } from './mysql-connect.js';
import { checkSettings } from './server-settings.js';
import { initConnectSql, registryDdl, dropTriggerSql, MARIADB_TX_DISCRIMINATOR, MYSQL_TX_DISCRIMINATOR, markerTableDdl, MARK_PROCEDURE, triggerDdls, type MarkerNames } from './session-marker.js';
import { quoteAccount, quoteIdent, quoteQualified, quoteString } from './sql-quote.js';

export function markerNames(config: MysqlSourceConfig, flavor?: ServerFlavor): MarkerNames {
  const d = splitAccount(config.marker_definer);
  return {
    database: config.marker_database,
    table: config.marker_table,
    definerUser: d.user,
    definerHost: d.host,
    txDiscriminator: flavor && !flavor.isMariaDb ? MYSQL_TX_DISCRIMINATOR : MARIADB_TX_DISCRIMINATOR,
  };
}

/** `text` as a literal LIKE pattern (backslash is LIKE's default escape). */
function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function passwordPlaceholder(envName: string): string {
  return `'<password from $${envName}>'`;
}

/** Statements for MySQL, which has no CREATE OR REPLACE for triggers and procedures. */
function forFlavor(sql: string, flavor: ServerFlavor): string[] {
  if (flavor.isMariaDb) return [sql];
  const m = /^CREATE OR REPLACE (DEFINER=\S+ )(TRIGGER|PROCEDURE) (\S+)/.exec(sql);
  if (!m) return [sql];
  return [`DROP ${m[2]} IF EXISTS ${m[3]}`, sql.replace('CREATE OR REPLACE ', 'CREATE ')];
}

export async function planSetup(config: MysqlSourceConfig, _ctx: AdapterContext): Promise<SetupPlan> {
  const conn = await connect(config);
  try {
    const flavor = await serverFlavor(conn);
    const tables = await resolveTables(conn, config);
    const n = markerNames(config, flavor);
    const steps: SetupStep[] = [];

    const settings = (await checkSettings(conn, flavor, config.outage_budget_hours)).filter((c) => !c.ok);
    if (settings.length > 0) {
      steps.push({
        title: 'Binary log settings (my.cnf, [mariadbd] or [mysqld] section)',
        why: settings.map((c) => `${c.name} is ${c.actual}: ${c.why}`).join('; '),
        sql: [],
        config: settings.map((c) => c.line),
        requiresRestart: settings.some((c) => c.requiresRestart),
      });
    }

    const marker = quoteQualified(n.database, n.table);
    const definer = quoteAccount(n.definerUser, n.definerHost);
    steps.push({
      title: `Session-marker table ${n.database}.${n.table} and its locked definer account`,
      why: 'the identity triggers write one row per transaction here (CONNECTION_ID(), USER(), client port, @dbwitness_app_user); dbwitness reads it from the binlog and drops it from the trail. The definer account cannot log in and may only write this table.',
      sql: [
        `CREATE DATABASE IF NOT EXISTS ${quoteIdent(n.database)}`,
        markerTableDdl(n),
        `CREATE USER IF NOT EXISTS ${definer} ACCOUNT LOCK`,
        `GRANT SELECT, INSERT, UPDATE ON ${marker} TO ${definer}`,
      ],
    });

    if (!flavor.isMariaDb) {
      steps.push({
        title: `MySQL connection registry ${n.database}.${config.registry_table} (init_connect)`,
        why: 'MySQL 8 writes the connection id into every BEGIN; one row per connection, written by the server at login through init_connect and a trigger the session cannot influence, says whose connection it was. Grant each application account INSERT on the registry (the trigger overwrites what it inserts, so this grants nothing forgeable); without it, its logins fail init_connect.',
        sql: [...registryDdl(n, config.registry_table), initConnectSql(n, config.registry_table)],
      });
    }

    const repl = splitAccount(config.replication_user);
    const replAccount = quoteAccount(repl.user, repl.host);
    // MariaDB 10.5 split REPLICATION CLIENT: SHOW BINARY LOGS and
    // BINLOG_GTID_POS need BINLOG MONITOR there.
    const serverPrivs = flavor.isMariaDb ? 'REPLICATION SLAVE, BINLOG MONITOR' : 'REPLICATION SLAVE, REPLICATION CLIENT';
    steps.push({
      title: `Replication account ${repl.user}@${repl.host} for dbwitness run`,
      why: `least privilege: ${serverPrivs} to stream the binlog and find retained files, SELECT on the audited tables (column metadata and primary keys) and on the marker table. Password from $${config.replication_password_env}, never printed.`,
      sql: [
        `CREATE USER IF NOT EXISTS ${replAccount} IDENTIFIED BY ${passwordPlaceholder(config.replication_password_env)}`,
        `GRANT ${serverPrivs} ON *.* TO ${replAccount}`,
        `GRANT SELECT ON ${marker} TO ${replAccount}`,
        ...tables.map(([db, t]) => `GRANT SELECT ON ${quoteQualified(db, t)} TO ${replAccount}`),
      ],
    });

    steps.push({
      title: `Identity triggers on ${tables.length} audited table(s)`,
      why: 'AFTER INSERT/UPDATE/DELETE row triggers write the session marker once per transaction (a primary-key lookup per row otherwise). Changes without a marker are reported as unattributed alerts.',
      sql: tables.flatMap(([db, t]) => [
        `GRANT TRIGGER ON ${quoteQualified(db, t)} TO ${definer}`,
        ...triggerDdls(n, db, t).flatMap((s) => forFlavor(s, flavor)),
      ]),
    });
    return { engine: flavor.isMariaDb ? 'mariadb' : 'mysql', steps };
  } finally {
    await conn.end().catch(() => undefined);
  }
}

export async function planUninstall(config: MysqlSourceConfig, _ctx: AdapterContext): Promise<SetupPlan> {
  const conn = await connect(config);
  try {
    const flavor = await serverFlavor(conn);
    const n = markerNames(config);
    // Every trigger setup may have created, found by what it writes (or,
    // from earlier setups, calls), so tables dropped from the config lose
    // their triggers too.
    const trig = await rows<{ s: string; t: string; n: string }>(
      conn,
      'SELECT EVENT_OBJECT_SCHEMA AS s, EVENT_OBJECT_TABLE AS t, TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_NAME LIKE ? AND (ACTION_STATEMENT LIKE ? OR ACTION_STATEMENT LIKE ?)',
      ['dbwitness\\_%', `%${MARK_PROCEDURE}%`, `%${likeEscape(quoteQualified(n.database, n.table))}%`],
    );
    const fromConfig = await resolveTables(conn, config).catch(() => [] as Array<[string, string]>);
    const drops = new Set<string>(trig.map((x) => `DROP TRIGGER IF EXISTS ${quoteQualified(x.s, x.n)}`));
    for (const [db, t] of fromConfig) for (const s of dropTriggerSql(db, t)) drops.add(s);
    const definer = quoteAccount(n.definerUser, n.definerHost);
    const repl = splitAccount(config.replication_user);
    return {
      engine: flavor.isMariaDb ? 'mariadb' : 'mysql',
      steps: [
        { title: 'Remove the identity triggers', why: 'audited tables go back to their own triggers only', sql: [...drops] },
        {
          title: `Remove the marker table, procedure and definer account (the database ${n.database} is kept)`,
          why: 'nothing else uses them; the database may hold other objects',
          sql: [
            `DROP PROCEDURE IF EXISTS ${quoteQualified(n.database, MARK_PROCEDURE)}`,
            `DROP TABLE IF EXISTS ${quoteQualified(n.database, n.table)}`,
            `DROP USER IF EXISTS ${definer}`,
          ],
        },
        { title: `Remove the replication account ${repl.user}@${repl.host}`, why: 'dbwitness run can no longer connect', sql: [`DROP USER IF EXISTS ${quoteAccount(repl.user, repl.host)}`] },
      ],
    };
  } finally {
    await conn.end().catch(() => undefined);
  }
}

export async function applyPlan(config: MysqlSourceConfig, plan: SetupPlan, ctx: AdapterContext, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const placeholder = passwordPlaceholder(config.replication_password_env);
  const needsPassword = plan.steps.some((s) => s.sql.some((q) => q.includes(placeholder)));
  const password = env[config.replication_password_env];
  if (needsPassword && !password) {
    throw usageError('E_MYSQL_PASSWORD_ENV', `the replication account needs a password, and $${config.replication_password_env} is not set`, `export ${config.replication_password_env}=<a strong password> and run setup --apply again`);
  }
  const conn = await connect(config);
  try {
    for (const step of plan.steps) {
      for (const sql of step.sql) {
        const text = password ? sql.split(placeholder).join(quoteString(password)) : sql;
        try {
          await conn.query(text);
        } catch (e) {
          // The statement text is ours (no row values); the password is not in `sql`.
          throw new DbwitnessError('E_MYSQL_SETUP', `setup step "${step.title}" failed at: ${sql.split('\n')[0]} (${(e as { code?: string }).code ?? 'error'}: ${(e as Error).message.replace(password ?? '\u0000', '***')})`, 'run setup as an account with CREATE USER, GRANT OPTION, TRIGGER and CREATE ROUTINE privileges (e.g. root)', { cause: e });
        }
      }
      ctx.logger.info({ step: step.title, statements: step.sql.length }, 'setup step applied');
    }
  } finally {
    await conn.end().catch(() => undefined);
  }
}
