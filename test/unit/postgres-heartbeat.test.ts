/**
 * The pure parts of PostgreSQL heartbeats: which messages the translator
 * turns into progress (and that nothing else changes), and how the tracker
 * derives lag seconds from nonces sent and seen.
 */
import { describe, expect, it } from 'vitest';
import { HeartbeatTracker, heartbeatNonce } from '../../adapters/postgres/heartbeat-tracker.js';
import { heartbeatFunctionSql } from '../../adapters/postgres/heartbeat-sql.js';
import { PgoutputTranslator } from '../../adapters/postgres/pgoutput-translator.js';
import type { PgoutputMessage } from '../../adapters/postgres/pgoutput-decoder.js';

function message(prefix: string, content: string, lsn: bigint, transactional = false): PgoutputMessage {
  return { tag: 'message', transactional, lsn, prefix, content: Buffer.from(content, 'utf8') };
}

function translator(): { t: PgoutputTranslator; nonces: Array<string | null> } {
  const nonces: Array<string | null> = [];
  const t = new PgoutputTranslator(async () => null, (n) => nonces.push(n));
  return { t, nonces };
}

const beat = (nonce: string): string => JSON.stringify({ v: 1, nonce, server_time: '2026-11-26T12:00:00.123456+00:00' });

describe('heartbeat messages in the translator', () => {
  it('a heartbeat outside a transaction is an idle checkpoint at its LSN, and its nonce is reported', async () => {
    const { t, nonces } = translator();
    expect(await t.translate(message('dbwitness.heartbeat', beat('abc'), 0x1_6b37_48n))).toEqual([{ kind: 'idle', checkpoint: '00000000/016B3748' }]);
    expect(nonces).toEqual(['abc']);
  });

  it('content that is not a heartbeat object is still progress, with no nonce, never an alert', async () => {
    const { t, nonces } = translator();
    for (const content of ['not json', '{"nonce": 5}', '[]', '']) {
      expect(await t.translate(message('dbwitness.heartbeat', content, 0x100n))).toEqual([{ kind: 'idle', checkpoint: '00000000/00000100' }]);
    }
    expect(nonces).toEqual([null, null, null, null]);
  });

  it('inside a transaction it yields nothing (the nonce still counts for timing)', async () => {
    const { t, nonces } = translator();
    await t.translate({ tag: 'begin', finalLsn: 0x200n, commitTime: 0n, xid: 7 });
    expect(await t.translate(message('dbwitness.heartbeat', beat('in-tx'), 0x180n))).toEqual([]);
    expect(nonces).toEqual(['in-tx']);
    expect(t.inTransaction).toBe(true);
  });

  it('a transactional message with the heartbeat prefix is not ours and is ignored', async () => {
    const { t, nonces } = translator();
    await t.translate({ tag: 'begin', finalLsn: 0x200n, commitTime: 0n, xid: 7 });
    expect(await t.translate(message('dbwitness.heartbeat', beat('x'), 0x180n, true))).toEqual([]);
    expect(nonces).toEqual([]);
  });

  it('other non-transactional messages keep their behaviour: foreign prefixes ignored, ours an alert', async () => {
    const { t, nonces } = translator();
    expect(await t.translate(message('someone.else', '{}', 0x100n))).toEqual([]);
    const [alert] = await t.translate(message('dbwitness', '{}', 0x100n));
    expect(alert).toMatchObject({ kind: 'alert', code: 'identity_not_transactional' });
    const [ddl] = await t.translate(message('dbwitness.ddl', '{}', 0x100n));
    expect(ddl).toMatchObject({ kind: 'alert', code: 'identity_not_transactional' });
    expect(nonces).toEqual([]);
  });
});

describe('heartbeat tracker', () => {
  it('reads the nonce only', () => {
    expect(heartbeatNonce(Buffer.from(beat('n1')))).toBe('n1');
    expect(heartbeatNonce(Buffer.from('{"v":1}'))).toBeNull();
    expect(heartbeatNonce(Buffer.from('\u0000'))).toBeNull();
  });

  it('null before any heartbeat; the age of the oldest outstanding one; else the last round trip', () => {
    const h = new HeartbeatTracker();
    expect(h.seconds(0)).toBeNull();
    h.sent('a', 1000);
    expect(h.seconds(1500)).toBe(0.5);
    h.sent('b', 2000);
    expect(h.seconds(4000)).toBe(3); // the oldest, a, defines the age
    expect(h.seen('a', 4250)).toBe(true);
    expect(h.seconds(4250)).toBe(2.25); // b is still out
    expect(h.seen('b', 2300)).toBe(true);
    expect(h.seconds(9000)).toBeCloseTo(0.3); // nothing out: the last round trip, whatever the time now
    expect(h.outstanding).toBe(0);
  });

  it('a nonce it did not send is progress only and changes no timing', () => {
    const h = new HeartbeatTracker();
    h.sent('mine', 0);
    expect(h.seen('theirs', 10)).toBe(false);
    expect(h.seen(null, 10)).toBe(false);
    expect(h.seconds(100)).toBe(0.1);
    expect(h.seen('mine', 200)).toBe(true);
    expect(h.seen('mine', 300)).toBe(false); // a replay after reconnecting
    expect(h.seconds(1000)).toBe(0.2);
  });

  it('a later heartbeat coming back retires earlier ones that never arrived', () => {
    const h = new HeartbeatTracker();
    h.sent('lost', 0);
    h.sent('next', 1000);
    expect(h.seen('next', 1100)).toBe(true);
    expect(h.outstanding).toBe(0);
    expect(h.seconds(60_000)).toBeCloseTo(0.1);
    expect(h.seen('lost', 61_000)).toBe(false);
  });

  it('a failed write is not waited for', () => {
    const h = new HeartbeatTracker();
    h.sent('ok', 0);
    expect(h.seen('ok', 50)).toBe(true);
    h.sent('failed', 100);
    h.failed('failed');
    expect(h.seconds(10_000)).toBe(0.05);
  });

  it('memory stays bounded while the stream is stuck, and the oldest still defines the age', () => {
    const h = new HeartbeatTracker();
    for (let i = 0; i < 10_000; i++) h.sent(`n${i}`, i * 1000);
    expect(h.outstanding).toBe(256);
    expect(h.seconds(10_000_000)).toBe(10_000);
  });
});

describe('heartbeat function SQL', () => {
  it('is non-transactional, SECURITY DEFINER with a pinned search_path, and bounds the nonce', () => {
    const sql = heartbeatFunctionSql('audit "x"');
    expect(sql).toContain('CREATE OR REPLACE FUNCTION "audit ""x"""."emit_heartbeat"(nonce pg_catalog.text)');
    expect(sql).toContain('SECURITY DEFINER SET search_path = pg_catalog, pg_temp');
    expect(sql).toContain("pg_logical_emit_message(false, 'dbwitness.heartbeat', payload);");
    expect(sql).not.toMatch(/pg_logical_emit_message\(true/);
    expect(sql).toContain('length(nonce) > 64');
  });
});
