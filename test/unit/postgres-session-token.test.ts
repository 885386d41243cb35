/**
 * The signed session id of identity messages (v 2): what the daemon accepts
 * and what it reports. The integration test (postgres-identity) checks the
 * same against the SQL that signs it.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseIdentity, verifySessionToken, type IdentityPayloadV2 } from '../../adapters/postgres/identity-message.js';
import { parsePgTextArray } from '../../adapters/postgres/pg-text-array.js';
import { PgoutputTranslator } from '../../adapters/postgres/pgoutput-translator.js';
import type { SourceMessage } from '../../src/core/ports.js';

const KEY = '4f6f1c9e-0d1b-4c57-9d0e-6a1f0c2b7e11a8d3c5e2-7b4f-4e1a-9c3d-2f5e6a7b8c9d';
const SID = '6b08ebe7.18ea';
const PID = 0x18ea;

/** What emit_session_identity() computes: hex(SHA-256(key ':' sid ':' port-or-empty ':' login ':' key)). */
function mac(key: string, sid: string, port: number | null, user: string): string {
  return createHash('sha256').update(`${key}:${sid}:${port ?? ''}:${user}:${key}`, 'utf8').digest('hex');
}

function payload(over: Partial<IdentityPayloadV2> = {}): IdentityPayloadV2 {
  return { v: 2, db_user: 'alice', role: null, app_user: null, client_addr: '10.0.0.7', client_port: 50412, application: 'ehr', pid: PID, session: `${SID}:${mac(KEY, SID, 50412, 'alice')}`, ...over };
}

describe('session id signature', () => {
  it('accepts the id signed for this login, connection and backend', () => {
    expect(verifySessionToken(payload(), KEY)).toEqual({ sid: SID });
    // Unix socket: no port, an empty field in the signed text.
    const unix = payload({ client_addr: null, client_port: null, session: `${SID}:${mac(KEY, SID, null, 'alice')}` });
    expect(verifySessionToken(unix, KEY)).toEqual({ sid: SID });
    // A login with a colon cannot shift the fields: the login comes last before the key.
    const odd = payload({ db_user: 'a:1', session: `${SID}:${mac(KEY, SID, 50412, 'a:1')}` });
    expect(verifySessionToken(odd, KEY)).toEqual({ sid: SID });
  });

  it('rejects a token borrowed, edited or made up', () => {
    expect(verifySessionToken(payload({ db_user: 'bob' }), KEY)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ client_port: 50413 }), KEY)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ session: `6b08ebe8.18ea:${mac(KEY, SID, 50412, 'alice')}` }), KEY)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload(), 'another key')).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ session: `${SID}:${'zz'.repeat(32)}` }), KEY)).toEqual({ problem: 'bad_signature' });
    expect(verifySessionToken(payload({ session: `${SID}:${mac(KEY, SID, 50412, 'alice').slice(2)}` }), KEY)).toEqual({ problem: 'bad_signature' });
    // The sid must name this backend, and be hex.
    expect(verifySessionToken(payload({ pid: PID + 1 }), KEY)).toEqual({ problem: 'malformed' });
    expect(verifySessionToken(payload({ session: `x.18ea:${mac(KEY, 'x.18ea', 50412, 'alice')}` }), KEY)).toEqual({ problem: 'malformed' });
    expect(verifySessionToken(payload({ session: '' }), KEY)).toEqual({ problem: 'malformed' });
  });

  it('tells a missing key apart from a forgery', () => {
    expect(verifySessionToken(payload(), null)).toEqual({ problem: 'no_key' });
    expect(verifySessionToken(payload({ session: `${SID}:` }), KEY)).toEqual({ problem: 'unsigned' });
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
  return arrayOut(['2', p.db_user, p.role ?? 'none', p.app_user, p.client_addr, p.client_port === null ? null : String(p.client_port), p.application, String(p.pid), p.session]);
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
    expect(parseIdentity(Buffer.from(arrayOut(['2', 'alice', 'none', null, null, null, '', '42'])))).toMatchObject({ ok: false, problem: '8 elements, expected 9' });
    expect(parseIdentity(Buffer.from(arrayOut(['2', null, 'none', null, null, null, '', '42', 's'])))).toMatchObject({ ok: false });
    expect(parseIdentity(Buffer.from('{2,"unterminated'))).toMatchObject({ ok: false, problem: 'not a text array' });
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
    const t = new PgoutputTranslator(noKeys, () => undefined, KEY);
    expect(run(t, payload())).toEqual([{ kind: 'identity', identity: expect.objectContaining({ db_user: 'alice', role: 'alice', session_id: SID }) }]);
    const v1 = { v: 1, db_user: 'bob', role: null, app_user: null, client_addr: null, client_port: null, application: '', pid: 9, session_id: 'abc.9' };
    expect(run(t, v1)).toEqual([{ kind: 'identity', identity: expect.objectContaining({ db_user: 'bob', session_id: 'abc.9', application: null }) }]);
  });

  it('a forged id: the identity without it, and one alert per distinct message', () => {
    const t = new PgoutputTranslator(noKeys, () => undefined, KEY);
    const forged = payload({ session: `${SID}:${'0'.repeat(64)}` });
    const first = run(t, forged);
    expect(first.map((m) => m.kind)).toEqual(['alert', 'identity']);
    expect(first[0]).toMatchObject({ kind: 'alert', code: 'identity_session_forged', detail: { db_user: 'alice', pid: String(PID), problem: 'bad_signature' } });
    expect(first[1]).toMatchObject({ kind: 'identity', identity: { db_user: 'alice', client_addr: '10.0.0.7', session_id: null } });
    expect(run(t, forged).map((m) => m.kind)).toEqual(['identity']);
  });

  it('without the key every session id is reported as unchecked, with the fix', () => {
    const t = new PgoutputTranslator(noKeys, () => undefined, null);
    const out = run(t, payload());
    expect(out[0]).toMatchObject({ kind: 'alert', code: 'identity_session_unverified', message: expect.stringContaining('setup postgres --apply') });
    expect(out[1]).toMatchObject({ kind: 'identity', identity: { session_id: null } });
  });
});
