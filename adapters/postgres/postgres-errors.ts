/**
 * Classifying what the server says while streaming: some errors need the
 * operator (missing or invalidated slot, bad credentials), the rest are
 * transient (restart, network) and are retried with backoff.
 */
import { DbwitnessError, findingError, isDbwitnessError } from '../../src/core/errors.js';

interface PgServerError {
  readonly code?: string;
  readonly message?: string;
}

function pgError(e: unknown): PgServerError {
  return typeof e === 'object' && e !== null ? (e as PgServerError) : {};
}

export function slotMissing(slot: string): DbwitnessError {
  return new DbwitnessError(
    'E_PG_SLOT_MISSING',
    `replication slot "${slot}" does not exist`,
    'create it with `dbwitness setup postgres --apply` (run never creates a slot: a new slot starts at the current WAL position, so everything written since the old one would be silently skipped; record that gap if the old slot was lost)',
  );
}

export function slotInvalidated(slot: string, detail: string): DbwitnessError {
  return findingError(
    'E_PG_SLOT_INVALIDATED',
    `replication slot "${slot}" was invalidated (${detail}): the server removed WAL dbwitness had not read, so changes were lost to the audit trail`,
    'record the gap for your compliance officer, then drop and recreate the slot with `dbwitness setup postgres --uninstall` / `--apply`, and raise max_slot_wal_keep_size or keep the daemon running',
  );
}

/** A DbwitnessError when the failure needs the operator, null when a retry may succeed. */
export function fatalStreamError(e: unknown, slot: string, publication: string): DbwitnessError | null {
  if (isDbwitnessError(e)) return e;
  const { code, message = '' } = pgError(e);
  switch (code) {
    case '42704':
      if (/publication/i.test(message)) {
        return new DbwitnessError('E_PG_PUBLICATION_MISSING', `publication "${publication}" does not exist`, 'create it with `dbwitness setup postgres --apply`');
      }
      return slotMissing(slot);
    case '55000':
      if (/invalidated|can no longer get changes|removed/i.test(message)) return slotInvalidated(slot, message);
      if (/wal_level/i.test(message)) {
        return new DbwitnessError('E_PG_WAL_LEVEL', `the server cannot decode WAL: ${message}`, "ALTER SYSTEM SET wal_level = 'logical'; then restart PostgreSQL (see `dbwitness doctor`)");
      }
      return null;
    case '28000':
    case '28P01':
      return new DbwitnessError('E_PG_AUTH', `PostgreSQL refused the daemon's login: ${message}`, 'check the user and password (password_env) and pg_hba.conf');
    case '42501':
      return new DbwitnessError('E_PG_PRIVILEGE', `the daemon's role lacks a privilege: ${message}`, 'the daemon role needs LOGIN and REPLICATION (see `dbwitness setup postgres`)');
    case '3D000':
      return new DbwitnessError('E_PG_DATABASE', `database does not exist: ${message}`, 'check the database name in --url');
    case '0A000':
    case '42601':
      return new DbwitnessError('E_PG_UNSUPPORTED', `the server refused the replication request: ${message}`, 'dbwitness needs PostgreSQL 14 or newer with wal_level = logical');
    default:
      return null;
  }
}
