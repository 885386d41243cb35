/**
 * The conformance workload: the same clinic transactions, by the same staff
 * accounts, against every engine, through the real `dbwitness run` process,
 * must produce the same audit events (modulo engine-specific positions).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import type { AuditEvent } from '../../src/core/event.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readEvents } from '../../src/store/reader.js';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import { runCli, spawnCli, tempDir, waitFor } from '../harness/index.js';
import type { ConformanceTarget } from './target.js';

async function storedEvents(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  try {
    for await (const ref of readEvents(dir)) out.push(ref.event);
  } catch {
    return [];
  }
  return out;
}

/** Other alert rules (e.g. DDL on audited tables) may fire too; this one must. */
function isUnattributedAlert(e: AuditEvent): boolean {
  return e.action === 'alert' && e.detail?.code === 'unattributed_change';
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export function conformanceSuite(name: string, makeTarget: () => Promise<ConformanceTarget>): void {
  describe(`conformance: ${name}`, () => {
    let target: ConformanceTarget;
    let store: string;
    let daemon: ChildProcess;
    let stderr = '';
    let publicKey = '';
    const changes = (events: AuditEvent[]) => events.filter((e) => e.action !== 'alert' && e.action !== 'heartbeat' && e.action !== 'ddl');

    beforeAll(async () => {
      target = await makeTarget();
      await target.prepare();
      store = await tempDir('dbw-conformance-');
      const keys = await tempDir('dbw-conformance-keys-');
      const pair = generateSigningKeyPair();
      await writeFile(join(keys, 'signing.key'), pair.privatePem, { mode: 0o600 });
      await writeFile(join(keys, 'signing.pub'), pair.publicPem);
      publicKey = join(keys, 'signing.pub');
      daemon = spawnCli(['run', ...target.runArgs(), '--store', store, '--signing-key', join(keys, 'signing.key'), '--redaction', 'keep', '--log-level', 'info']);
      daemon.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitFor(() => stderr.includes('"streaming"') || stderr.includes('streaming'), { timeoutMs: 30_000, what: `dbwitness run to start streaming (${name})` });

      // 1. alice admits a patient and records an encounter, through the EHR.
      await target.execAs('alice', [
        "INSERT INTO clinic.patients (id, mrn, name, dob, balance) VALUES (1, 'MRN-0001', 'Ada Lovelace', '1980-02-01', 10.50)",
        "INSERT INTO clinic.encounters (id, patient_id, note, seen_at) VALUES (10, 1, 'first visit', '2026-01-01 10:00:00.123456')",
      ], { appUser: 'dr-alice', application: 'ehr-web' });
      // 2. bob (billing) changes the balance.
      await target.execAs('bob', ['UPDATE clinic.patients SET balance = 12345678901.99 WHERE id = 1'], { appUser: 'billing-7', application: 'billing' });
      // 3. admin bulk-loads two patients in one multi-row statement.
      await target.execAs('admin', ["INSERT INTO clinic.patients (id, mrn, name) VALUES (2, 'MRN-0002', 'Grace Hopper'), (3, 'MRN-0003', 'Alan Turing')"]);
      // 4. alice deletes the encounter.
      await target.execAs('alice', ['DELETE FROM clinic.encounters WHERE id = 10'], { appUser: 'dr-alice', application: 'ehr-web' });
      // 5. an edit that evades the identity mechanism.
      await target.execWithoutIdentity(["UPDATE clinic.patients SET name = 'G. Hopper' WHERE id = 2"]);

      await waitFor(async () => (await storedEvents(store)).some(isUnattributedAlert), { timeoutMs: 60_000, what: `the evasion alert in the store (${name})` });
      daemon.kill('SIGTERM');
    }, 180_000);

    afterAll(async () => {
      if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
      await target?.[Symbol.asyncDispose]();
    });

    it('drains and exits 0 on SIGTERM', async () => {
      expect(await exited(daemon)).toBe(0);
    });

    it('writes one event per changed row, in commit order, with exact values', async () => {
      const events = changes(await storedEvents(store));
      expect(events.map((e) => [e.action, e.object?.table, e.object?.key])).toEqual([
        ['insert', 'patients', { id: '1' }],
        ['insert', 'encounters', { id: '10' }],
        ['update', 'patients', { id: '1' }],
        ['insert', 'patients', { id: '2' }],
        ['insert', 'patients', { id: '3' }],
        ['delete', 'encounters', { id: '10' }],
        ['update', 'patients', { id: '2' }],
      ]);
      const [ins, enc, upd] = events;
      expect(ins!.changes!.after).toMatchObject({ id: '1', mrn: 'MRN-0001', name: 'Ada Lovelace', dob: '1980-02-01', balance: '10.50' });
      expect(ins!.changes!.before).toBeNull();
      expect(enc!.changes!.after).toMatchObject({ seen_at: '2026-01-01 10:00:00.123456', note: 'first visit' });
      expect(upd!.changes!.before).toMatchObject({ balance: '10.50' });
      expect(upd!.changes!.after).toMatchObject({ balance: '12345678901.99' });
      expect(upd!.changes!.columns).toEqual(['balance']);
      expect(events[5]!.changes!.after).toBeNull();
      expect(events[5]!.changes!.before).toMatchObject({ id: '10', patient_id: '1' });
    });

    it('places each change in its transaction', async () => {
      const events = changes(await storedEvents(store));
      expect(events.map((e) => [e.tx!.index, e.tx!.count])).toEqual([[0, 2], [1, 2], [0, 1], [0, 2], [1, 2], [0, 1], [0, 1]]);
      expect(events[0]!.tx!.id).toBe(events[1]!.tx!.id);
      expect(events[0]!.tx!.id).not.toBe(events[2]!.tx!.id);
    });

    it('attributes every change to the session that made it', async () => {
      const events = changes(await storedEvents(store));
      const who = events.map((e) => [e.actor.db_user, e.actor.app_user, e.actor.identity]);
      expect(who.slice(0, 6)).toEqual([
        [target.dbUser('alice'), 'dr-alice', 'verified'],
        [target.dbUser('alice'), 'dr-alice', 'verified'],
        [target.dbUser('bob'), 'billing-7', 'verified'],
        [target.dbUser('admin'), null, 'verified'],
        [target.dbUser('admin'), null, 'verified'],
        [target.dbUser('alice'), 'dr-alice', 'verified'],
      ]);
      for (const e of events.slice(0, 6)) {
        expect(e.actor.client_addr).toMatch(/^127\./);
        expect(e.actor.session_id).toBeTruthy();
      }
      expect(events[0]!.actor.session_id).toBe(events[1]!.actor.session_id);
      expect(events[0]!.actor.session_id).not.toBe(events[2]!.actor.session_id);
    });

    it('marks the evasion unattributed and raises an alert', async () => {
      const all = await storedEvents(store);
      const evaded = changes(all).at(-1)!;
      expect(evaded.actor.identity).toBe('unattributed');
      const alert = all.find(isUnattributedAlert)!;
      expect(alert.detail).toMatchObject({ code: 'unattributed_change', changes: '1', tables: 'clinic.patients' });
      expect(alert.detail!.tx_id).toBe(evaded.tx!.id);
    });

    it('stores commit times with microseconds and a verifiable chain', async () => {
      const events = await storedEvents(store);
      for (const e of events) expect(e.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const verify = await runCli(['verify', store, '--public-key', publicKey]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    });
  });
}
