/**
 * The PostgreSQL adapter: setup plan, doctor and pgoutput change source
 * behind the SourceAdapter port.
 *
 * @example
 *   const config = postgresAdapter.configSchema.parse({ id: 'ehr', url, tables: ['clinic.patients'] });
 *   const plan = await postgresAdapter.planSetup(config, { logger });
 */
import type { SourceAdapter } from '../../src/core/ports.js';
import { PostgresSourceConfig } from './postgres-config.js';
import { connectAdmin } from './postgres-connection.js';
import { planSetupWith, buildKeyRotationPlan, buildUninstallPlan } from './postgres-setup-plan.js';
import { applyPlanWith } from './postgres-apply.js';
import { doctorWith } from './postgres-doctor.js';
import { auditedColumnsWith } from './postgres-columns.js';
import { PostgresChangeSource } from './postgres-source.js';

export { PostgresSourceConfig } from './postgres-config.js';
export { PostgresChangeSource, type PostgresSourceTuning } from './postgres-source.js';

async function withClient<T>(config: PostgresSourceConfig, fn: (c: Awaited<ReturnType<typeof connectAdmin>>) => Promise<T>): Promise<T> {
  const client = await connectAdmin(config);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const postgresAdapter: SourceAdapter<PostgresSourceConfig> = {
  name: 'postgres',
  urlSchemes: ['postgres:', 'postgresql:'],
  configSchema: PostgresSourceConfig,
  planSetup: (config) => withClient(config, (c) => planSetupWith(c, config)),
  planUninstall: async (config) => buildUninstallPlan(config),
  planKeyRotation: async (config, graceMs) => buildKeyRotationPlan(config, graceMs),
  applyPlan: (config, plan, ctx) => withClient(config, (c) => applyPlanWith(c, config, plan, ctx.logger)),
  doctor: (config) => withClient(config, (c) => doctorWith(c, config)),
  auditedColumns: (config) => withClient(config, (c) => auditedColumnsWith(c, config)),
  openSource: async (config, ctx) => new PostgresChangeSource(config, ctx.logger),
};
