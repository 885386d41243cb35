/**
 * Identity triggers from an earlier setup (they called the marker
 * procedure once per transaction): still correct, doctor warns, setup
 * --apply replaces them, and uninstall finds both generations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MariaDbServer } from '../harness/index.js';
import { mysqlAdapter } from '../../adapters/mysql/index.js';
import { markerNames } from '../../adapters/mysql/mysql-setup-plan.js';
import { triggerDdl, triggerName } from '../../adapters/mysql/session-marker.js';
import { applySetup, ctx, sourceConfig, startClinic } from './mysql-fixture.js';

describe('identity triggers of an earlier setup (MariaDB 10.11)', () => {
  let db: MariaDbServer;
  beforeAll(async () => {
    db = await startClinic();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('are flagged by doctor, replaced by setup, removed by uninstall', async () => {
    const config = sourceConfig(db);
    await applySetup(config);
    const ok = await mysqlAdapter.doctor(config, ctx);
    expect(ok.find((f) => f.id === 'mysql.triggers')?.status).toBe('ok');
    expect(ok.find((f) => f.id === 'mysql.triggers_current')).toBeUndefined();

    // The earlier generation: the insert trigger of clinic.patients calls the procedure.
    await db.query(`CREATE OR REPLACE DEFINER='dbwitness_marker'@'localhost' PROCEDURE dbwitness.mark_session() SQL SECURITY DEFINER BEGIN DO 0; END`);
    await db.query(`CREATE OR REPLACE DEFINER='dbwitness_marker'@'localhost' TRIGGER clinic.${triggerName('patients', 'insert')} AFTER INSERT ON clinic.patients FOR EACH ROW BEGIN CALL dbwitness.mark_session(); END`);
    const old = await mysqlAdapter.doctor(config, ctx);
    expect(old.find((f) => f.id === 'mysql.triggers')?.status).toBe('ok');
    expect(old.find((f) => f.id === 'mysql.triggers_current')).toMatchObject({ status: 'warn', detail: expect.stringContaining('clinic.patients') });

    await applySetup(config);
    const again = await mysqlAdapter.doctor(config, ctx);
    expect(again.find((f) => f.id === 'mysql.triggers_current')).toBeUndefined();
    const [body] = await db.query<{ a: string }>('SELECT ACTION_STATEMENT AS a FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = ?', [triggerName('patients', 'insert')]);
    expect(body!.a).not.toContain('mark_session');

    // Triggers left on a table no longer in the config are found by what
    // they call (earlier setup) or write (this one).
    await db.query('CREATE TABLE clinic.archive (id INT PRIMARY KEY)');
    await db.query(`CREATE DEFINER='dbwitness_marker'@'localhost' TRIGGER clinic.${triggerName('archive', 'insert')} AFTER INSERT ON clinic.archive FOR EACH ROW BEGIN CALL dbwitness.mark_session(); END`);
    await db.query(triggerDdl(markerNames(config), 'clinic', 'archive', 'update'));
    await mysqlAdapter.applyPlan(config, await mysqlAdapter.planUninstall(config, ctx), ctx);
    expect(await db.query("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_NAME LIKE 'dbwitness\\_%'")).toEqual([]);
    expect(await db.query("SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'dbwitness' AND ROUTINE_NAME = 'mark_session'")).toEqual([]);
  });
});
