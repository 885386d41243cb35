/**
 * The JSON the identity trigger and the DDL event trigger write into the
 * WAL, validated at the boundary: a message that does not match is not
 * trusted as an identity and becomes an alert instead.
 */
import { z } from 'zod';
import type { SessionIdentity } from '../../src/core/ports.js';

export const IdentityPayload = z.object({
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
export type IdentityPayload = z.infer<typeof IdentityPayload>;

export const DdlPayload = IdentityPayload.extend({
  command_tag: z.string(),
  object_type: z.string().nullable(),
  object_identity: z.string().nullable(),
  schema: z.string().nullable(),
  statement: z.string().nullable(),
});
export type DdlPayload = z.infer<typeof DdlPayload>;

export function toSessionIdentity(p: IdentityPayload): SessionIdentity {
  return {
    db_user: p.db_user,
    // Without SET ROLE the active role is the login itself.
    role: p.role ?? p.db_user,
    app_user: p.app_user,
    client_addr: p.client_addr,
    client_port: p.client_port,
    application: p.application === '' ? null : p.application,
    session_id: p.session_id,
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
