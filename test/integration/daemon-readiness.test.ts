/**
 * /readyz decisions: a stream that keeps alive (binlog heartbeats) must show
 * progress; an idle PostgreSQL stream (idle progress only when the WAL
 * moves) stays ready; any stream stopped mid-delivery does not; a source
 * that is not streaming is never ready; sources removed by a reload do not
 * count. And the listen address forms.
 */
import { describe, expect, it } from 'vitest';
import { parseListen, readiness } from '../../src/daemon/http-server.js';
import { SourceMonitor } from '../../src/daemon/source-monitor.js';

const MAX = 60_000;

describe('readiness', () => {
  it('judges silence by what the stream promises', () => {
    const m = new SourceMonitor();
    const now = Date.now() + 10 * 60_000;
    const binlog = m.get('mdb');
    binlog.state = 'streaming';
    binlog.keepsAlive = true;
    binlog.caughtUp = true;
    binlog.lastMessageAt = now - 5_000;
    const idlePg = m.get('pg');
    idlePg.state = 'streaming';
    idlePg.caughtUp = true;
    idlePg.lastMessageAt = now - 9 * 60_000;
    expect(readiness(m, MAX, now).ready).toBe(true);

    binlog.lastMessageAt = now - 2 * MAX; // heartbeats stopped: the server or network is gone
    let r = readiness(m, MAX, now);
    expect(r.ready).toBe(false);
    expect(r.sources['mdb']?.reason).toMatch(/no progress for 120 s/);
    expect(r.sources['pg']?.ready).toBe(true);

    binlog.lastMessageAt = now;
    idlePg.caughtUp = false; // a transaction began and nothing has arrived since
    expect(readiness(m, MAX, now).sources['pg']?.ready).toBe(false);

    idlePg.caughtUp = true;
    idlePg.state = 'retrying';
    idlePg.lastError = { code: 'E_PG_CONNECT', message: 'connection refused' };
    r = readiness(m, MAX, now);
    expect(r.sources['pg']).toMatchObject({ ready: false, reason: 'state retrying: E_PG_CONNECT' });

    idlePg.state = 'stopped'; // removed by a reload, about to be forgotten
    expect(readiness(m, MAX, now).ready).toBe(true);
    binlog.state = 'stopped';
    expect(readiness(m, MAX, now).ready).toBe(false); // no source at all is not ready
  });

  it('a source never heard from is ready until the silence limit, if it promises keepalives', () => {
    const m = new SourceMonitor();
    const s = m.get('mdb');
    s.state = 'streaming';
    s.heartbeat = { heartbeat: async () => undefined };
    expect(readiness(m, MAX, s.addedAt + 1000).ready).toBe(true);
    expect(readiness(m, MAX, s.addedAt + MAX + 1).sources['mdb']?.reason).toBe('no message from the source yet');
  });

  it('parses listen addresses', () => {
    expect(parseListen(9464)).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('0.0.0.0:9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(() => parseListen('host:99999')).toThrow(/no valid port/);
  });
});
