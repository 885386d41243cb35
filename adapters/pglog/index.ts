/**
 * PostgreSQL server-log source (pgaudit + connection log). The setup steps
 * and doctor findings are exported for `setup postgres` / `doctor` too.
 */
export { pglogAdapter, openPglogSource, pglogFileSpec } from './pglog-adapter.js';
export { PglogSourceConfig, resolvePglog } from './pglog-config.js';
export { pgauditSetupSteps, pgauditDoctorFindings, type PgauditSetupOptions, type SqlClient } from './pglog-setup.js';
export { pgInterpreter, interpretPgRecord, PG_SYSTEM_SCHEMAS, type PgInterpretOptions } from './pglog-interpret.js';
export { parseJsonlogRecord, parseCsvlogRecord, type PgLogRecord } from './pglog-record.js';
export { parsePgaudit, splitQualifiedName, type PgauditEntry } from './pgaudit-message.js';
export { auditScope, type AuditScope } from '../../src/log-tail/audit-scope.js';
export { logFileFindings } from '../../src/log-tail/log-dir-findings.js';
