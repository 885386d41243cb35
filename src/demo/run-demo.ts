/**
 * `dbwitness demo`: a throwaway PostgreSQL, the clinic schema, setup, the
 * auditor in-process, a short workload by several staff accounts, then the
 * trail, the verify result and where the store is. The server and its
 * files are removed on exit or Ctrl-C; the store is kept for `dbwitness
 * query` / `verify` unless --no-keep.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { postgresAdapter } from '../../adapters/postgres/index.js';
import type { AuditEvent } from '../core/event.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { runPipeline } from '../pipeline/index.js';
import { openStore } from '../store/index.js';
import { generateSigningKeyPair } from '../store/keys.js';
import { verifyStore } from '../store/verify-store.js';
import { CLINIC_SETUP, playScene, SCENES } from './clinic-workload.js';
import { startDemoServer, type DemoServer } from './embedded-server.js';
import { renderTrail } from './trail-table.js';

export interface DemoOptions {
  readonly out: NodeJS.WritableStream;
  readonly logger?: Logger;
  /** Keep the store directory after the demo (default true). */
  readonly keepStore?: boolean;
  readonly signal?: AbortSignal;
}

export interface DemoResult {
  readonly storeDir: string | null;
  readonly events: readonly AuditEvent[];
  readonly verified: boolean;
}

async function admin(url: string, statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of statements) await client.query(s);
  } finally {
    await client.end();
  }
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const say = (s: string): void => void opts.out.write(`${s}\n`);
  const logger = opts.logger ?? silentLogger();
  let server: DemoServer | null = null;
  const onExit = (): void => server?.killSync();
  process.once('exit', onExit);
  const abort = new AbortController();
  opts.signal?.addEventListener('abort', () => abort.abort(), { once: true });
  const storeDir = await mkdtemp(join(tmpdir(), 'dbwitness-demo-store-'));
  const keyDir = await mkdtemp(join(tmpdir(), 'dbwitness-demo-keys-'));
  try {
    say('Starting a throwaway PostgreSQL 17 ...');
    server = await startDemoServer();
    await admin(server.url().replace(/\/clinic$/, '/postgres'), ['CREATE DATABASE clinic']);
    await admin(server.url(), CLINIC_SETUP);
    say(`  listening on 127.0.0.1:${server.port}; clinic schema with patients, encounters, prescriptions`);

    const config = postgresAdapter.configSchema.parse({ id: 'demo-clinic', url: server.url(), schemas: ['clinic'] });
    const ctx = { logger };
    const plan = await postgresAdapter.planSetup(config, ctx);
    await postgresAdapter.applyPlan(config, plan, ctx);
    say(`Ran \`dbwitness setup postgres --schema clinic --apply\`: ${plan.steps.length} steps (slot, publication, identity triggers, DDL capture)`);

    const pair = generateSigningKeyPair();
    await writeFile(join(keyDir, 'store-key.pem'), pair.privatePem, { mode: 0o600 });
    await writeFile(join(keyDir, 'store-key.pub.pem'), pair.publicPem);
    const store = await openStore(storeDir, { signingKeyFile: join(keyDir, 'store-key.pem'), logger });
    const source = await postgresAdapter.openSource(config, ctx);
    const chain = await store.openChain(source.source);
    const durable: AuditEvent[] = [];
    const pipeline = runPipeline({ source, chain, logger, signal: abort.signal, onDurable: (events) => durable.push(...events) });
    say('Auditor running in-process: WAL -> events -> signed, hash-chained store\n');

    for (const scene of SCENES) {
      if (abort.signal.aborted) break;
      if (scene.who !== '') say(`  ${scene.who}  [${scene.user} from ${scene.from}, ${scene.application}${scene.appUser === null ? '' : `, app user ${scene.appUser}`}]`);
      await playScene(server.url(scene.user), scene);
    }
    // Barrier: the last scene's DDL event is durable.
    const deadline = Date.now() + 30_000;
    while (!abort.signal.aborted && !durable.some((e) => e.action === 'ddl' && (e.statement ?? '').includes('ENABLE ALWAYS'))) {
      if (Date.now() > deadline) throw new Error('the auditor did not store the workload within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    abort.abort();
    await pipeline;
    await source.close();
    await chain.close();
    await store.close();

    say('\nThe audit trail:\n');
    opts.out.write(renderTrail(durable));
    const report = await verifyStore(storeDir, { publicKeyFile: join(keyDir, 'store-key.pub.pem') });
    say(`\nverify: ${report.ok ? 'OK' : 'FAILED'} — ${report.events} events, hash chain and signed seals checked against the demo's public key`);
    const keep = opts.keepStore ?? true;
    if (keep) {
      say(`store: ${storeDir}   (public key: ${join(keyDir, 'store-key.pub.pem')})`);
      say(`  try: dbwitness verify ${storeDir} --public-key ${join(keyDir, 'store-key.pub.pem')}`);
      say(`       dbwitness query ${storeDir}`);
    }
    return { storeDir: keep ? storeDir : null, events: durable, verified: report.ok };
  } finally {
    abort.abort();
    await server?.stop();
    process.off('exit', onExit);
    if (opts.keepStore === false) {
      await rm(storeDir, { recursive: true, force: true });
      await rm(keyDir, { recursive: true, force: true });
    }
  }
}
