/**
 * Fields every source entry of the config file shares. Each adapter's
 * `configSchema` extends this with its own (slot names, server ids, ...).
 *
 * Secrets: a password may come from the URL, but the config file should
 * name an environment variable instead (`password_env`), so the file can be
 * reviewed and committed without the secret.
 */
import { z } from 'zod';

export const SOURCE_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const BaseSourceConfig = z.object({
  /** Stable id of the source: names its chain in the store. Never change it. */
  id: z.string().regex(SOURCE_ID, 'lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters'),
  url: z.string().min(1),
  /** Environment variable holding the password (overrides one in the URL). */
  password_env: z.string().optional(),
  /** Audited tables as schema.table (PostgreSQL) or database.table (MySQL). */
  tables: z.array(z.string()).default([]),
  /** Audit every table of these schemas (PostgreSQL) or databases (MySQL). */
  schemas: z.array(z.string()).default([]),
});
export type BaseSourceConfig = z.infer<typeof BaseSourceConfig>;

/** The URL with the password from `password_env` applied (never log the result). */
export function resolveSourceUrl(config: Pick<BaseSourceConfig, 'url' | 'password_env'>, env: NodeJS.ProcessEnv = process.env): string {
  if (!config.password_env) return config.url;
  const password = env[config.password_env];
  if (password === undefined) return config.url;
  const u = new URL(config.url);
  u.password = password;
  return u.toString();
}
