/**
 * Private NATS servers for tests (Debian's nats-server 2.9), JetStream on by
 * default with its store in a temp dir, so streams survive stop/start.
 *
 * @example
 *   await using nats = await startNats();
 *   connect({ servers: nats.url() });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { serverEnv, tailText } from './proc.js';
import { freePort } from './ports.js';
import { killQuietly, recordServerPid, register, rmDirSync } from './registry.js';
import { makeHarnessDir } from './temp.js';
import { waitFor } from './wait.js';

export interface NatsServer extends AsyncDisposable {
  readonly port: number;
  /** HTTP monitoring port (/healthz, /varz, /jsz). */
  readonly monitorPort: number;
  readonly storeDir: string;
  readonly logFile: string;
  /** nats://127.0.0.1:port */
  url(): string;
  /** 'fast' = SIGTERM (clean); 'immediate' = SIGKILL. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same ports and store; `jetstream: false` for this run only (a NATS that answers but has no JetStream). */
  start(opts?: { jetstream?: boolean }): Promise<void>;
  /** Stops the server and deletes its directory. Idempotent. */
  close(): Promise<void>;
}

const NATS_SERVER = '/usr/sbin/nats-server';

export async function startNats(opts: { jetstream?: boolean } = {}): Promise<NatsServer> {
  if (!existsSync(NATS_SERVER)) throw new Error(`nats-server is not installed (${NATS_SERVER} missing); install it with: apt-get install nats-server`);
  const server = new PrivateNats(opts.jetstream ?? true);
  try {
    for (let attempt = 1; ; attempt++) {
      server.usePorts(await freePort(), await freePort());
      try {
        await server.start();
        return server;
      } catch (err) {
        if (attempt >= 4 || !(err instanceof PortInUseError)) throw err;
      }
    }
  } catch (err) {
    await server.close();
    throw err;
  }
}

class PortInUseError extends Error {}

class PrivateNats implements NatsServer {
  readonly storeDir: string;
  readonly logFile: string;
  #port = 0;
  #monitorPort = 0;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #base: string;
  readonly #jetstream: boolean;
  readonly #unregister: () => void;

  constructor(jetstream: boolean) {
    this.#jetstream = jetstream;
    this.#base = makeHarnessDir('nats-');
    this.storeDir = join(this.#base, 'jetstream');
    this.logFile = join(this.#base, 'nats.log');
    this.#unregister = register({ killSync: () => killQuietly(this.#child?.pid, 'SIGKILL'), dirs: [this.#base] });
  }

  get port(): number {
    return this.#port;
  }

  get monitorPort(): number {
    return this.#monitorPort;
  }

  usePorts(port: number, monitorPort: number): void {
    this.#port = port;
    this.#monitorPort = monitorPort;
  }

  url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  async start(opts: { jetstream?: boolean } = {}): Promise<void> {
    if (this.#closed) throw new Error('NATS server was closed; start a new one with startNats()');
    if (this.#child !== undefined) return;
    const args = ['-a', '127.0.0.1', '-p', String(this.#port), '-m', String(this.#monitorPort), '-l', this.logFile];
    if (opts.jetstream ?? this.#jetstream) args.push('-js', '-sd', this.storeDir);
    const child = spawn(NATS_SERVER, args, { cwd: this.#base, env: serverEnv(), stdio: 'ignore' });
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
      // /healthz answers 200 only once the client listener and JetStream are up.
      await waitFor(
        async () => {
          if (exitCode !== undefined) throw new Error(`nats-server exited with code ${String(exitCode)}`);
          return (await httpStatus(`http://127.0.0.1:${this.#monitorPort}/healthz`)) === 200;
        },
        { what: `nats-server on port ${this.#port} to report healthy`, timeoutMs: 30_000 },
      );
    } catch (err) {
      const log = existsSync(this.logFile) ? tailText(readFileSync(this.logFile, 'utf8')) : '(no log)';
      await this.stop('immediate');
      if (/address already in use/i.test(log)) throw new PortInUseError(`port ${this.#port} or ${this.#monitorPort} is taken`);
      throw new Error(`nats-server did not start: ${(err as Error).message}\n--- ${this.logFile} ---\n${log}`);
    }
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill(mode === 'fast' ? 'SIGTERM' : 'SIGKILL');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await this.#exited;
    clearTimeout(timer);
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
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
  });
}
