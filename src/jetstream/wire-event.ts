/**
 * An event on the wire: the canonical JSON of the draft (everything but the
 * chain fields), with `Nats-Msg-Id` = event id so JetStream drops a
 * republished copy within the stream's duplicate window.
 *
 * The edge does not assign `seq`, `prev` or `hash`: one chain per source
 * exists only in the central archive, which assigns them when it stores the
 * event. What `Chain.append` of the edge returns is therefore a *receipt*
 * shaped like an AuditEvent, by this convention:
 *   seq          the JetStream stream sequence (unique in the stream, not a chain position)
 *   recorded_at  when JetStream acknowledged the publish
 *   prev         all zeros (no chain at the edge)
 *   hash         SHA-256 of the published bytes (the canonical draft)
 */
import { canonicalJson, sha256Hex } from '../core/canonical.js';
import { AuditEvent, GENESIS_HASH, type DraftEvent } from '../core/event.js';
import { DbwitnessError } from '../core/errors.js';

export const DraftEventSchema = AuditEvent.omit({ seq: true, recorded_at: true, prev: true, hash: true });

export function encodeDraft(draft: DraftEvent): Uint8Array {
  return Buffer.from(canonicalJson(draft), 'utf8');
}

/**
 * Parses and validates a message body. The archiver refuses (never stores,
 * never acknowledges) a message that is not a valid draft of the subject's
 * source, so a bad publisher is loud instead of a silent gap.
 */
export function decodeDraft(data: Uint8Array, where: string, subjectSourceId: string): DraftEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw badMessage(where, 'is not JSON');
  }
  const r = DraftEventSchema.safeParse(parsed);
  if (!r.success) throw badMessage(where, `is not a dbwitness v1 event (${r.error.issues[0]?.path.join('.') ?? '?'}: ${r.error.issues[0]?.message ?? 'invalid'})`);
  if (r.data.source.id !== subjectSourceId) throw badMessage(where, `carries source ${r.data.source.id} on the subject of source ${subjectSourceId}`);
  return r.data;
}

function badMessage(where: string, what: string): DbwitnessError {
  return new DbwitnessError(
    'E_ARCHIVE_BAD_MESSAGE',
    `${where} ${what}`,
    'only dbwitness edges may publish to <prefix>.events.>: inspect it with `nats stream get STREAM SEQ`, restrict publish permissions, then remove it with `nats stream rmm STREAM SEQ` and restart the archiver',
  );
}

/** The AuditEvent-shaped receipt the edge returns for a published draft (see module comment). */
export function edgeReceipt(draft: DraftEvent, bytes: Uint8Array, streamSeq: number, ackedAt: string): AuditEvent {
  return { ...draft, seq: streamSeq, recorded_at: ackedAt, prev: GENESIS_HASH, hash: sha256Hex(Buffer.from(bytes)) };
}

