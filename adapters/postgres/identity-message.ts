/**
 * What the identity trigger and the DDL event trigger write into the WAL,
 * validated at the boundary: a message that does not match is not trusted
 * as an identity and becomes an alert instead. Identity messages are a
 * text array since version 2 (identity-sql.ts), version 3 from the native
 * emitter (native/postgres-emitter); DDL messages, and identity messages of
 * older setups (version 1), are JSON.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { SessionIdentity } from '../../src/core/ports.js';
import { parsePgTextArray } from './pg-text-array.js';

/** v 1: the session id read fresh (DDL messages, and identity messages of setups before v 2). */
export const IdentityPayloadV1 = z.object({
  v: z.literal(1),
  db_user: z.string(),
  role: z.string().nullable(),
  app_user: z.string().nullable(),
  client_addr: z.string().nullable(),
  client_port: z.number().int().min(0).max(65535).nullable(),
  application: z.string().nullable(),
  pid: z.number().int(),
  session_id: z.string().nullable(),
});
export type IdentityPayloadV1 = z.infer<typeof IdentityPayloadV1>;

/**
 * v 2: the per-transaction identity with the session's cached, signed
 * session id `<sid>:<mac>` (identity-sql.ts), which the session itself
 * can overwrite: it is trusted only after verifySessionToken. Read from
 * the text array by parseIdentity.
 */
export const IdentityPayloadV2 = IdentityPayloadV1.omit({ v: true, session_id: true }).extend({
  v: z.literal(2),
  session: z.string(),
  /**
   * The login the backend authenticated as, present only while it differs
   * from db_user (SESSION_USER): a superuser's SET SESSION AUTHORIZATION.
   * Signed with the session id in v 2 (trusted only with it), read from the
   * backend in v 3.
   */
  login: z.string().nullable(),
});
export type IdentityPayloadV2 = z.infer<typeof IdentityPayloadV2>;

/**
 * v 3: the native emitter's message, the same array as v 2 but with the
 * session id itself, read from the backend on every emission (no cache a
 * session could overwrite, so no signature). Only that C trigger function
 * writes it: pg_logical_emit_message is revoked from PUBLIC and the
 * PL/pgSQL emitter writes v 2 only. parseIdentity checks that the id names
 * the message's own backend pid.
 */
export const IdentityPayloadV3 = IdentityPayloadV2.omit({ v: true }).extend({ v: z.literal(3) });
export type IdentityPayloadV3 = z.infer<typeof IdentityPayloadV3>;

export type IdentityPayload = IdentityPayloadV1 | IdentityPayloadV2 | IdentityPayloadV3;

/** The log session id `%c`: hex(backend start) '.' hex(pid). */
const SESSION_ID = /^[0-9a-f]{1,16}\.[0-9a-f]{1,8}$/;

export const DdlPayload = IdentityPayloadV1.extend({
  /** The authenticated login where it differs from db_user (SET SESSION AUTHORIZATION); absent in setups before it. */
  login: z.string().nullable().default(null),
  command_tag: z.string(),
  object_type: z.string().nullable(),
  object_identity: z.string().nullable(),
  schema: z.string().nullable(),
  statement: z.string().nullable(),
});
export type DdlPayload = z.infer<typeof DdlPayload>;

/** Why a v 2 session id was not accepted. */
export type SessionTokenProblem = 'no_key' | 'unsigned' | 'malformed' | 'bad_signature';

/** The session key as the daemon last read it (identity-sql.ts, session_key). */
export interface SessionKeys {
  readonly current: string | null;
  /** The key before the last rotation, or null (none, or dropped at once). */
  readonly previous: string | null;
  /** When the key was rotated, in whole seconds since the epoch. */
  readonly rotatedAtSec: number | null;
  /** Until when (ms since the epoch) `previous` is accepted. */
  readonly previousUntilMs: number | null;
}

export const NO_SESSION_KEYS: SessionKeys = Object.freeze({ current: null, previous: null, rotatedAtSec: null, previousUntilMs: null });

/** The keys from the session_key row as `to_jsonb` gives it (timestamps as ISO text); any field missing or odd reads as absent. */
export function sessionKeysFromRow(row: Record<string, unknown> | undefined): SessionKeys {
  if (row === undefined) return NO_SESSION_KEYS;
  const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
  const ms = (v: unknown): number | null => {
    const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
    return Number.isFinite(t) ? t : null;
  };
  const rotated = ms(row['rotated_at']);
  return { current: text(row['k']), previous: text(row['prev_k']), rotatedAtSec: rotated === null ? null : Math.floor(rotated / 1000), previousUntilMs: ms(row['prev_until']) };
}

function macMatches(p: IdentityPayloadV2, sid: string, mac: string, key: string): boolean {
  // With a login, as identity-sql.ts signs it: 'L' apart from the plain form, the login's length (characters) apart from db_user.
  const input = p.login === null ? `${key}:${sid}:${p.client_port ?? ''}:${p.db_user}:${key}` : `${key}:L:${sid}:${p.client_port ?? ''}:${[...p.login].length}:${p.login}:${p.db_user}:${key}`;
  const want = createHash('sha256').update(input, 'utf8').digest();
  const got = Buffer.from(mac, 'hex');
  return got.length === want.length && mac.length === 64 && timingSafeEqual(got, want);
}

/**
 * Checks a v 2 session token against the key the emitter signed it with:
 * the mac must be hex(SHA-256(key ':' sid ':' port-or-empty ':' db_user ':' key))
 * over this message's own client port and login, and the sid must name
 * this message's backend pid. So a session can neither make up a session id
 * nor borrow another login's or another connection's. After a rotation the
 * previous key is also accepted, for sessions whose id says they started
 * by the rotation and for changes committed within the grace period
 * (`atMs`: the transaction's commit time). Returns the sid (and whether
 * the previous key signed it), or the problem.
 */
export function verifySessionToken(p: IdentityPayloadV2, keys: SessionKeys, atMs: number): { sid: string; previousKey: boolean } | { problem: SessionTokenProblem } {
  const colon = p.session.lastIndexOf(':');
  const sid = colon < 0 ? p.session : p.session.slice(0, colon);
  const mac = colon < 0 ? '' : p.session.slice(colon + 1);
  const dot = sid.indexOf('.');
  if (!SESSION_ID.test(sid) || sid.slice(dot + 1) !== p.pid.toString(16)) return { problem: 'malformed' };
  if (keys.current === null) return { problem: 'no_key' };
  if (mac === '') return { problem: 'unsigned' };
  if (macMatches(p, sid, mac, keys.current)) return { sid, previousKey: false };
  const { previous, rotatedAtSec, previousUntilMs } = keys;
  if (previous !== null && rotatedAtSec !== null && previousUntilMs !== null && atMs < previousUntilMs && Number.parseInt(sid.slice(0, dot), 16) <= rotatedAtSec && macMatches(p, sid, mac, previous)) return { sid, previousKey: true };
  return { problem: 'bad_signature' };
}

/**
 * A session whose login differs from SESSION_USER (a superuser's SET
 * SESSION AUTHORIZATION) is attributed to the login, acting as the session
 * user: db_user is the login, role the session user (or the role it set).
 * Call only with a login that is trusted (signed, or from v 3).
 */
export function actingAs<P extends { db_user: string; role: string | null; login: string | null }>(p: P): P {
  return p.login === null ? p : { ...p, db_user: p.login, role: p.role ?? p.db_user };
}

export function toSessionIdentity(p: Omit<IdentityPayloadV1, 'v' | 'session_id'>, sessionId: string | null): SessionIdentity {
  return {
    db_user: p.db_user,
    // Without SET ROLE the active role is the login itself.
    role: p.role ?? p.db_user,
    app_user: p.app_user,
    client_addr: p.client_addr,
    client_port: p.client_port,
    application: p.application === '' ? null : p.application,
    session_id: sessionId,
  };
}

/** Parses and validates; returns the zod issues as one line (no values) on failure. */
export function parsePayload<T>(schema: z.ZodType<T>, content: Buffer): { ok: true; value: T } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const r = schema.safeParse(json);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, problem: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.code}`).join('; ') };
}

const DECIMAL = /^(0|[1-9][0-9]{0,9})$/;

/**
 * An identity message of any version: a text array starting with its
 * version (`{2,` or `{3,`), else JSON version 1. The array's role `none`
 * (no SET ROLE) and empty app user become null, as the JSON version wrote
 * them.
 */
export function parseIdentity(content: Buffer): { ok: true; value: IdentityPayload } | { ok: false; problem: string } {
  if (content.length < 3 || content[0] !== 0x7b || (content[1] !== 0x32 && content[1] !== 0x33) || content[2] !== 0x2c) return parsePayload(IdentityPayloadV1, content);
  const version = content[1] === 0x33 ? 3 : 2;
  const a = parsePgTextArray(content.toString('utf8'));
  if (a === null) return { ok: false, problem: 'not a text array' };
  if (a.length !== 9 && a.length !== 10) return { ok: false, problem: `${a.length} elements, expected 9 or 10` };
  const [, dbUser, role, appUser, addr, port, application, pid, session, login] = a;
  if (a.length === 10 && (login == null || login === dbUser)) return { ok: false, problem: 'login missing or the same as db_user' };
  if (dbUser == null || role == null || pid == null || session == null) return { ok: false, problem: 'db_user, role, pid or session missing' };
  if (!DECIMAL.test(pid) || (port != null && !DECIMAL.test(port))) return { ok: false, problem: 'pid or client_port not a number' };
  if (version === 3 && (!SESSION_ID.test(session) || session.slice(session.indexOf('.') + 1) !== Number(pid).toString(16))) return { ok: false, problem: 'session id malformed or not of this backend' };
  const r = (version === 3 ? IdentityPayloadV3 : IdentityPayloadV2).safeParse({
    v: version,
    db_user: dbUser,
    role: role === 'none' ? null : role,
    app_user: appUser === '' ? null : (appUser ?? null),
    client_addr: addr ?? null,
    client_port: port == null ? null : Number(port),
    application: application ?? null,
    pid: Number(pid),
    session,
    login: login ?? null,
  });
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, problem: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.code}`).join('; ') };
}
