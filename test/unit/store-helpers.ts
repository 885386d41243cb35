/** Shared fixtures for the store, verify and query tests. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DraftEvent, Source } from '../../src/core/event.js';
import { eventId } from '../../src/core/ids.js';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import { openStore } from '../../src/store/index.js';
import type { FileChain } from '../../src/store/file-chain.js';

export const SOURCE: Source = { id: 'clinic-pg', engine: 'postgres', server: 'db1:5432', database: 'clinic' };

export function draft(i: number, over: Partial<DraftEvent> = {}, source: Source = SOURCE): DraftEvent {
  const position = `0/${(0x1000 + i).toString(16).toUpperCase()}`;
  return {
    v: 1,
    id: eventId(source.id, position, `tx${i}`, 0),
    time: `2026-11-26T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.123456Z`,
    source,
    position,
    tx: { id: `tx${i}`, index: 0, count: 1 },
    actor: { db_user: i % 2 === 0 ? 'alice' : 'bob', role: null, app_user: null, client_addr: '127.0.0.1', client_port: 50000 + (i % 1000), application: 'psql', session_id: '6745a1b2.1f2c', identity: 'verified' },
    action: i % 3 === 0 ? 'insert' : i % 3 === 1 ? 'update' : 'delete',
    outcome: 'success',
    object: { schema: 'clinic', table: i % 2 === 0 ? 'patients' : 'encounters', key: { id: String(i) } },
    subject: { patient_id: String(i % 50) },
    changes: { columns: ['id', 'name', 'hash'], before: null, after: { id: String(i), name: `Patient ${i} "quoted" ü`, hash: 'x' } },
    statement: null,
    detail: null,
    ...over,
  };
}

export function drafts(from: number, to: number, source: Source = SOURCE): DraftEvent[] {
  const out: DraftEvent[] = [];
  for (let i = from; i < to; i++) out.push(draft(i, {}, source));
  return out;
}

export interface TempStore extends AsyncDisposable {
  readonly root: string;
  readonly dir: string;
  readonly keyFile: string;
  readonly publicKeyFile: string;
}

export async function tempStore(): Promise<TempStore> {
  const root = await mkdtemp(join(tmpdir(), 'dbw-store-'));
  const keys = generateSigningKeyPair();
  const keyFile = join(root, 'store-key.pem');
  const publicKeyFile = join(root, 'store-key.pub.pem');
  await writeFile(keyFile, keys.privatePem, { mode: 0o600 });
  await writeFile(publicKeyFile, keys.publicPem);
  return {
    root,
    dir: join(root, 'store'),
    keyFile,
    publicKeyFile,
    async [Symbol.asyncDispose]() {
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * Segments 1..4 sealed with 5 events each (seq 1..20, drafts 0..19), segment
 * 5 open with seq 21..22 (drafts 1000, 1001): the usual store for retention,
 * archive and verify tests. `between` runs after the first three events of
 * segment 1 were appended (e.g. to index part of a segment).
 */
export async function fourSealed(t: TempStore, between?: () => Promise<void>): Promise<void> {
  const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
  const chain = (await store.openChain(SOURCE)) as FileChain;
  for (let i = 0; i < 4; i++) {
    await chain.append(drafts(i * 5, i * 5 + 3), `cp${i}a`);
    if (i === 0 && between) await between();
    await chain.append(drafts(i * 5 + 3, i * 5 + 5), `cp${i}b`);
    await chain.rotate();
  }
  await chain.append(drafts(1000, 1002), 'open');
  await store.close();
}

const CLI_MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

/**
 * Runs the CLI from source (no build needed). `shiftMs` moves the child's
 * clock forward, e.g. past retention.keep, since segments cannot be sealed
 * in the past.
 */
export function cliFromSource(args: string[], opts: { shiftMs?: number; env?: Record<string, string> } = {}): { code: number | null; stdout: string; stderr: string } {
  const shift = opts.shiftMs ?? 0;
  const clock = shift === 0 ? '' : ` --import=data:text/javascript,Date.now=((n)=>()=>n()+${shift})(Date.now);`;
  const env = { ...process.env, ...opts.env, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''}${clock}`.trim() };
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_MAIN, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
