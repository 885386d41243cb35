/**
 * Alert codes written into `detail.code` of `alert` events. They are stable:
 * dashboards, webhook receivers and docs/operations.md refer to them.
 */
export const ALERT_CODES = {
  /** Written by the pipeline: a committed change without a session identity. */
  unattributed: 'unattributed_change',
  ddl: 'ddl_on_audited_table',
  tampering: 'audit_tampering',
  account: 'account_not_allowed',
  afterHours: 'after_hours_access',
  bulk: 'bulk_access',
  lag: 'replication_lag',
  retained: 'replication_retention',
  silent: 'pipeline_silent',
} as const;

export type AlertCode = (typeof ALERT_CODES)[keyof typeof ALERT_CODES];
