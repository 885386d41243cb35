/**
 * `dbwitness run` with `output: { kind: jetstream }` in its config (edge
 * mode) and `dbwitness archive` (central mode), both through the CLI:
 * PostgreSQL changes reach the central, verifiable store exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/core/event.js';
import { readEvents } from '../../src/store/index.js';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import { runCli, spawnCli, startNats, startPostgres, tempDir, waitFor, type NatsServer, type PgServer } from '../harness/index.js';
import { applySetup, CLINIC_SQL, exec, pgConfig } from './postgres-fixture.js';

async function archived(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  try {
    for await (const r of readEvents(dir)) out.push(r.event);
  } catch {
    return [];
  }
  return out;
}

describe('run with JetStream output, then archive', () => {
  let pg: PgServer;
  let nats: NatsServer;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres({ version: 15, database: 'clinic' }), startNats({ jetstream: true })]);
    await pg.query(CLINIC_SQL.join(';'), [], { database: 'clinic' });
    await applySetup(pgConfig(pg, 'clinic'));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all([pg?.close(), nats?.close()]);
  });

  it('publishes attributed changes that the archiver chains and seals', async () => {
    const dir = await tempDir('dbw-edge-');
    const pair = generateSigningKeyPair();
    await writeFile(join(dir, 'signing.key'), pair.privatePem, { mode: 0o600 });
    await writeFile(join(dir, 'signing.pub'), pair.publicPem);
    const setup = await runCli(['setup', 'nats', '--url', nats.url(), '--replicas', '1', '--apply']);
    expect(setup.code, setup.stderr).toBe(0);
    const config = join(dir, 'edge.yaml');
    await writeFile(
      config,
      `sources:
  - id: clinic-edge
    url: ${pg.url({ database: 'clinic' })}
    tables: [clinic.patients]
redaction:
  default: keep
output:
  kind: jetstream
  servers: ${nats.url()}
`,
    );
    const edge = spawnCli(['run', '--config', config]);
    children.push(edge);
    const central = join(dir, 'central');
    const archiver = spawnCli(['archive', '--from', nats.url(), '--store', central, '--signing-key', join(dir, 'signing.key')]);
    children.push(archiver);

    await exec(pg.url({ database: 'clinic' }), ["INSERT INTO clinic.patients (id, mrn, name) VALUES (1, 'M1', 'Ada'), (2, 'M2', 'Grace')"], { appUser: 'dr-edge', application: 'ehr' });
    await exec(pg.url({ database: 'clinic' }), ['UPDATE clinic.patients SET balance = 10.25 WHERE id = 2']);

    const events = await waitFor(async () => {
      const e = (await archived(central)).filter((x) => x.source.id === 'clinic-edge' && x.action !== 'alert');
      return e.length >= 3 ? e : undefined;
    }, { timeoutMs: 60_000, what: 'three archived events from the edge' });
    expect(events.map((e) => [e.action, e.object?.key?.id, e.actor.app_user])).toEqual([
      ['insert', '1', 'dr-edge'],
      ['insert', '2', 'dr-edge'],
      ['update', '2', null],
    ]);
    expect(events[2]!.changes!.after).toMatchObject({ balance: '10.25' });
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);

    edge.kill('SIGTERM');
    archiver.kill('SIGTERM');
    await waitFor(() => edge.exitCode !== null && archiver.exitCode !== null, { timeoutMs: 30_000, what: 'edge and archiver to exit' });
    expect(edge.exitCode).toBe(0);
    const verify = await runCli(['verify', central, '--public-key', join(dir, 'signing.pub')]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('refuses --store together with a JetStream output', async () => {
    const dir = await tempDir('dbw-edge-conflict-');
    const config = join(dir, 'edge.yaml');
    await writeFile(config, `sources:\n  - id: x\n    url: ${pg.url({ database: 'clinic' })}\n    tables: [clinic.patients]\nredaction:\n  default: keep\noutput:\n  kind: jetstream\n  servers: ${nats.url()}\n`);
    const r = await runCli(['run', '--config', config, '--store', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/both --store and an `output: jetstream`/);
  });
});
