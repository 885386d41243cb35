/** The JSON Schema (draft 2020-12) of the audit event, generated from its zod schema. */
import { z } from 'zod';
import { AuditEvent } from './event.js';

export function auditEventJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(AuditEvent, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    $id: 'urn:dbwitness:audit-event:v1',
    title: 'dbwitness audit event, version 1',
    description:
      'One canonical, hash-chained audit event. Column values are the source\'s exact text form; hash = SHA-256 over the canonical serialization (sorted keys, no whitespace) of every field but hash.',
    ...schema,
  };
}
