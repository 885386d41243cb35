/**
 * Options every command shares (--config, --log-level) and the helpers that
 * merge flags over the config file.
 */
import type { Command } from 'commander';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../core/logger.js';
import { usageError } from '../core/errors.js';
import { loadConfigFile } from '../config/load-config.js';
import type { ConfigFile } from '../config/config-schema.js';

export interface GlobalFlags {
  config?: string;
  logLevel?: string;
}

export function addGlobalOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML config file (flags override it)')
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join('|')}`);
}

export async function loadContext(flags: GlobalFlags): Promise<{ config: ConfigFile; logger: Logger }> {
  const config: ConfigFile = flags.config ? await loadConfigFile(flags.config) : { sources: [] };
  const level = flags.logLevel ?? config.log_level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw usageError('E_LOG_LEVEL', `unknown log level "${level}"`, `use one of: ${LOG_LEVELS.join(', ')}`);
  }
  return { config, logger: createLogger(level as LogLevel) };
}
