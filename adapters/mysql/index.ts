/**
 * The MySQL/MariaDB adapter: setup plan, doctor and binlog source behind
 * the `SourceAdapter` port.
 *
 * @example
 *   const config = mysqlAdapter.configSchema.parse({ id: 'clinic', url: 'mysql://dbwitness@db:3306/', tables: ['clinic.patients'] });
 *   const source = await mysqlAdapter.openSource(config, { logger });
 */
import type { SourceAdapter } from '../../src/core/ports.js';
import { openBinlogSource } from './binlog-source.js';
import { MysqlSourceConfig } from './mysql-config.js';
import { doctor } from './mysql-doctor.js';
import { applyPlan, planSetup, planUninstall } from './mysql-setup-plan.js';
import { auditedColumns } from './table-columns.js';

export const mysqlAdapter: SourceAdapter<MysqlSourceConfig> = {
  name: 'mysql',
  urlSchemes: ['mysql:', 'mariadb:'],
  configSchema: MysqlSourceConfig as unknown as SourceAdapter<MysqlSourceConfig>['configSchema'],
  planSetup,
  planUninstall,
  applyPlan: (config, plan, ctx) => applyPlan(config, plan, ctx),
  doctor,
  auditedColumns,
  openSource: (config, ctx) => openBinlogSource(config, ctx.logger),
};

export { MysqlSourceConfig, effectiveServerId } from './mysql-config.js';
export { BinlogSource } from './binlog-source.js';
export { TxAssembler } from './tx-assembler.js';
export { ConnectionRegistry } from './connection-registry.js';
