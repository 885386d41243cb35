/**
 * Where the identity triggers cost time: sysbench oltp_write_only TPS on a
 * private MariaDB for several trigger bodies, alternating in the same run
 * (the machine is shared), medians of RUNS runs, once per server-settings
 * profile.
 *
 *   npx tsx bench/mysql/trigger-cost.ts [--runs 3] [--seconds 10] [--variants none,empty,guarded,lookup,previous,current] [--profiles bench,relaxed]
 *
 * Variants:
 * - none:      no triggers (the baseline)
 * - empty:     FOR EACH ROW BEGIN END
 * - guarded:   the marker table referenced (opened and locked with every
 *              statement) but read only once per commit: the cost of
 *              referencing it at all
 * - lookup:    the per-row primary-key check on the marker table, never marking
 * - deadwrite: lookup plus a marker INSERT that never runs: the table is
 *              write-locked, so every statement also logs its Table_map
 * - previous:  the per-row check, then CALL of a procedure doing
 *              INSERT ... ON DUPLICATE KEY UPDATE (the design before)
 * - current:   what `dbwitness setup` installs now (session-marker.ts): the
 *              per-row check, then the upsert inline in the trigger
 * - update:    as current, UPDATE by primary key (INSERT for a connection's
 *              first marker) instead of INSERT ... ON DUPLICATE KEY UPDATE
 * - narrow:    as current with a three-column marker table (smaller
 *              Table_map and row images)
 *
 * Besides TPS (sensitive to whatever else runs on the machine) each run
 * reports the server's CPU time per transaction (utime + stime of mariadbd
 * from /proc), which other load disturbs much less.
 *
 * Profiles: `bench` is the test harness's server as bench-mysql.ts starts
 * it, which already has the durable production settings (sync_binlog=1 from
 * the harness, innodb_flush_log_at_trx_commit=1 by default); `durable` sets
 * both explicitly; `relaxed` sets sync_binlog=0 and
 * innodb_flush_log_at_trx_commit=2 (no fsync per commit: CPU-bound).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startMariaDB, type MariaDbServer } from '../../test/harness/index.js';
import { mysqlAdapter } from '../../adapters/mysql/index.js';
import { MysqlSourceConfig } from '../../adapters/mysql/mysql-config.js';
import { markerNames } from '../../adapters/mysql/mysql-setup-plan.js';
import { triggerDdl, triggerName, type MarkerNames } from '../../adapters/mysql/session-marker.js';
import { quoteAccount, quoteQualified } from '../../adapters/mysql/sql-quote.js';
import { silentLogger } from '../../src/core/logger.js';

const run = promisify(execFile);
const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const RUNS = Number(opt('runs', '3'));
const SECONDS = Number(opt('seconds', '10'));
const VARIANTS = opt('variants', 'none,empty,guarded,lookup,previous,current').split(',');
const PROFILES = opt('profiles', 'bench,relaxed').split(',');
const ctx = { logger: silentLogger() };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const TABLES = ['sbtest1', 'sbtest2', 'sbtest3', 'sbtest4'];
const OPS = ['insert', 'update', 'delete'] as const;

const PROFILE_CONFIG: Record<string, Record<string, string>> = {
  bench: {},
  durable: { 'sync-binlog': '1', 'innodb-flush-log-at-trx-commit': '1' },
  relaxed: { 'sync-binlog': '0', 'innodb-flush-log-at-trx-commit': '2' },
};

/** The design before this change: per-row lookup, then a procedure doing INSERT ... ON DUPLICATE KEY UPDATE. */
function previousDdl(n: MarkerNames): { setup: string[]; trigger: (db: string, t: string, op: string) => string } {
  const marker = quoteQualified(n.database, 'bench_marker_prev');
  const proc = quoteQualified(n.database, 'bench_mark_prev');
  const definer = quoteAccount(n.definerUser, n.definerHost);
  return {
    setup: [
      `CREATE TABLE IF NOT EXISTS ${marker} (conn_id BIGINT UNSIGNED NOT NULL PRIMARY KEY, sid CHAR(36) NOT NULL, after_gtid VARCHAR(255) NOT NULL, login VARCHAR(400) NULL, client_host VARCHAR(300) NULL, app_user VARCHAR(255) NULL, application VARCHAR(255) NULL, marked_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `GRANT SELECT, INSERT, UPDATE ON ${marker} TO ${definer}`,
      `CREATE OR REPLACE DEFINER=${definer} PROCEDURE ${proc}() SQL SECURITY DEFINER MODIFIES SQL DATA
BEGIN
  IF @dbwitness_sid IS NULL THEN
    SET @dbwitness_sid = UUID(), @dbwitness_client = (SELECT p.HOST FROM information_schema.PROCESSLIST p WHERE p.ID = CONNECTION_ID());
  END IF;
  INSERT INTO ${marker} (conn_id, sid, after_gtid, login, client_host, app_user, application, marked_at)
  VALUES (CONNECTION_ID(), @dbwitness_sid, @@SESSION.last_gtid, USER(), LEFT(@dbwitness_client, 300), LEFT(@dbwitness_app_user, 255), LEFT(@dbwitness_application, 255), NOW(6))
  ON DUPLICATE KEY UPDATE sid = VALUES(sid), after_gtid = VALUES(after_gtid), login = VALUES(login), client_host = VALUES(client_host), app_user = VALUES(app_user), application = VALUES(application), marked_at = VALUES(marked_at);
END`,
      `GRANT EXECUTE ON PROCEDURE ${proc} TO ${definer}`,
    ],
    trigger: (db, t, op) => `CREATE OR REPLACE DEFINER=${definer} TRIGGER ${quoteQualified(db, triggerName(t, op as 'insert'))} AFTER ${op.toUpperCase()} ON ${quoteQualified(db, t)} FOR EACH ROW
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ${marker} m WHERE m.conn_id = CONNECTION_ID() AND m.sid = @dbwitness_sid AND m.after_gtid = @@SESSION.last_gtid) THEN
    CALL ${proc}();
  END IF;
END`,
  };
}

/** Trigger bodies that need no marker state of their own. */
function simpleTrigger(n: MarkerNames, body: string): (db: string, t: string, op: string) => string {
  const definer = quoteAccount(n.definerUser, n.definerHost);
  return (db, t, op) => `CREATE OR REPLACE DEFINER=${definer} TRIGGER ${quoteQualified(db, triggerName(t, op as 'insert'))} AFTER ${op.toUpperCase()} ON ${quoteQualified(db, t)} FOR EACH ROW
BEGIN
${body}
END`;
}

/** CPU time (ms) the server process has used: /proc/<pid>/stat utime + stime, in clock ticks of 10 ms. */
async function serverCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function sysbenchRun(db: MariaDbServer, pid: number): Promise<{ tps: number; cpuUsPerTx: number }> {
  const before = await serverCpuMs(pid);
  const { stdout } = await run('sysbench', ['oltp_write_only', '--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${db.port}`, '--mysql-user=root', '--mysql-db=sbtest', '--tables=4', '--table-size=10000', '--threads=2', `--time=${SECONDS}`, '--report-interval=0', 'run'], { maxBuffer: 16 * 1024 * 1024 });
  const cpu = (await serverCpuMs(pid)) - before;
  const m = /transactions:\s+(\d+)\s+\(([\d.]+) per sec/.exec(stdout);
  if (!m) throw new Error('sysbench printed no transaction count');
  return { tps: Number(m[2]), cpuUsPerTx: (cpu * 1000) / Number(m[1]) };
}

async function sysbench(db: MariaDbServer, cmd: 'prepare' | 'run'): Promise<number> {
  const { stdout } = await run('sysbench', ['oltp_write_only', '--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${db.port}`, '--mysql-user=root', '--mysql-db=sbtest', '--tables=4', '--table-size=10000', '--threads=2', `--time=${SECONDS}`, '--report-interval=0', cmd], { maxBuffer: 16 * 1024 * 1024 });
  const m = /transactions:\s+\d+\s+\(([\d.]+) per sec/.exec(stdout);
  return m ? Number(m[1]) : 0;
}

async function profile(name: string, lines: string[]): Promise<void> {
  const db = await startMariaDB({ database: 'sbtest', config: PROFILE_CONFIG[name] ?? {} });
  try {
    const [s] = await db.query<{ sb: string; fl: string; v: string }>('SELECT @@GLOBAL.sync_binlog AS sb, @@GLOBAL.innodb_flush_log_at_trx_commit AS fl, VERSION() AS v');
    await sysbench(db, 'prepare');
    const [pf] = await db.query<{ f: string }>('SELECT @@GLOBAL.pid_file AS f');
    const pid = Number((await readFile(pf!.f, 'utf8')).trim());
    const config = MysqlSourceConfig.parse({ id: 'bench', url: db.url(), schemas: ['sbtest'] });
    process.env[config.replication_password_env] = 'bench-pw';
    const n = markerNames(config);
    const marker = quoteQualified(n.database, n.table);
    const prev = previousDdl(n);
    const install = async (variant: string): Promise<void> => {
      await mysqlAdapter.applyPlan(config, await mysqlAdapter.planUninstall(config, ctx), ctx);
      if (variant === 'none') return;
      await mysqlAdapter.applyPlan(config, await mysqlAdapter.planSetup(config, ctx), ctx);
      if (variant === 'current') return;
      let make: (db: string, t: string, op: string) => string;
      if (variant === 'empty') make = simpleTrigger(n, '');
      else if (variant === 'lookup') make = simpleTrigger(n, `  IF NOT EXISTS (SELECT 1 FROM ${marker} m WHERE m.conn_id = CONNECTION_ID() AND m.sid = @dbwitness_sid AND m.after_gtid = @@SESSION.last_gtid) THEN\n    DO 0;\n  END IF;`);
      else if (variant === 'guarded') {
        // The marker table referenced (so opened and locked with every statement) but read once per commit.
        make = simpleTrigger(n, `  IF NOT (@dbwitness_tx <=> @@SESSION.last_gtid) THEN\n    IF NOT EXISTS (SELECT 1 FROM ${marker} m WHERE m.conn_id = CONNECTION_ID() AND m.sid = @dbwitness_sid AND m.after_gtid = @@SESSION.last_gtid) THEN\n      DO 0;\n    END IF;\n    SET @dbwitness_tx = @@SESSION.last_gtid;\n  END IF;`);
      } else if (variant === 'deadwrite') {
        // The per-row lookup, plus a marker write that never runs: the table is write-locked, so every statement logs its Table_map.
        make = simpleTrigger(n, `  IF NOT EXISTS (SELECT 1 FROM ${marker} m WHERE m.conn_id = CONNECTION_ID() AND m.sid = @dbwitness_sid AND m.after_gtid = @@SESSION.last_gtid) THEN\n    IF FALSE THEN\n      INSERT INTO ${marker} (conn_id, sid, after_gtid, marked_at) VALUES (0, '', '', NOW(6));\n    END IF;\n  END IF;`);
      } else if (variant === 'plain-sid') {
        // As current, comparing @dbwitness_sid without the conversion to utf8mb4_bin.
        make = (db, t, op) => triggerDdl(n, db, t, op as 'insert').replace('CONVERT(@dbwitness_sid USING utf8mb4) COLLATE utf8mb4_bin', '@dbwitness_sid');
      } else if (variant === 'scalar') {
        // As current, the per-row check as a scalar subquery instead of NOT EXISTS.
        make = (db, t, op) =>
          triggerDdl(n, db, t, op as 'insert').replace(
            /IF NOT EXISTS \(SELECT 1 FROM (\S+) m WHERE m\.conn_id = CONNECTION_ID\(\) AND (m\.sid = .*?) AND m\.after_gtid = (.*?)\) THEN/,
            'IF NOT ((SELECT $2 FROM $1 m WHERE m.conn_id = CONNECTION_ID() AND m.after_gtid = $3) <=> TRUE) THEN',
          );
      } else if (variant === 'update') {
        // As current, with UPDATE by primary key (INSERT only for a connection's first marker) instead of INSERT ... ON DUPLICATE KEY UPDATE.
        make = simpleTrigger(n, `  IF NOT EXISTS (SELECT 1 FROM ${marker} m WHERE m.conn_id = CONNECTION_ID() AND m.sid = CONVERT(@dbwitness_sid USING utf8mb4) COLLATE utf8mb4_bin AND m.after_gtid = @@SESSION.last_gtid) THEN\n    IF @dbwitness_sid IS NULL THEN\n      SET @dbwitness_sid = UUID(), @dbwitness_client = (SELECT p.HOST FROM information_schema.PROCESSLIST p WHERE p.ID = CONNECTION_ID());\n    END IF;\n    UPDATE ${marker} SET sid = @dbwitness_sid, after_gtid = @@SESSION.last_gtid, login = USER(), client_host = LEFT(@dbwitness_client, 300), app_user = LEFT(@dbwitness_app_user, 255), application = LEFT(@dbwitness_application, 255), marked_at = NOW(6) WHERE conn_id = CONNECTION_ID();\n    IF ROW_COUNT() = 0 THEN\n      INSERT INTO ${marker} (conn_id, sid, after_gtid, login, client_host, app_user, application, marked_at) VALUES (CONNECTION_ID(), @dbwitness_sid, @@SESSION.last_gtid, USER(), LEFT(@dbwitness_client, 300), LEFT(@dbwitness_app_user, 255), LEFT(@dbwitness_application, 255), NOW(6));\n    END IF;\n  END IF;`);
      } else if (variant === 'narrow') {
        // Three columns: a smaller Table_map (written for every statement, the table being write-locked) and row images.
        const nm = quoteQualified(n.database, 'bench_marker_narrow');
        const definer = quoteAccount(n.definerUser, n.definerHost);
        await db.query(`CREATE TABLE IF NOT EXISTS ${nm} (conn_id BIGINT UNSIGNED NOT NULL PRIMARY KEY, tx VARCHAR(300) NOT NULL, who VARCHAR(1500) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
        await db.query(`GRANT SELECT, INSERT, UPDATE ON ${nm} TO ${definer}`);
        make = simpleTrigger(n, `  IF NOT EXISTS (SELECT 1 FROM ${nm} m WHERE m.conn_id = CONNECTION_ID() AND m.tx = CONCAT(@dbwitness_sid, '/', @@SESSION.last_gtid)) THEN\n    IF @dbwitness_sid IS NULL THEN\n      SET @dbwitness_sid = UUID(), @dbwitness_client = (SELECT p.HOST FROM information_schema.PROCESSLIST p WHERE p.ID = CONNECTION_ID());\n    END IF;\n    INSERT INTO ${nm} (conn_id, tx, who) VALUES (CONNECTION_ID(), CONCAT(@dbwitness_sid, '/', @@SESSION.last_gtid), CONCAT_WS(CHAR(31), USER(), LEFT(@dbwitness_client, 300), LEFT(@dbwitness_app_user, 255), LEFT(@dbwitness_application, 255)))\n    ON DUPLICATE KEY UPDATE tx = VALUES(tx), who = VALUES(who);\n  END IF;`);
      } else if (variant === 'previous') {
        for (const q of prev.setup) await db.query(q);
        make = prev.trigger;
      } else throw new Error(`unknown variant ${variant}`);
      for (const t of TABLES) for (const op of OPS) await db.query(make('sbtest', t, op));
    };
    const tps = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
    const cpu = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
    for (let i = 0; i < RUNS; i++) {
      // Rotate the order each run so no variant always runs first.
      const order = VARIANTS.map((_, k) => VARIANTS[(k + i) % VARIANTS.length]!);
      for (const v of order) {
        await install(v);
        const r = await sysbenchRun(db, pid);
        tps.get(v)!.push(r.tps);
        cpu.get(v)!.push(Math.round(r.cpuUsPerTx));
        console.error(`${name} run ${i + 1}: ${v} ${r.tps} tps, server CPU ${r.cpuUsPerTx.toFixed(0)} µs/tx`);
      }
    }
    const base = median(tps.get('none') ?? [NaN]);
    const baseCpu = median(cpu.get('none') ?? [NaN]);
    lines.push(
      `### Profile "${name}": sync_binlog=${s!.sb}, innodb_flush_log_at_trx_commit=${s!.fl} (MariaDB ${s!.v})`,
      '',
      '| variant | median TPS | TPS ratio to none | runs (TPS) | median server CPU per tx | CPU over none | runs (µs/tx) |',
      '|---|---|---|---|---|---|---|',
      ...VARIANTS.map((v) => `| ${v} | ${median(tps.get(v)!).toFixed(1)} | ${(median(tps.get(v)!) / base).toFixed(3)} | ${tps.get(v)!.join(', ')} | ${median(cpu.get(v)!)} µs | +${median(cpu.get(v)!) - baseCpu} µs | ${cpu.get(v)!.join(', ')} |`),
      '',
    );
  } finally {
    await db.close();
  }
}

const lines: string[] = [`sysbench oltp_write_only, 4 tables × 10,000 rows, 2 threads, ${SECONDS} s per run, ${RUNS} runs, variants rotating. ${new Date().toISOString()}`, ''];
for (const p of PROFILES) await profile(p, lines);
console.log(lines.join('\n'));
