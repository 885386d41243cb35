/**
 * Reports that list events: one patient, one user, unattributed activity,
 * schema changes. All read the index only (never row values: the index
 * holds none), in time order.
 */
import { nowMicros } from '../core/ids.js';
import type { IndexReader } from '../index/reader.js';
import type { ReportsConfig } from './config.js';
import { ACTIVITY_COLUMNS, activityRow, describeRange, tableName, type Report, type ReportRow } from './model.js';
import { rangeSql, type TimeRange, type ZoneClock } from './time.js';

export interface ReportContext {
  readonly reader: IndexReader;
  readonly range: TimeRange;
  readonly clock: ZoneClock;
  readonly config: ReportsConfig;
  readonly storeDir: string;
}

export function baseParams(ctx: ReportContext): [string, string][] {
  return [
    ['Period', describeRange(ctx.range.from, ctx.range.to)],
    ['Time zone', ctx.clock.zone],
    ['Store', ctx.storeDir],
  ];
}

function count(ctx: ReportContext, where: string, params: (string | number)[]): number {
  const r = rangeSql(ctx.range);
  return (ctx.reader.db.prepare(`SELECT COUNT(*) AS n FROM events e WHERE ${where} AND ${r.sql}`).get(...params, ...r.params) as { n: number }).n;
}

/** Every access to and change of one patient's records, across mapped tables and sources. */
export function patientReport(ctx: ReportContext, patientId: string): Report {
  const r = rangeSql(ctx.range, { filterOnly: true });
  const rows: ReportRow[] = [];
  for (const e of ctx.reader.events(`(e.patient_id = ? OR e.patient_before = ?) AND ${r.sql}`, [patientId, patientId, ...r.params])) {
    const row = activityRow(e);
    // An update that moved the row to another patient concerns both.
    if (e.patient_before !== null && e.patient_before !== e.patient_id) row['columns'] = `${row['columns'] ?? ''} (moved from patient ${e.patient_before} to ${e.patient_id ?? 'unknown'})`;
    rows.push(row);
  }
  const notes: string[] = [];
  const unresolved = count(ctx, 'e.mapped = 1 AND e.patient_id IS NULL', []);
  if (unresolved > 0) {
    notes.push(`${unresolved} change(s) in this period on patient-mapped tables carry no patient id (a lookup whose parent row dbwitness never saw) and cannot be shown here; \`dbwitness report unattributed\` lists them.`);
  }
  const r2 = rangeSql(ctx.range);
  const anyRead = ctx.reader.db.prepare(`SELECT 1 FROM events e WHERE e.action = 'read' AND ${r2.sql} LIMIT 1`).get(...r2.params);
  if (anyRead === undefined) notes.push('No read (SELECT) events are in this period: reads appear only when a database audit-log source (pgaudit, MariaDB server_audit) is configured.');
  const users = new Set(rows.map((x) => x['db_user']).filter((u) => u !== null));
  return {
    kind: 'patient',
    title: `Access report for patient ${patientId}`,
    params: [['Patient', patientId], ...baseParams(ctx), ['Events', String(rows.length)], ['Distinct DB users', String(users.size)]],
    generatedAt: nowMicros(),
    sections: [{ title: 'Accesses and changes', columns: ACTIVITY_COLUMNS, rows }],
    notes,
  };
}

/** One account's activity (database user or application user), with counts per table and action. */
export function userReport(ctx: ReportContext, name: string): Report {
  const r = rangeSql(ctx.range);
  const where = `(e.db_user = ? OR e.app_user = ?) AND ${r.sql}`;
  const counts = ctx.reader.db
    .prepare(
      `SELECT e.schema_name, e.table_name, e.action, COUNT(*) AS events, COUNT(DISTINCT e.patient_id) AS patients, MIN(e.time) AS first, MAX(e.time) AS last
       FROM events e WHERE ${where} GROUP BY e.schema_name, e.table_name, e.action ORDER BY e.schema_name, e.table_name, e.action`,
    )
    .all(name, name, ...r.params) as { schema_name: string | null; table_name: string | null; action: string; events: number; patients: number; first: string; last: string }[];
  const rows = [...ctx.reader.events(where, [name, name, ...r.params])].map(activityRow);
  return {
    kind: 'user',
    title: `Activity report for user ${name}`,
    params: [['User (DB or application)', name], ...baseParams(ctx), ['Events', String(rows.length)]],
    generatedAt: nowMicros(),
    sections: [
      {
        title: 'Counts per table and action',
        columns: [
          { key: 'table', label: 'Table' },
          { key: 'action', label: 'Action' },
          { key: 'events', label: 'Events' },
          { key: 'patients', label: 'Distinct patients' },
          { key: 'first', label: 'First (UTC)' },
          { key: 'last', label: 'Last (UTC)' },
        ],
        rows: counts.map((c) => ({ table: tableName(c), action: c.action, events: c.events, patients: c.patients, first: c.first, last: c.last })),
      },
      { title: 'Activity', columns: ACTIVITY_COLUMNS, rows },
    ],
    notes: [],
  };
}

/** Changes without a session identity, source alerts, and changes whose patient could not be resolved. */
export function unattributedReport(ctx: ReportContext): Report {
  const r = rangeSql(ctx.range);
  const changes = [...ctx.reader.events(`e.identity = 'unattributed' AND e.action NOT IN ('alert', 'heartbeat') AND ${r.sql}`, r.params)].map(activityRow);
  const alerts = [...ctx.reader.events(`e.action = 'alert' AND ${r.sql}`, r.params)].map((e) => {
    const detail = e.detail === null ? {} : (JSON.parse(e.detail) as Record<string, string>);
    return { time: e.time, source: e.source, code: detail['code'] ?? null, table: tableName(e), position: e.position, detail: e.detail, event_id: e.id };
  });
  const unresolved = [...ctx.reader.events(`e.mapped = 1 AND e.patient_id IS NULL AND ${r.sql}`, r.params)].map(activityRow);
  return {
    kind: 'unattributed',
    title: 'Unattributed activity',
    params: [...baseParams(ctx)],
    generatedAt: nowMicros(),
    sections: [
      {
        title: 'Changes without a session identity',
        columns: ACTIVITY_COLUMNS,
        rows: changes,
        notes: ['A committed change on an audited table without an identity in its transaction means the identity mechanism was bypassed or disabled (e.g. session_replication_role = replica, a disabled trigger).'],
      },
      {
        title: 'Source alerts',
        columns: [
          { key: 'time', label: 'Time (UTC)' },
          { key: 'source', label: 'Source' },
          { key: 'code', label: 'Code' },
          { key: 'table', label: 'Table' },
          { key: 'position', label: 'Position' },
          { key: 'detail', label: 'Detail' },
          { key: 'event_id', label: 'Event id' },
        ],
        rows: alerts,
      },
      { title: 'Changes on patient-mapped tables with no patient id', columns: ACTIVITY_COLUMNS, rows: unresolved },
    ],
    notes: [],
  };
}

/** Schema changes (DDL), with the statement as stored (after the statement redaction policy). */
export function ddlReport(ctx: ReportContext): Report {
  const r = rangeSql(ctx.range);
  const rows = [...ctx.reader.events(`e.action = 'ddl' AND ${r.sql}`, r.params)].map((e) => ({
    time: e.time,
    db_user: e.db_user,
    role: e.role,
    client: e.client_addr,
    object: tableName(e),
    statement: e.statement,
    identity: e.identity,
    source: e.source,
    event_id: e.id,
  }));
  return {
    kind: 'ddl',
    title: 'Schema changes (DDL)',
    params: [...baseParams(ctx), ['Events', String(rows.length)]],
    generatedAt: nowMicros(),
    sections: [
      {
        title: 'DDL statements',
        columns: [
          { key: 'time', label: 'Time (UTC)' },
          { key: 'db_user', label: 'DB user' },
          { key: 'role', label: 'Role' },
          { key: 'client', label: 'Client address' },
          { key: 'object', label: 'Object' },
          { key: 'statement', label: 'Statement' },
          { key: 'identity', label: 'Identity' },
          { key: 'source', label: 'Source' },
          { key: 'event_id', label: 'Event id' },
        ],
        rows,
      },
    ],
    notes: [],
  };
}
