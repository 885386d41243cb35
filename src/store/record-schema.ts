/**
 * Shapes of the store's own record lines (segment, checkpoint, head), for
 * `verify`, which reads files that may have been tampered with: a record
 * whose fields are missing or of the wrong type is a finding, never a crash.
 */
import { z } from 'zod';
import type { StoreRecord } from './records.js';

const Head = z.object({ seq: z.number().int().nonnegative(), hash: z.string() });
const Checkpoint = z.object({ checkpoint: z.string(), seq: z.number().int().nonnegative(), at: z.string() });

const SegmentRecordShape = z.object({
  '@': z.literal('segment'),
  v: z.literal(1),
  source: z.object({ id: z.string() }).passthrough(),
  segment: z.number().int().positive(),
  created_at: z.string(),
  head: Head,
  checkpoint: Checkpoint.nullable(),
  tail: z.object({ position: z.string(), txId: z.string().nullable(), txIndex: z.number().int().nullable() }).nullable(),
});

const CheckpointRecordShape = z.object({ '@': z.literal('checkpoint'), checkpoint: z.string(), seq: z.number().int().nonnegative(), hash: z.string(), at: z.string() });

const HeadRecordShape = z.object({ '@': z.literal('head'), seq: z.number().int().nonnegative(), hash: z.string(), at: z.string(), sig: z.string(), key_id: z.string() });

const StoreRecordShape = z.discriminatedUnion('@', [SegmentRecordShape, CheckpointRecordShape, HeadRecordShape]);

/** The record, or a description of what is wrong with it. */
export function parseStoreRecord(value: unknown): { ok: true; record: StoreRecord } | { ok: false; problem: string } {
  const r = StoreRecordShape.safeParse(value);
  if (r.success) return { ok: true, record: r.data as unknown as StoreRecord };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` (field ${issue.path.join('.')})` : '';
  return { ok: false, problem: `store record is damaged${where}: fields missing or of the wrong kind` };
}
