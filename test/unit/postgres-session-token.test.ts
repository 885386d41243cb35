/**
 * The signed session id of identity messages (v 2): what the daemon accepts
 * and what it reports. The integration test (postgres-identity) checks the
 * same against the SQL that signs it.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { actingAs, NO_SESSION_KEYS, parseIdentity, sessionKeysFromRow, verifySessionToken, type IdentityPayloadV2, type SessionKeys } from '../../adapters/postgres/identity-message.js';
import { parsePgTextArray } from '../../adapters/postgres/pg-text-array.js';
import { PgoutputTranslator } from '../../adapters/postgres/pgoutput-translator.js';
import { SessionKeyRing } from '../../adapters/postgres/session-key-ring.js';
import type { SourceMessage } from '../../src/core/ports.js';

const KEY = '4f6f1c9e-0d1b-4c57-9d0e-6a1f0c2b7e11a8d3c5e2-7b4f-4e1a-9c3d-2f5e6a7b8c9d';
const SID = '6b08ebe7.18ea';
const PID = 0x18ea;
const NOW = Date.parse('2026-11-27T06:00:00Z');
const keys = (current: string | null): SessionKeys => ({ ...NO_SESSION_KEYS, current });

/** What emit_session_identity() computes: hex(SHA-256(key ':' sid ':' port-or-empty ':' login ':' key)). */
function mac(key: string, sid: string, port: number | null, user: string): string {
  return createHash('sha256').update(`${key}:${sid}:${port ?? ''}:${user}:${key}`, 'utf8').digest('hex');
}

function payload(over: Partial<IdentityPayloadV2> = {}): IdentityPayloadV2 {
  return { v: 2, db_user: 'alice', role: null, app_user: null, client_addr: '10.0.0.7', client_port: 50412, application: 'ehr', pid: PID, session: `${SID}:${mac(KEY, SID, 50412, 'alice')}`, login: null, ...over };
}

describe('session id signature', () => {
  it('accepts the id signed for this login, connection and backend', () => {
    expect(verifySessionToken(payload(), keys(KEY), NOW)).toEqual({ sid: SID, previousKey: false });
    // Unix socket: no port, an empty field in the signed text.
    const unix = payload({ client_addr: null, client_port: null, session: `${SID}:${mac(KEY, SID, null, 'alice')}` });
    expect(verifySessionToken(unix, keys(KEY), NOW)).toEqual({ sid: SID, previousKey: false });
    // A login with a colon cannot shift the fields: the login comes last before the key.
    const odd = payload({ db_user: 'a:1', session: `${SID}:${mac(KEY, SID, 50412, 'a:1')}` });
    expect(verifySessionToken(odd, keys(KEY), NOW)).toEqual({ sid: SID, previousKey: false });
  });

  it('rejects a token borrowed, edited or made up', () => {
    expect(verifySessionToken(payload({ db_user: 'bob' }), keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ client_port: 50413 }), keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ session: `6b08ebe8.18ea:${mac(KEY, SID, 50412, 'alice')}` }), keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload(), keys('another key'), NOW)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ session: `${SID}:${'zz'.repeat(32)}` }), keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ session: `${SID}:${mac(KEY, SID, 50412, 'alice').slice(2)}` }), keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
    // The sid must name this backend, and be hex.
    expect(verifySessionToken(payload({ pid: PID + 1 }), keys(KEY), NOW)).toEqual({ problem: 'malformed' });
    expect(verifySessionToken(payload({ session: `x.18ea:${mac(KEY, 'x.18ea', 50412, 'alice')}` }), keys(KEY), NOW)).toEqual({ problem: 'malformed' });
    expect(verifySessionToken(payload({ session: '' }), keys(KEY), NOW)).toEqual({ problem: 'malformed' });
  });

  it('after a rotation, accepts the old key only for sessions started by then and only within the grace period', () => {
    const OLD = 'the key before the rotation';
    const rotatedAtSec = 0x6b08ebe8; // one second after SID's backend start (0x6b08ebe7)
    const rotated: SessionKeys = { current: KEY, previous: OLD, rotatedAtSec, previousUntilMs: NOW + 1000 };
    const signedOld = payload({ session: `${SID}:${mac(OLD, SID, 50412, 'alice')}` });
    expect(verifySessionToken(signedOld, rotated, NOW)).toEqual({ sid: SID, previousKey: true });
    expect(verifySessionToken(payload(), rotated, NOW)).toEqual({ sid: SID, previousKey: false });
    // Past the grace period; and a session that claims a start after the rotation.
    expect(verifySessionToken(signedOld, rotated, NOW + 1000)).toEqual({ problem: 'bad_signature' });
    const later = '6b08ebe9.18ea';
    expect(verifySessionToken(payload({ session: `${later}:${mac(OLD, later, 50412, 'alice')}` }), rotated, NOW)).toEqual({ problem: 'bad_signature' });
    // Dropped at once (grace 0): no previous key.
    expect(verifySessionToken(signedOld, { ...rotated, previous: null, previousUntilMs: null }, NOW)).toEqual({ problem: 'bad_signature' });
  });

  it('reads the key row of any setup, before and after rotation columns existed', () => {
    expect(sessionKeysFromRow(undefined)).toEqual(NO_SESSION_KEYS);
    expect(sessionKeysFromRow({ one: true, k: KEY })).toEqual({ current: KEY, previous: null, rotatedAtSec: null, previousUntilMs: null });
    expect(sessionKeysFromRow({ one: true, k: KEY, prev_k: 'old', rotated_at: '2026-11-27T06:00:00.900123+00:00', prev_until: '2026-11-28T06:00:00.900123+00:00' })).toEqual({
      current: KEY,
      previous: 'old',
      rotatedAtSec: Date.parse('2026-11-27T06:00:00Z') / 1000,
      previousUntilMs: Date.parse('2026-11-28T06:00:00.900Z'),
    });
  });

  it('tells a missing key apart from a forgery', () => {
    expect(verifySessionToken(payload(), keys(null), NOW)).toEqual({ problem: 'no_key' });
    expect(verifySessionToken(payload({ session: `${SID}:` }), keys(KEY), NOW)).toEqual({ problem: 'unsigned' });
  });
});

/** What array_out writes for a text[]: quotes where needed, NULL for null. */
function arrayOut(items: ReadonlyArray<string | null>): string {
  const el = (v: string | null): string => {
    if (v === null) return 'NULL';
    const quote = v === '' || v.toUpperCase() === 'NULL' || /[{}",\\\s]/.test(v);
    return quote ? `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"` : v;
  };
  return `{${items.map(el).join(',')}}`;
}

/** The version 2 message emit_session_identity() writes for a payload (role null as `none`). */
function v2Text(p: IdentityPayloadV2): string {
  return arrayOut(['2', p.db_user, p.role ?? 'none', p.app_user, p.client_addr, p.client_port === null ? null : String(p.client_port), p.application, String(p.pid), p.session, ...(p.login === null ? [] : [p.login])]);
}

describe('the text array of version 2', () => {
  it('reads back what array_out writes, quoting and NULL included', () => {
    const hostile = ['', 'NULL', 'null', 'a b', 'x,y', '{z}', 'q"uote', 'back\\slash', 'tab\there', 'ünï', 'plain'];
    expect(parsePgTextArray(arrayOut([...hostile, null]))).toEqual([...hostile, null]);
    expect(parsePgTextArray('{}')).toEqual([]);
    expect(parsePgTextArray('{a,NULL,"NULL"}')).toEqual(['a', null, 'NULL']);
  });

  it('rejects what array_out never writes', () => {
    for (const bad of ['', '{', 'a,b', '[1:2]={a,b}', '{{a},{b}}', '{a,}', '{,a}', '{"a}', '{a b}', '{Null}', '{"a"b}', '{a}x']) expect(parsePgTextArray(bad), bad).toBeNull();
  });

  it('maps the array to the payload, and refuses one with missing or non-numeric fields', () => {
    const p = payload({ app_user: 'dr "jones", MD', application: 'ehr {web}' });
    expect(parseIdentity(Buffer.from(v2Text(p)))).toEqual({ ok: true, value: p });
    expect(parseIdentity(Buffer.from(v2Text(payload({ role: 'clinician' }))))).toMatchObject({ ok: true, value: { role: 'clinician' } });
    expect(parseIdentity(Buffer.from(arrayOut(['2', 'alice', 'none', '', null, null, '', '42', 's'])))).toMatchObject({ ok: true, value: { role: null, app_user: null, client_addr: null, client_port: null, pid: 42 } });
    expect(parseIdentity(Buffer.from(arrayOut(['2', 'alice', 'none', null, null, null, '', 'x42', 's'])))).toMatchObject({ ok: false });
    expect(parseIdentity(Buffer.from(arrayOut(['2', 'alice', 'none', null, null, null, '', '42'])))).toMatchObject({ ok: false, problem: '8 elements, expected 9 or 10' });
    expect(parseIdentity(Buffer.from(arrayOut(['2', null, 'none', null, null, null, '', '42', 's'])))).toMatchObject({ ok: false });
    expect(parseIdentity(Buffer.from('{2,"unterminated'))).toMatchObject({ ok: false, problem: 'not a text array' });
  });
});

describe('a session whose login differs from SESSION_USER (SET SESSION AUTHORIZATION)', () => {
  /** What emit_session_identity() signs while the login differs: the 'L' form with the login's length. */
  const loginMac = (login: string, user: string): string => createHash('sha256').update(`${KEY}:L:${SID}:50412:${[...login].length}:${login}:${user}:${KEY}`, 'utf8').digest('hex');

  it('accepts the login only as signed with the session id, and reads it back from the array', () => {
    const p = payload({ login: 'postgres', session: `${SID}:${loginMac('postgres', 'alice')}` });
    expect(verifySessionToken(p, keys(KEY), NOW)).toEqual({ sid: SID, previousKey: false });
    expect(parseIdentity(Buffer.from(v2Text(p)))).toEqual({ ok: true, value: p });
    // A login the session wrote itself (the mac was made without it), another login, or a shifted split of the names: refused.
    expect(verifySessionToken(payload({ login: 'postgres' }), keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ login: 'dba2', session: `${SID}:${loginMac('postgres', 'alice')}` }), keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
    const shifted = payload({ db_user: 'b:alice', login: 'a', session: `${SID}:${loginMac('a:b', 'alice')}` });
    expect(verifySessionToken(shifted, keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
    // The plain form cannot pass for a login form, nor the other way round.
    expect(verifySessionToken(payload({ session: `${SID}:${loginMac('postgres', 'alice')}` }), keys(KEY), NOW)).toEqual({ problem: 'bad_signature' });
  });

  it('attributes the changes to the login, acting as the session user', () => {
    expect(actingAs({ db_user: 'alice', role: null, login: 'postgres' })).toEqual({ db_user: 'postgres', role: 'alice', login: 'postgres' });
    expect(actingAs({ db_user: 'alice', role: 'clinician', login: 'postgres' })).toMatchObject({ db_user: 'postgres', role: 'clinician' });
    expect(actingAs({ db_user: 'alice', role: null, login: null })).toEqual({ db_user: 'alice', role: null, login: null });
    // A tenth element that repeats db_user, or is missing, is not what an emitter writes.
    expect(parseIdentity(Buffer.from(arrayOut(['2', 'alice', 'none', null, null, null, '', '42', 's', 'alice'])))).toMatchObject({ ok: false });
    expect(parseIdentity(Buffer.from(arrayOut(['3', 'alice', 'none', null, null, null, '', '42', '6560f00d.2a', null])))).toMatchObject({ ok: false });
    expect(parseIdentity(Buffer.from(arrayOut(['3', 'alice', 'none', null, null, null, '', '42', '6560f00d.2a', 'postgres'])))).toMatchObject({ ok: true, value: { v: 3, login: 'postgres' } });
  });
});

describe('the text array of version 3 (native emitter)', () => {
  it('carries the session id itself, accepted only when it names the message\'s own backend pid', () => {
    const ok = parseIdentity(Buffer.from(arrayOut(['3', 'alice', 'clinician', 'dr "x"', '127.0.0.1', '5432', 'ehr', '42', '6560f00d.2a'])));
    expect(ok).toEqual({ ok: true, value: { v: 3, db_user: 'alice', role: 'clinician', app_user: 'dr "x"', client_addr: '127.0.0.1', client_port: 5432, application: 'ehr', pid: 42, session: '6560f00d.2a', login: null } });
    expect(parseIdentity(Buffer.from(arrayOut(['3', 'alice', 'none', '', null, null, '', '42', '6560f00d.2a'])))).toMatchObject({ ok: true, value: { role: null, app_user: null, client_addr: null, client_port: null } });
    // Another backend's pid, a signed v 2 token, or no id: not this backend's session.
    for (const session of ['6560f00d.2b', `6560f00d.2a:${'0'.repeat(64)}`, '', 'x.2a']) {
      expect(parseIdentity(Buffer.from(arrayOut(['3', 'alice', 'none', null, null, null, '', '42', session]))), session).toMatchObject({ ok: false });
    }
    expect(parseIdentity(Buffer.from(arrayOut(['3', 'alice', 'none', null, null, null, '', '42', null])))).toMatchObject({ ok: false });
    // Only versions 2 and 3 are arrays; anything else is read as JSON and fails as such.
    expect(parseIdentity(Buffer.from(arrayOut(['4', 'alice', 'none', null, null, null, '', '42', '1.2a'])))).toMatchObject({ ok: false, problem: 'not JSON' });
  });
});

describe('translator and v 2 identities', () => {
  const begin = { tag: 'begin', finalLsn: 0x100n, commitTime: 0n, xid: 7 } as const;
  const message = (content: object) =>
    ({ tag: 'message', transactional: true, lsn: 0x90n, prefix: 'dbwitness', content: Buffer.from('v' in content && content.v === 2 ? v2Text(content as IdentityPayloadV2) : JSON.stringify(content)) }) as const;
  const run = (t: PgoutputTranslator, content: object): SourceMessage[] => {
    t.translate(begin);
    const out = t.translate(message(content));
    t.translate({ tag: 'commit', commitLsn: 0x100n, endLsn: 0x110n, commitTime: 0n });
    if (!Array.isArray(out)) throw new Error('identity messages translate synchronously');
    return out;
  };
  const noKeys = async (): Promise<null> => null;

  it('keeps the verified session id and still reads v 1 messages', () => {
    const t = new PgoutputTranslator(noKeys, () => undefined, new SessionKeyRing(keys(KEY)));
    expect(run(t, payload())).toEqual([{ kind: 'identity', identity: expect.objectContaining({ db_user: 'alice', role: 'alice', session_id: SID }) }]);
    const v1 = { v: 1, db_user: 'bob', role: null, app_user: null, client_addr: null, client_port: null, application: '', pid: 9, session_id: 'abc.9' };
    expect(run(t, v1)).toEqual([{ kind: 'identity', identity: expect.objectContaining({ db_user: 'bob', session_id: 'abc.9', application: null }) }]);
  });

  it('a forged id: the identity without it, and one alert per distinct message', () => {
    const t = new PgoutputTranslator(noKeys, () => undefined, new SessionKeyRing(keys(KEY)));
    const forged = payload({ session: `${SID}:${'0'.repeat(64)}` });
    const first = run(t, forged);
    expect(first.map((m) => m.kind)).toEqual(['alert', 'identity']);
    expect(first[0]).toMatchObject({ kind: 'alert', code: 'identity_session_forged', detail: { db_user: 'alice', pid: String(PID), problem: 'bad_signature' } });
    expect(first[1]).toMatchObject({ kind: 'identity', identity: { db_user: 'alice', client_addr: '10.0.0.7', session_id: null } });
    expect(run(t, forged).map((m) => m.kind)).toEqual(['identity']);
  });

  it('a rotation reaches a running daemon: a new key is read on the first id it signs, a dropped key stops passing within a minute', async () => {
    const NEW = 'the key after a rotation the daemon has not read yet';
    let clock = 0;
    let table: SessionKeys = keys(KEY);
    let reads = 0;
    const ring = new SessionKeyRing(table, async () => {
      reads++;
      return table;
    }, { now: () => clock });
    const t = new PgoutputTranslator(noKeys, () => undefined, ring);
    const translate = async (p: IdentityPayloadV2): Promise<SourceMessage[]> => {
      t.translate(begin);
      const out = await t.translate(message(p));
      t.translate({ tag: 'commit', commitLsn: 0x100n, endLsn: 0x110n, commitTime: 0n });
      return out;
    };
    const oldSigned = payload();
    expect(await translate(oldSigned)).toEqual([{ kind: 'identity', identity: expect.objectContaining({ session_id: SID }) }]);

    // Rotation with a grace period: the new key is read when an id signed with it first arrives.
    table = { current: NEW, previous: KEY, rotatedAtSec: 0x6b08ebe8, previousUntilMs: Date.parse('2100-01-01T00:00:00Z') };
    clock += 1500;
    const sid2 = '6b08ebf0.18eb';
    const newSigned = payload({ pid: 0x18eb, session: `${sid2}:${mac(NEW, sid2, 50412, 'alice')}` });
    expect(await translate(newSigned)).toEqual([{ kind: 'identity', identity: expect.objectContaining({ session_id: sid2 }) }]);
    expect(reads).toBe(1);
    // A forgery right after: no second read within the second, and the alert as before.
    const forged = await translate(payload({ session: `${SID}:${'1'.repeat(64)}` }));
    expect(reads).toBe(1);
    expect(forged.map((m) => m.kind)).toEqual(['alert', 'identity']);

    // The key dropped at once: the old session's cached identity (accepted before) passes until the keys are a minute old.
    table = { current: 'a third key', previous: null, rotatedAtSec: 0x6b08ebf8, previousUntilMs: null };
    clock += 10_000;
    expect((await translate(oldSigned)).map((m) => m.kind)).toEqual(['identity']);
    clock += 60_000;
    const after = await translate(oldSigned);
    expect(reads).toBe(2);
    expect(after.map((m) => m.kind)).toEqual(['alert', 'identity']);
    expect(after[0]).toMatchObject({ code: 'identity_session_forged' });
  });

  it('an id accepted by the previous key is checked again in every transaction: it fails once the grace period ends', () => {
    const until = Date.parse('2026-11-28T06:00:00Z');
    const t = new PgoutputTranslator(noKeys, () => undefined, new SessionKeyRing({ current: 'the new key', previous: KEY, rotatedAtSec: 0x6b08ebe8, previousUntilMs: until }));
    const at = (ms: number) => {
      t.translate({ ...begin, commitTime: BigInt(ms - Date.parse('2000-01-01T00:00:00Z')) * 1000n });
      const out = t.translate(message(payload()));
      t.translate({ tag: 'commit', commitLsn: 0x100n, endLsn: 0x110n, commitTime: 0n });
      if (!Array.isArray(out)) throw new Error('no key reader: synchronous');
      return out;
    };
    expect(at(until - 1)).toEqual([{ kind: 'identity', identity: expect.objectContaining({ session_id: SID }) }]);
    const after = at(until);
    expect(after.map((m) => m.kind)).toEqual(['alert', 'identity']);
    expect(after[0]).toMatchObject({ code: 'identity_session_forged' });
  });

  it('without the key every session id is reported as unchecked, with the fix', () => {
    const t = new PgoutputTranslator(noKeys, () => undefined, new SessionKeyRing(NO_SESSION_KEYS));
    const out = run(t, payload());
    expect(out[0]).toMatchObject({ kind: 'alert', code: 'identity_session_unverified', message: expect.stringContaining('setup postgres --apply') });
    expect(out[1]).toMatchObject({ kind: 'identity', identity: { session_id: null } });
  });
});
