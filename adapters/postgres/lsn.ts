/**
 * Log sequence numbers. PostgreSQL prints an LSN as two hex halves
 * (`16/B374D848`); dbwitness keeps them as bigint internally, shows them in
 * PostgreSQL's form in events (`position`), and stores checkpoints
 * zero-padded (`00000016/B374D848`) so that checkpoints sort as strings.
 */
import { DbwitnessError } from '../../src/core/errors.js';

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): bigint {
  const m = LSN_TEXT.exec(text);
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw new DbwitnessError('E_PG_CHECKPOINT', `"${text}" is not a PostgreSQL LSN checkpoint`, 'the store holds a checkpoint of another engine or was edited; run `dbwitness verify` on the store');
  }
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** PostgreSQL's own spelling, e.g. 0/16B3748. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Zero-padded form used as the opaque, sortable checkpoint. */
export function checkpointOf(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase().padStart(8, '0')}/${(lsn & 0xffffffffn).toString(16).toUpperCase().padStart(8, '0')}`;
}
