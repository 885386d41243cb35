/**
 * The event policy for `run`: subject mapping and redaction from the config
 * file (`subjects`, `redaction`), with flags for the common choices.
 *
 * The default keeps keys and subject ids and HMACs every other value, which
 * needs a key that lives outside the store. Without one, run refuses to
 * start rather than silently store ePHI in clear: the operator either gives
 * a key or states `--redaction keep` (evaluation, or stores that are
 * themselves protected as ePHI).
 */
import type { Command } from 'commander';
import type { ConfigFile } from '../config/config-schema.js';
import { validate } from '../config/load-config.js';
import type { DraftEvent } from '../core/event.js';
import { usageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { PolicyConfig, policyFromConfig, type MissingPolicyColumns, type PolicyConfigInput, type SubjectFallback } from '../policy/index.js';

export interface PolicyFlags {
  redaction?: string;
  hmacKeyFile?: string;
}

const RULES = ['keep', 'hmac', 'redact', 'drop'] as const;

export function addPolicyOptions(cmd: Command): Command {
  return cmd
    .option('--redaction <rule>', `default rule for column values that are not keys or subject ids: ${RULES.join('|')} (default hmac)`)
    .option('--hmac-key-file <file>', 'key (>= 32 random bytes, hex or base64) for HMAC redaction; keep it outside the store');
}

export function policyTransform(flags: PolicyFlags, config: ConfigFile, lookupFallback: SubjectFallback | null = null, logger: Logger | null = null): (draft: DraftEvent) => DraftEvent {
  const raw = validate(PolicyConfig, { subjects: config.subjects ?? {}, redaction: config.redaction ?? {} }, 'config');
  const input: PolicyConfigInput = { subjects: raw.subjects, redaction: { ...raw.redaction } };
  if (flags.redaction !== undefined) {
    if (!(RULES as readonly string[]).includes(flags.redaction)) {
      throw usageError('E_REDACTION_RULE', `unknown redaction rule "${flags.redaction}"`, `use one of: ${RULES.join(', ')}`);
    }
    input.redaction!.default = flags.redaction as (typeof RULES)[number];
  }
  if (flags.hmacKeyFile !== undefined) input.redaction!.hmac_key = { file: flags.hmacKeyFile };
  const onMissingColumns =
    logger === null
      ? undefined
      : ({ table, columns, present }: MissingPolicyColumns): void => {
          // Names only: column names are schema, never row values.
          logger.warn(
            { table, missing: columns, columns: present },
            `the policy names ${columns.map((c) => `${c.column} (${c.setting})`).join(', ')}, which ${table} does not have: that mapping or rule applies to nothing. Fix the name (case-sensitive) in the config and restart run; \`dbwitness doctor --config\` lists every such name`,
          );
        };
  const policy = policyFromConfig(input, { ...(lookupFallback === null ? {} : { lookupFallback }), onMissingColumns });
  return (draft) => policy.apply(draft);
}
