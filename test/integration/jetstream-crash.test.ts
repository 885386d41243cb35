/**
 * Crashes at random moments, as separate processes: two edges (the real
 * pipeline into the JetStream output) and two `dbwitness archive` processes
 * sharing one store directory (one active by lease, one standby). The test
 * kills an edge with SIGKILL twice, kills the active archiver with SIGKILL,
 * and kills and restarts nats-server, then checks that every change of both
 * sources is in the archive exactly once and both chains verify.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type KV, type NatsConnection } from 'nats';
import { repoRoot, spawnCli, startNats, tempDir, waitFor, type NatsServer } from '../harness/index.js';
import { assertChainValid, exactlyOnceProblems, readChain, setupNats } from './jetstream-helpers.js';

const TX = 1200;
const PER_TX = 2;
const RATE = 200; // transactions per second per edge
const SOURCES = ['edge-k1', 'edge-k2'] as const;

const children = new Set<ChildProcess>();

/** Every process started, with the end of its stderr: a failure reports them, so a stuck wait says which process died and why. */
const started: Array<{ label: string; child: ChildProcess; stderr: string }> = [];
const STDERR_KEEP = 4000;
let natsLogFile = '';

function track(child: ChildProcess, label: string): ChildProcess {
  children.add(child);
  const entry = { label, child, stderr: '' };
  started.push(entry);
  child.once('exit', () => children.delete(child));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    entry.stderr = (entry.stderr + d).slice(-STDERR_KEEP);
  });
  child.stdout?.resume();
  return child;
}

function natsLogTail(): string {
  try {
    return readFileSync(natsLogFile, 'utf8').slice(-STDERR_KEEP).trimEnd();
  } catch (err) {
    return `(no log: ${(err as Error).message})`;
  }
}

function processReport(): string {
  return started
    .map(({ label, child, stderr }) => {
      const state = child.exitCode !== null ? `exited ${child.exitCode}` : child.signalCode !== null ? `killed by ${child.signalCode}` : 'running';
      return `--- ${label} (pid ${child.pid}): ${state}${stderr.trim() === '' ? '' : `, stderr ends:\n${stderr.trimEnd()}`}`;
    })
    .join('\n');
}

function spawnEdge(url: string, id: string): ChildProcess {
  const runner = join(repoRoot, 'test', 'integration', 'fixtures', 'jetstream-edge-runner.ts');
  const args = JSON.stringify({ url, id, transactions: TX, changesPerTx: PER_TX, txPerSecond: RATE });
  return track(spawn(process.execPath, ['--import', 'tsx', runner, args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }), `edge ${id}`);
}

function spawnArchiver(url: string, storeDir: string): ChildProcess {
  return track(spawnCli(['archive', '--from', url, '--store', storeDir, '--unsigned', '--lease-ttl', '3s', '--batch', '200', '--log-level', 'warn']), 'archiver');
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

function between(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo));
}

describe('JetStream crash safety (kill -9 of edges and archiver, NATS restart)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let checkpoints: KV;
  let leases: KV;

  beforeAll(async () => {
    nats = await startNats();
    natsLogFile = nats.logFile;
    await setupNats(nats.url());
    nc = await connect({ servers: nats.url(), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    checkpoints = await nc.jetstream().views.kv('dbwitness_checkpoints', { bindOnly: true });
    leases = await nc.jetstream().views.kv('dbwitness_archiver', { bindOnly: true });
  });
  afterAll(async () => {
    await Promise.all([...children].map(killHard));
    await nc?.close().catch(() => undefined);
    await nats?.close();
  });

  async function checkpointOf(id: string): Promise<number> {
    const e = await checkpoints.get(id);
    return e === null ? 0 : Number((e.json() as { checkpoint: string }).checkpoint);
  }

  async function archived(storeDir: string): Promise<number> {
    let n = 0;
    for (const id of SOURCES) n += (await readChain(storeDir, id)).length;
    return n;
  }

  it('stores every change exactly once', async () => {
    try {
      const storeDir = join(await tempDir('js-crash-'), 'store');
      const url = nats.url();
      const archivers = [spawnArchiver(url, storeDir), spawnArchiver(url, storeDir)];
      const edges = new Map<string, ChildProcess>(SOURCES.map((id) => [id, spawnEdge(url, id)]));
      const plan = { edgeKill1: between(100, 400), archiverKill: between(400, 1500), natsRestart: between(300, 800), edgeKill2: between(600, 1000) };
      const what = (step: string): string => `${step} (plan ${JSON.stringify(plan)})`;

      await waitFor(async () => (await checkpointOf('edge-k1')) >= plan.edgeKill1, { what: what('edge-k1 checkpoint before its first kill'), timeoutMs: 30_000 });
      await killHard(edges.get('edge-k1')!);
      edges.set('edge-k1', spawnEdge(url, 'edge-k1'));

      await waitFor(async () => (await archived(storeDir)) >= plan.archiverKill, { what: what('events archived before the archiver kill'), timeoutMs: 30_000 });
      const holder = (await leases.get('archive'))?.json<{ holder: string }>().holder ?? '';
      const pid = Number(holder.split(':')[1]);
      const active = archivers.find((a) => a.pid === pid);
      expect(active, `lease holder ${holder} is one of the archivers`).toBeDefined();
      await killHard(active!);
      archivers.push(spawnArchiver(url, storeDir));

      await waitFor(async () => (await checkpointOf('edge-k2')) >= plan.natsRestart, { what: what('edge-k2 checkpoint before the NATS restart'), timeoutMs: 30_000 });
      await nats.stop('immediate');
      await nats.start();

      await waitFor(async () => (await checkpointOf('edge-k1')) >= plan.edgeKill2, { what: what('edge-k1 checkpoint before its second kill'), timeoutMs: 60_000 });
      await killHard(edges.get('edge-k1')!);
      edges.set('edge-k1', spawnEdge(url, 'edge-k1'));

      for (const id of SOURCES) await waitFor(async () => (await checkpointOf(id)) === TX, { what: what(`${id} fully published`), timeoutMs: 60_000 });
      await waitFor(async () => (await archived(storeDir)) >= SOURCES.length * TX * PER_TX, { what: what('every event archived'), timeoutMs: 60_000 });
      // Give a late duplicate every chance to show up: wait until the archiver has acknowledged everything.
      const jsm = await nc.jetstreamManager();
      await waitFor(async () => (await jsm.consumers.info('DBWITNESS', 'dbwitness-archiver')).num_ack_pending === 0 && (await jsm.consumers.info('DBWITNESS', 'dbwitness-archiver')).num_pending === 0, { what: 'the archiver caught up', timeoutMs: 30_000 });

      await Promise.all([...children].map(killHard));
      for (const id of SOURCES) {
        const events = await readChain(storeDir, id);
        assertChainValid(events);
        expect(exactlyOnceProblems(events, TX, PER_TX), `${id} with plan ${JSON.stringify(plan)}`).toEqual([]);
      }
    } catch (err) {
      // Name the processes (edges, archivers) and how each ended: a wait that times out says nothing about who stopped.
      // The harness deletes the server's directory afterwards, so its log's end goes into the message too.
      if (err instanceof Error) err.message += `\n${processReport()}\n--- nats-server log ends:\n${natsLogTail()}`;
      throw err;
    }
  }, 240_000);
});
