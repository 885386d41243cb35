/**
 * MariaDB server_audit log source. The setup steps and doctor findings are
 * exported for `setup mysql` / `doctor` as well.
 */
export { mariadbAuditAdapter, openMariadbAuditSource } from './mariadb-audit-adapter.js';
export { MariadbAuditSourceConfig, resolveMariadbAudit } from './mariadb-audit-config.js';
export { serverAuditSetupSteps, serverAuditDoctorFindings, SERVER_AUDIT_EVENTS, type ServerAuditSetupOptions, type MysqlQueryable } from './mariadb-audit-setup.js';
export { mariadbInterpreter, MARIADB_SYSTEM_SCHEMAS, type MariadbInterpretOptions } from './mariadb-audit-interpret.js';
export { parseServerAuditLine, type ServerAuditLine } from './server-audit-line.js';
export { mariadbAction, statementTable } from './mariadb-statement.js';
