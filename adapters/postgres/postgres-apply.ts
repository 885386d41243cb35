/**
 * `setup --apply`: runs a plan's SQL statement by statement, each in its own
 * transaction (a logical slot cannot be created in a transaction that has
 * written). The daemon password is put in here, from the environment, and
 * appears in no plan, log line or error.
 */
import type { Logger } from 'pino';
import { DbwitnessError } from '../../src/core/errors.js';
import type { SetupPlan } from '../../src/core/ports.js';
import type { PostgresSourceConfig } from './postgres-config.js';
import type { PgClient } from './postgres-connection.js';
import { NATIVE_EMITTER_LIBRARY } from './identity-sql.js';
import { passwordPlaceholder } from './postgres-setup-plan.js';
import { quoteLiteral } from './sql-quote.js';

export async function applyPlanWith(client: PgClient, config: PostgresSourceConfig, plan: SetupPlan, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const placeholder = passwordPlaceholder(config.daemon_password_env);
  const password = env[config.daemon_password_env];
  for (const step of plan.steps) {
    for (const sql of step.sql) {
      let text = sql;
      if (sql.includes(placeholder)) {
        if (password === undefined || password === '') {
          logger.warn({ step: step.title, env: config.daemon_password_env }, 'daemon password not set: skipping ALTER ROLE ... PASSWORD');
          continue;
        }
        text = sql.split(placeholder).join(quoteLiteral(password));
      }
      try {
        await client.query(text);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        const hint = new RegExp(`(could not access file|could not load library|incompatible library).*${NATIVE_EMITTER_LIBRARY}`, 'is').test(reason)
          ? `the native emitter is not installed for this server's version: build and install it there (make && make install in native/postgres-emitter, with this server's pg_config; docs/postgres.md, "Native emitter"), or keep identity_emitter: plpgsql; the emitter in place was left as it was`
          : /permission denied|must be superuser|must be owner/i.test(reason)
            ? 'run setup --apply as a superuser (event triggers and REVOKE on pg_catalog functions need one)'
            : 'fix the cause above and run setup --apply again; every step is idempotent';
        // The statement may hold the password: name the step, never the SQL.
        throw new DbwitnessError('E_PG_SETUP_STEP', `setup step "${step.title}" failed: ${reason}`, hint, { cause: e });
      }
    }
    logger.info({ step: step.title }, 'setup step applied');
  }
}
