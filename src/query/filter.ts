/**
 * The event filter of `dbwitness query`, independent of how events are
 * found: the full scan applies `matchesEvent` to every event, and an index
 * can translate the same `EventFilter` into its own lookups and use
 * `matchesEvent` as the final check.
 */
import { Action, MICRO_TIMESTAMP, type AuditEvent } from '../core/event.js';
import { isoMicros } from '../core/ids.js';
import { usageError } from '../core/errors.js';

export interface TableRef {
  /** null: any schema (the flag named only a table). */
  readonly schema: string | null;
  readonly table: string;
}

export interface EventFilter {
  /** Inclusive lower bound on `time` (UTC ISO 8601 with microseconds). */
  readonly from?: string;
  /** Exclusive upper bound on `time`. */
  readonly to?: string;
  readonly sources?: readonly string[];
  readonly tables?: readonly TableRef[];
  readonly actions?: readonly Action[];
  /** actor.db_user */
  readonly users?: readonly string[];
  /** actor.application */
  readonly apps?: readonly string[];
  /** actor.client_addr */
  readonly clients?: readonly string[];
  readonly limit?: number;
}

export interface FilterFlags {
  from?: string;
  to?: string;
  source?: string[];
  table?: string[];
  action?: string[];
  user?: string[];
  app?: string[];
  client?: string[];
  limit?: string;
}

/** Splits repeated and comma-separated flag values: `--action insert,update --action delete`. */
function list(values: string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const out = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  return out.length === 0 ? undefined : out;
}

/** Accepts an exact micro timestamp, or any date/time Date.parse understands (a date alone is UTC midnight). */
export function parseTimeBound(value: string, flag: string): string {
  if (MICRO_TIMESTAMP.test(value)) return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw usageError('E_QUERY_TIME', `${flag} ${JSON.stringify(value)} is not a date or time`, `use ISO 8601, e.g. ${flag} 2026-11-26 or ${flag} 2026-11-26T10:00:00Z`);
  }
  return isoMicros(new Date(ms));
}

export function parseFilterFlags(flags: FilterFlags): EventFilter {
  const actions = list(flags.action);
  for (const a of actions ?? []) {
    if (!Action.safeParse(a).success) throw usageError('E_QUERY_ACTION', `unknown action ${JSON.stringify(a)}`, `use one of: ${Action.options.join(', ')}`);
  }
  const tables = list(flags.table)?.map((t): TableRef => {
    const dot = t.lastIndexOf('.');
    return dot < 0 ? { schema: null, table: t } : { schema: t.slice(0, dot), table: t.slice(dot + 1) };
  });
  let limit: number | undefined;
  if (flags.limit !== undefined) {
    limit = Number(flags.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) throw usageError('E_QUERY_LIMIT', `--limit must be a positive integer, got ${JSON.stringify(flags.limit)}`, 'pass e.g. --limit 100');
  }
  const from = flags.from === undefined ? undefined : parseTimeBound(flags.from, '--from');
  const to = flags.to === undefined ? undefined : parseTimeBound(flags.to, '--to');
  if (from !== undefined && to !== undefined && from >= to) throw usageError('E_QUERY_RANGE', `--from ${from} is not before --to ${to}`, 'swap them, or widen the range');
  const f: Record<string, unknown> = { from, to, sources: list(flags.source), tables, actions, users: list(flags.user), apps: list(flags.app), clients: list(flags.client), limit };
  for (const k of Object.keys(f)) if (f[k] === undefined) delete f[k];
  return f as EventFilter;
}

/** True when the event passes every filter given (`limit` is the caller's job). */
export function matchesEvent(e: AuditEvent, f: EventFilter): boolean {
  // ISO timestamps with a fixed width and a Z suffix compare correctly as strings.
  if (f.from !== undefined && e.time < f.from) return false;
  if (f.to !== undefined && e.time >= f.to) return false;
  if (f.sources !== undefined && !f.sources.includes(e.source.id)) return false;
  if (f.actions !== undefined && !f.actions.includes(e.action)) return false;
  if (f.users !== undefined && (e.actor.db_user === null || !f.users.includes(e.actor.db_user))) return false;
  if (f.apps !== undefined && (e.actor.application === null || !f.apps.includes(e.actor.application))) return false;
  if (f.clients !== undefined && (e.actor.client_addr === null || !f.clients.includes(e.actor.client_addr))) return false;
  if (f.tables !== undefined) {
    const o = e.object;
    if (o === null || o.table === null) return false;
    if (!f.tables.some((t) => t.table === o.table && (t.schema === null || t.schema === o.schema))) return false;
  }
  return true;
}
