/** Writing the seal of a segment that is being rotated out. */
import { join } from 'node:path';
import { nowMicros } from '../core/ids.js';
import type { ChainHead } from '../core/ports.js';
import { sealFileName, segmentFileName } from './layout.js';
import { writeFileDurable } from './durable-fs.js';
import { makeSeal, serializeSeal, type Seal } from './seal.js';
import type { SegmentFile } from './segment-file.js';
import type { SigningKey } from './keys.js';

/**
 * Writes and fsyncs `seg-N.seal.json` (temp file + rename + directory fsync):
 * the seal exists whole or not at all. The segment's bytes are already
 * durable (every append is fdatasync'd), so the digest matches the disk.
 */
export async function sealSegment(chainDir: string, sourceId: string, seg: SegmentFile, head: ChainHead, key: SigningKey | null): Promise<Seal> {
  const seal = makeSeal(
    {
      v: 1,
      kind: 'dbwitness-seal',
      source: sourceId,
      segment: seg.number,
      file: segmentFileName(seg.number),
      first_seq: seg.firstSeq,
      last_seq: seg.count === 0 ? null : head.seq,
      count: seg.count,
      prev_hash: seg.startHead.hash,
      last_hash: head.hash,
      bytes: seg.size,
      sha256: seg.digestHex(),
      sealed_at: nowMicros(),
      key_id: key?.keyId ?? null,
    },
    key,
  );
  await writeFileDurable(join(chainDir, sealFileName(seg.number)), serializeSeal(seal));
  return seal;
}
