/**
 * Tailing server logs as audit sources, shared by the PostgreSQL log and
 * MariaDB server_audit adapters.
 */
export { decodeCursor, encodeCursor, type LogCursor } from './log-cursor.js';
export { listLogFiles, type LogFile, type LogFileSpec } from './log-file-set.js';
export { frameRecords, type Framing } from './record-framing.js';
export { tailLog, type TailItem, type TailOptions } from './log-tailer.js';
export { LogChangeSource, type Interpreter, type LogInterpretation, type RecordAt, type LogSourceOptions, type RejectionStats } from './log-change-source.js';
export { capStatement, DEFAULT_STATEMENT_MAX_CHARS, leadingCommand, maskSecrets, safeStatement } from './statement-text.js';
export { mariadbAuditTime, parseOffset, pgLogTime } from './log-time.js';
export { splitCsv } from './csv-fields.js';
