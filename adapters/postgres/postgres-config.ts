/**
 * The PostgreSQL source's configuration: what `dbwitness setup/doctor/run`
 * pass in from flags or from a `sources:` entry of the config file.
 */
import { z } from 'zod';
import { BaseSourceConfig } from '../../src/core/source-config.js';

/** PostgreSQL accepts only lower-case letters, digits and underscores in slot names. */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
const IDENT = z.string().min(1).max(63);

export const PostgresSourceConfig = BaseSourceConfig.extend({
  /** Logical replication slot (pgoutput) the daemon reads from. Created only by `setup`. */
  slot: z.string().regex(SLOT_NAME, 'slot names may hold lower-case letters, digits and "_" only (at most 63)').default('dbwitness'),
  publication: IDENT.default('dbwitness'),
  /** LOGIN REPLICATION role the daemon connects as. */
  daemon_role: IDENT.default('dbwitness_daemon'),
  /** Environment variable with the daemon role's password, read by `setup --apply` only. */
  daemon_password_env: z.string().min(1).default('DBWITNESS_DAEMON_PASSWORD'),
  /** NOLOGIN role owning the SECURITY DEFINER identity emitter. */
  emitter_role: IDENT.default('dbwitness_emitter'),
  /** Schema holding dbwitness's functions and scope table. */
  schema_name: IDENT.default('dbwitness'),
  /**
   * What writes the identity message: `plpgsql` (the default; runs on any
   * server, managed services included) or `native`, the C trigger function
   * from native/postgres-emitter, which the DBA builds and installs on the
   * server first and which costs the source a fraction of the PL/pgSQL
   * one (docs/postgres.md, "Native emitter").
   */
  identity_emitter: z.enum(['plpgsql', 'native']).default('plpgsql'),
  /**
   * Show writes to partitions under the partitioned table's name (what a
   * reviewer expects: "clinic.encounters", not "clinic.encounters_2026_11").
   */
  publish_via_partition_root: z.boolean().default(true),
});
export type PostgresSourceConfig = z.infer<typeof PostgresSourceConfig>;

/** Logical message prefix of identity messages written by the emitter trigger. */
export const IDENTITY_PREFIX = 'dbwitness';
/** Logical message prefix of DDL messages written by the event trigger. */
export const DDL_PREFIX = 'dbwitness.ddl';
/**
 * Logical message prefix of the daemon's heartbeats: non-transactional
 * messages written by `<schema>.emit_heartbeat(nonce)`, read as progress only.
 */
export const HEARTBEAT_PREFIX = 'dbwitness.heartbeat';
/** The SECURITY DEFINER function in `schema_name` that writes a heartbeat (owned by the emitter role). */
export const HEARTBEAT_FUNCTION = 'emit_heartbeat';
/** Name of the statement trigger on every audited table and partition. */
export const IDENTITY_TRIGGER = 'dbwitness_identity';
