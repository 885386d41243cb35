/**
 * What every report produces, independent of its output format: a title,
 * the parameters it was run with, sections of rows, and notes that tell the
 * reviewer what the report cannot show.
 */
import type { IndexedEvent } from '../index/reader.js';
import type { MissingEvents } from './archive-gaps.js';

export type Cell = string | number | null;
export type ReportRow = Record<string, Cell>;

export interface ReportColumn {
  readonly key: string;
  readonly label: string;
}

export interface ReportSection {
  readonly title: string;
  readonly columns: readonly ReportColumn[];
  readonly rows: readonly ReportRow[];
  readonly notes?: readonly string[];
}

export interface Report {
  readonly kind: string;
  readonly title: string;
  /** Shown in order: subject, range, time zone, store ... */
  readonly params: readonly (readonly [string, string])[];
  readonly generatedAt: string;
  readonly sections: readonly ReportSection[];
  readonly notes: readonly string[];
  /** Events the index could not read from archived segments (archive-gaps.ts); absent when none. */
  readonly missing?: MissingEvents;
}

const col = (key: string, label: string): ReportColumn => ({ key, label });

/** Who did what, where: the columns of every event listing. */
export const ACTIVITY_COLUMNS: readonly ReportColumn[] = [
  col('time', 'Time (UTC)'),
  col('db_user', 'DB user'),
  col('app_user', 'App user'),
  col('role', 'Role'),
  col('application', 'Application'),
  col('client', 'Client address'),
  col('action', 'Action'),
  col('outcome', 'Outcome'),
  col('table', 'Table'),
  col('key', 'Row key'),
  col('columns', 'Columns changed'),
  col('identity', 'Identity'),
  col('source', 'Source'),
  col('event_id', 'Event id'),
];

export function activityRow(e: IndexedEvent): ReportRow {
  return {
    time: e.time,
    db_user: e.db_user,
    app_user: e.app_user,
    role: e.role,
    application: e.application,
    client: e.client_addr === null ? null : e.client_port === null ? e.client_addr : `${e.client_addr}:${e.client_port}`,
    action: e.action,
    outcome: e.outcome,
    table: tableName(e),
    key: e.key_text,
    columns: e.columns === null ? null : (JSON.parse(e.columns) as string[]).join(', '),
    identity: e.identity,
    source: e.source,
    event_id: e.id,
  };
}

export function tableName(e: Pick<IndexedEvent, 'schema_name' | 'table_name'>): string | null {
  if (e.table_name === null) return e.schema_name;
  return e.schema_name === null ? e.table_name : `${e.schema_name}.${e.table_name}`;
}

export function describeRange(from: string | null, to: string | null): string {
  return `${from ?? 'the beginning'} to ${to ?? 'now'} (from inclusive, to exclusive)`;
}
