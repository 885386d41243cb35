/** Subject mapping and PHI redaction, applied to every event before it is stored. */
export {
  ColumnRule,
  StatementRule,
  ColumnMapping,
  LookupMapping,
  SubjectMapping,
  SubjectsConfig,
  HmacKeySource,
  TableRedaction,
  RedactionConfig,
  PolicyConfig,
  type PolicyConfigInput,
} from './config.js';
export { compilePolicy, policyFromConfig, type EventPolicy, type CompilePolicyOptions } from './policy.js';
export { loadHmacKey, makeHmac, MIN_HMAC_KEY_BYTES, type Hmac } from './hmac.js';
export { redactSqlLiterals, type Dialect } from './statement.js';
export { SubjectResolver, DEFAULT_LOOKUP_CACHE_SIZE, type SubjectFallback, type SubjectStats } from './subjects.js';
export { checkPolicy, type AuditedScope } from './check.js';
export { namedColumns, PolicyColumnWatch, type MissingPolicyColumns } from './named-columns.js';
