/**
 * One MariaDB connection seen by both MariaDB sources: the binlog change it
 * makes (identity from the session marker) and its login, read and write in
 * the server_audit log carry the same session_id, `<@@hostname>:<id>`, so a
 * reviewer can join a change to that session's logins and reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { silentLogger } from '../../src/core/logger.js';
import type { SourceMessage } from '../../src/core/ports.js';
import { MariadbAuditSourceConfig, openMariadbAuditSource, SERVER_AUDIT_EVENTS } from '../../adapters/mariadb-audit/index.js';
import { waitFor, type MariaDbServer } from '../harness/index.js';
import { applySetup, Collector, openSource, sourceConfig, startClinic, transactions } from './mysql-fixture.js';

describe('session_id joins binlog changes and server_audit records of one connection', () => {
  let db: MariaDbServer;
  beforeAll(async () => {
    db = await startClinic({ 'plugin-load-add': 'server_audit', 'server-audit-logging': 'ON', 'server-audit-events': SERVER_AUDIT_EVENTS });
    await applySetup(sourceConfig(db));
  });
  afterAll(async () => {
    await db?.close();
  });

  it('gives the change and the login, read and write of the same connection one session_id', async () => {
    const binlog = await openSource(sourceConfig(db));
    const c = new Collector(binlog, null);
    const audit = await openMariadbAuditSource(MariadbAuditSourceConfig.parse({ id: 'audit', url: `mariadb-audit://${join(db.dataDir, 'server_audit.log')}`, tables: ['clinic.patients'], poll_ms: 20 }), { logger: silentLogger() });
    const ac = new AbortController();
    const logged: Array<{ sid: string | null; user: string | null; action: string }> = [];
    const tail = (async () => {
      let sid: string | null = null;
      let user: string | null = null;
      for await (const m of audit.messages(null, ac.signal) as AsyncIterable<SourceMessage>) {
        if (m.kind === 'identity') [sid, user] = [m.identity.session_id, m.identity.db_user];
        if (m.kind === 'change') logged.push({ sid, user, action: m.change.action });
      }
    })();
    try {
      await c.until((x) => x.messages.some((m) => m.kind === 'idle'), 'binlog source started');
      const conn = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'alice', password: 'alice-pw' });
      let expected: string;
      try {
        const [r] = await conn.query('SELECT CONCAT(@@hostname, ":", CONNECTION_ID()) AS sid');
        expected = (r as Array<{ sid: string }>)[0]!.sid;
        await conn.query('SELECT * FROM clinic.patients WHERE id > 0');
        await conn.beginTransaction();
        await conn.query("INSERT INTO clinic.patients VALUES (1, 'M1', 'Ann', NULL, NULL)");
        await conn.commit();
      } finally {
        await conn.end();
      }

      const tx = await c.until(() => transactions(c.messages).find((t) => t.some((m) => m.kind === 'change' && m.change.key?.['id'] === '1')), 'binlog change');
      const identity = tx.find((m) => m.kind === 'identity');
      expect(identity).toMatchObject({ identity: { db_user: 'alice', session_id: expected } });

      await waitFor(() => ['login', 'read', 'insert', 'logout'].every((a) => logged.some((l) => l.sid === expected && l.action === a)) || undefined, { what: `server_audit records of ${expected}` });
      // Nothing of alice's under another id, on either side.
      expect(new Set(logged.filter((l) => l.user === 'alice').map((l) => l.sid))).toEqual(new Set([expected]));
      expect(new Set(c.messages.flatMap((m) => (m.kind === 'identity' ? [m.identity.session_id] : [])))).toEqual(new Set([expected]));
    } finally {
      ac.abort();
      await tail.catch(() => undefined);
      await audit.close();
      await c.stop();
      await binlog.close();
    }
  });
});
