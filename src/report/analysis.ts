/**
 * Reports that look for patterns: activity outside working hours, bulk
 * access (one transaction or session touching many patients or rows), and
 * the store summary.
 */
import { nowMicros } from '../core/ids.js';
import { clockMinutes, WEEKDAYS } from './config.js';
import { ACTIVITY_COLUMNS, activityRow, type Report, type ReportRow, type ReportSection } from './model.js';
import { baseParams, type ReportContext } from './listings.js';
import { rangeSql } from './time.js';

/** Human activity (not alerts or heartbeats) outside the configured working hours, in the configured zone. */
export function afterHoursReport(ctx: ReportContext): Report {
  const wh = ctx.config.working_hours;
  const start = clockMinutes(wh.start);
  const end = clockMinutes(wh.end);
  const days = new Set(wh.days.map((d) => WEEKDAYS.indexOf(d)));
  const r = rangeSql(ctx.range);
  const rows: ReportRow[] = [];
  const perUser = new Map<string, { events: number; first: string; last: string }>();
  for (const e of ctx.reader.events(`e.action NOT IN ('alert', 'heartbeat') AND ${r.sql}`, r.params)) {
    const local = ctx.clock.local(e.time);
    const inHours = days.has(local.weekday) && local.minutes >= start && local.minutes < end;
    if (inHours) continue;
    rows.push({ local_time: `${local.text} ${WEEKDAYS[local.weekday]}`, ...activityRow(e) });
    const who = e.db_user ?? '(unattributed)';
    const u = perUser.get(who);
    if (u) {
      u.events++;
      u.last = e.time;
    } else perUser.set(who, { events: 1, first: e.time, last: e.time });
  }
  return {
    kind: 'after-hours',
    title: 'Activity outside working hours',
    params: [...baseParams(ctx), ['Working hours', `${wh.start}-${wh.end} on ${wh.days.join(', ')}`], ['Events', String(rows.length)]],
    generatedAt: nowMicros(),
    sections: [
      {
        title: 'Per user',
        columns: [
          { key: 'db_user', label: 'DB user' },
          { key: 'events', label: 'Events' },
          { key: 'first', label: 'First (UTC)' },
          { key: 'last', label: 'Last (UTC)' },
        ],
        rows: [...perUser.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([db_user, u]) => ({ db_user, ...u })),
      },
      { title: 'Events', columns: [{ key: 'local_time', label: `Local time (${ctx.clock.zone})` }, ...ACTIVITY_COLUMNS], rows },
    ],
    notes: [],
  };
}

interface GroupRow {
  source: string;
  grp: string;
  first: string;
  last: string;
  users: string | null;
  app_users: string | null;
  tables: string | null;
  rows: number;
  patients: number;
}

/** Transactions and sessions that touched more patients or rows than the thresholds. */
export function bulkReport(ctx: ReportContext, thresholds: { patients: number; rows: number }): Report {
  const r = rangeSql(ctx.range);
  const group = (column: 'tx_id' | 'session_id'): GroupRow[] =>
    ctx.reader.db
      .prepare(
        `SELECT e.source, e.${column} AS grp, MIN(e.time) AS first, MAX(e.time) AS last,
           GROUP_CONCAT(DISTINCT e.db_user) AS users, GROUP_CONCAT(DISTINCT e.app_user) AS app_users,
           GROUP_CONCAT(DISTINCT e.schema_name || '.' || e.table_name) AS tables,
           COUNT(*) AS rows, COUNT(DISTINCT e.patient_id) AS patients
         FROM events e
         WHERE e.${column} IS NOT NULL AND e.action NOT IN ('alert', 'heartbeat', 'ddl') AND ${r.sql}
         GROUP BY e.source, e.${column}
         HAVING COUNT(DISTINCT e.patient_id) > ? OR COUNT(*) > ?
         ORDER BY first`,
      )
      .all(...r.params, thresholds.patients, thresholds.rows) as GroupRow[];
  const section = (title: string, label: string, rows: GroupRow[]): ReportSection => ({
    title,
    columns: [
      { key: 'first', label: 'First (UTC)' },
      { key: 'last', label: 'Last (UTC)' },
      { key: 'source', label: 'Source' },
      { key: 'grp', label: label },
      { key: 'users', label: 'DB users' },
      { key: 'app_users', label: 'App users' },
      { key: 'patients', label: 'Distinct patients' },
      { key: 'rows', label: 'Rows' },
      { key: 'tables', label: 'Tables' },
    ],
    rows: rows.map((g) => ({ ...g })),
  });
  return {
    kind: 'bulk',
    title: 'Bulk access',
    params: [...baseParams(ctx), ['Thresholds', `more than ${thresholds.patients} patients or ${thresholds.rows} rows`]],
    generatedAt: nowMicros(),
    sections: [section('Transactions', 'Transaction', group('tx_id')), section('Sessions', 'Session', group('session_id'))],
    notes: [],
  };
}

export interface ChainStatusRow {
  readonly source: string;
  readonly status: string;
  readonly detail: string;
}

/** Counts per source, action and user; the chain check when the caller provides one. */
export function summaryReport(ctx: ReportContext, chains: readonly ChainStatusRow[] | null): Report {
  const r = rangeSql(ctx.range);
  const q = <T>(sql: string): T[] => ctx.reader.db.prepare(sql).all(...r.params) as T[];
  const sources = q<ReportRow>(
    `SELECT e.source, COUNT(*) AS events, MIN(e.seq) AS first_seq, MAX(e.seq) AS last_seq, MIN(e.time) AS first, MAX(e.time) AS last,
       SUM(e.identity = 'unattributed' AND e.action NOT IN ('alert', 'heartbeat')) AS unattributed, SUM(e.action = 'alert') AS alerts
     FROM events e WHERE ${r.sql} GROUP BY e.source ORDER BY e.source`,
  );
  const actions = q<ReportRow>(`SELECT e.action, e.outcome, COUNT(*) AS events FROM events e WHERE ${r.sql} GROUP BY e.action, e.outcome ORDER BY events DESC, e.action`);
  const users = q<ReportRow>(
    `SELECT e.db_user, COUNT(*) AS events, COUNT(DISTINCT e.patient_id) AS patients, MIN(e.time) AS first, MAX(e.time) AS last
     FROM events e WHERE ${r.sql} AND e.action NOT IN ('alert', 'heartbeat') GROUP BY e.db_user ORDER BY events DESC, e.db_user`,
  );
  const sections: ReportSection[] = [
    {
      title: 'Per source',
      columns: [
        { key: 'source', label: 'Source' },
        { key: 'events', label: 'Events' },
        { key: 'first_seq', label: 'First seq' },
        { key: 'last_seq', label: 'Last seq' },
        { key: 'first', label: 'First (UTC)' },
        { key: 'last', label: 'Last (UTC)' },
        { key: 'unattributed', label: 'Unattributed' },
        { key: 'alerts', label: 'Alerts' },
      ],
      rows: sources,
    },
    { title: 'Per action', columns: [{ key: 'action', label: 'Action' }, { key: 'outcome', label: 'Outcome' }, { key: 'events', label: 'Events' }], rows: actions },
    {
      title: 'Per DB user',
      columns: [
        { key: 'db_user', label: 'DB user' },
        { key: 'events', label: 'Events' },
        { key: 'patients', label: 'Distinct patients' },
        { key: 'first', label: 'First (UTC)' },
        { key: 'last', label: 'Last (UTC)' },
      ],
      rows: users,
    },
  ];
  const notes: string[] = [];
  if (chains) {
    sections.push({ title: 'Chain integrity', columns: [{ key: 'source', label: 'Source' }, { key: 'status', label: 'Status' }, { key: 'detail', label: 'Detail' }], rows: chains.map((c) => ({ ...c })) });
  } else {
    notes.push('Chain integrity was not checked by this report: run `dbwitness verify` on the store.');
  }
  return { kind: 'summary', title: 'Audit summary', params: [...baseParams(ctx)], generatedAt: nowMicros(), sections, notes };
}
