/**
 * The harness itself, on real servers: every PostgreSQL major present starts
 * with logical decoding enabled, survives a crash-restart with its data, and
 * leaves nothing behind when closed.
 */
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { reapOrphans } from '../harness/registry.js';
import { availablePgVersions, repoRoot, runCli, spawnCli, startMariaDB, startNats, startPostgres, tempDir, waitFor } from '../harness/index.js';

describe('postgres harness', () => {
  it('finds Debian PostgreSQL 15 and the npm build of 17 (a dependency)', () => {
    if (process.env['DBWITNESS_PG_VERSIONS'] !== undefined) return;
    expect(availablePgVersions()).toEqual(expect.arrayContaining([15, 17]));
  });

  it.each(availablePgVersions())('PostgreSQL %i starts with wal_level=logical', async (version) => {
    await using pg = await startPostgres({ version });
    const [row] = await pg.query<{ server_version_num: string }>('show server_version_num');
    expect(Math.floor(Number(row?.server_version_num) / 10000)).toBe(version);
    const [wal] = await pg.query<{ wal_level: string }>('show wal_level');
    expect(wal?.wal_level).toBe('logical');
    const [slots] = await pg.query<{ max_replication_slots: string }>('show max_replication_slots');
    expect(Number(slots?.max_replication_slots)).toBeGreaterThanOrEqual(10);
  });

  it('keeps committed data across an immediate (crash) stop, then cleans up on close', async () => {
    const pg = await startPostgres({ database: 'clinic' });
    const dataDir = pg.dataDir;
    await pg.query('create table t (id int primary key)', [], { database: 'clinic' });
    await pg.query('insert into t values (1), (2)', [], { database: 'clinic' });
    await pg.stop('immediate');
    await expect(pg.query('select 1')).rejects.toThrow();
    await pg.start();
    const rows = await pg.query<{ n: string }>('select count(*) as n from t', [], { database: 'clinic' });
    expect(rows[0]?.n).toBe('2');
    await pg.restart();
    await waitFor(async () => (await pg.query('select 1 as ok'))[0], { what: 'restarted server' });
    await pg.close();
    await pg.close();
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('postgres harness options', () => {
  it('applies config and hba, and PostgreSQL 15 has pgaudit and wal2json', async () => {
    await using pg = await startPostgres({
      version: 15,
      // Debian's 15.19+ only lets trusted libraries act as output plugins;
      // pgoutput and test_decoding are trusted by default, wal2json is not.
      config: { shared_preload_libraries: 'pgaudit', 'pgaudit.log': 'write', output_plugin_libraries: 'pgoutput, test_decoding, wal2json' },
      hba: ['host all alice 127.0.0.1/32 scram-sha-256'],
    });
    await pg.query("create role alice login password 'right horse'");
    const [me] = await pg.query<{ u: string }>('select current_user as u', [], { user: 'alice', password: 'right horse' });
    expect(me?.u).toBe('alice');
    await expect(pg.query('select 1', [], { user: 'alice', password: 'wrong' })).rejects.toThrow(/password authentication failed/);
    await pg.query('create extension pgaudit');
    const [setting] = await pg.query<{ v: string }>("select current_setting('pgaudit.log') as v");
    expect(setting?.v).toBe('write');
    await pg.query("select pg_create_logical_replication_slot('harness_w2j', 'wal2json')");
    const [slot] = await pg.query<{ plugin: string }>("select plugin from pg_replication_slots where slot_name = 'harness_w2j'");
    expect(slot?.plugin).toBe('wal2json');
    expect(pg.url({ user: 'alice', password: 'p@ss/word' })).toBe(`postgres://alice:p%40ss%2Fword@127.0.0.1:${pg.port}/postgres`);
    expect(existsSync(`${pg.clientBinDir}/pg_recvlogical`) && existsSync(`${pg.clientBinDir}/pgbench`)).toBe(true);
  });
});

describe('mariadb harness', () => {
  it('starts with a row-based, full-image binlog and root over TCP, survives a crash, cleans up', async () => {
    const db = await startMariaDB({ database: 'clinic', config: { 'max-connections': '77' } });
    const dataDir = db.dataDir;
    const [vars] = await db.query<Record<string, string>>(
      'select @@log_bin as log_bin, @@binlog_format as format, @@binlog_row_image as image, @@binlog_row_metadata as metadata, @@gtid_strict_mode as strict, @@server_id as server_id, @@max_connections as max_conn',
    );
    expect(vars).toEqual({ log_bin: '1', format: 'ROW', image: 'FULL', metadata: 'FULL', strict: '1', server_id: String(db.serverId), max_conn: '77' });
    expect(db.url({ database: 'clinic' })).toBe(`mysql://root@127.0.0.1:${db.port}/clinic`);
    await db.query('create table t (id bigint primary key, amount decimal(20,2))', [], { database: 'clinic' });
    await db.query('insert into t values (?, ?)', ['9223372036854775807', '12345678901234567.89'], { database: 'clinic' });
    await db.stop('immediate');
    await db.start();
    const rows = await db.query<{ id: string; amount: string }>('select id, amount from t', [], { database: 'clinic' });
    expect(rows).toEqual([{ id: '9223372036854775807', amount: '12345678901234567.89' }]);
    const logs = await db.query<{ Log_name: string }>('show binary logs');
    expect(logs.length).toBeGreaterThanOrEqual(2);
    await db.close();
    await db.close();
    expect(existsSync(dataDir)).toBe(false);
  });
});

/** Reads the INFO line a NATS server sends first on every client connection. */
function natsInfo(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\r\n');
      if (end === -1) return;
      socket.destroy();
      const line = buffer.slice(0, end);
      if (!line.startsWith('INFO ')) reject(new Error(`unexpected greeting: ${line}`));
      else resolve(JSON.parse(line.slice(5)) as Record<string, unknown>);
    });
    socket.once('error', reject);
  });
}

describe('nats harness', () => {
  it('starts with JetStream, restarts on the same port, cleans up', async () => {
    const nats = await startNats();
    expect(nats.url()).toBe(`nats://127.0.0.1:${nats.port}`);
    const info = await natsInfo(nats.port);
    expect(info['jetstream']).toBe(true);
    await nats.stop();
    await expect(natsInfo(nats.port)).rejects.toThrow();
    await nats.start();
    expect((await natsInfo(nats.port))['port']).toBe(nats.port);
    const storeDir = nats.storeDir;
    await nats.close();
    await nats.close();
    expect(existsSync(storeDir)).toBe(false);
  });

  it('can run without JetStream', async () => {
    await using nats = await startNats({ jetstream: false });
    expect((await natsInfo(nats.port))['jetstream']).toBeUndefined();
  });
});

describe('cli, wait and temp helpers', () => {
  it('runs the built CLI and reports its exit code and output', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('dbwitness');
    const bad = await runCli(['no-such-command']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command/i);
  });

  it('spawns a long-running CLI that the test can kill', async () => {
    const child = spawnCli(['--version']);
    const exit = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(exit).toBe(0);
  });

  it('waitFor returns the first truthy value and names what timed out', async () => {
    let calls = 0;
    await expect(waitFor(() => (++calls >= 3 ? `done after ${calls}` : undefined), { intervalMs: 1 })).resolves.toBe('done after 3');
    await expect(
      waitFor(
        () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 50, intervalMs: 5, what: 'the marker row' },
      ),
    ).rejects.toThrow(/waiting for the marker row; last error: connection refused/);
  });

  it('tempDir creates a fresh, empty directory', async () => {
    const a = await tempDir('x-');
    const b = await tempDir('x-');
    expect(a).not.toBe(b);
    expect(readdirSync(a)).toEqual([]);
    expect(existsSync(b)).toBe(true);
  });
});

/** Starts the leaky child, returns it with its server's data dir and postmaster pid. */
async function leakyChild(mode: 'exit' | 'hang') {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/harness/fixtures-leaky-child.ts'), mode], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (out += chunk));
  const { dataDir, postmaster } = await waitFor(
    () => (out.includes('\n') ? (JSON.parse(out.split('\n')[0]!) as { dataDir: string; postmaster: number }) : undefined),
    { what: 'the child to start PostgreSQL', timeoutMs: 60_000 },
  );
  expect(postmaster).toBeGreaterThan(0);
  return { child, dataDir, postmaster };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('cleanup of servers a test process leaves behind', () => {
  it('stops the server and removes its dir when the process exits without closing it', async () => {
    const { child, dataDir, postmaster } = await leakyChild('exit');
    await waitFor(() => child.exitCode !== null, { what: 'the child to exit' });
    expect(alive(postmaster)).toBe(false);
    expect(existsSync(dirname(dataDir))).toBe(false);
  });

  it('reaps the server of a process killed with SIGKILL', async () => {
    const { child, dataDir, postmaster } = await leakyChild('hang');
    child.kill('SIGKILL');
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, { what: 'the child to die' });
    expect(alive(postmaster)).toBe(true); // nothing could run in the killed process
    reapOrphans();
    await waitFor(() => !alive(postmaster), { what: 'the orphaned postmaster to exit' });
    expect(existsSync(dirname(dataDir))).toBe(false);
  });
});
