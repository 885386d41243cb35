/**
 * Reads and validates the YAML config file. Every error names the file, the
 * key, what is wrong with the value and how to fix it; values themselves are
 * echoed only for keys that cannot hold secrets.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { usageError } from '../core/errors.js';
import { ConfigFile } from './config-schema.js';

export async function loadConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw usageError('E_CONFIG_READ', `cannot read config file ${path} (${code ?? 'error'})`, code === 'ENOENT' ? 'check the path given to --config' : 'check the file permissions');
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, path: string): ConfigFile {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    throw usageError('E_CONFIG_YAML', `config file ${path} is not valid YAML${where}: ${first.message.split('\n')[0]}`, 'fix the YAML syntax (indentation with spaces, quotes around values containing ":" or "#")');
  }
  const raw: unknown = doc.toJS() ?? {};
  return validate(ConfigFile, raw, path);
}

/** Validates with a zod schema and turns the first issue into an actionable error. */
export function validate<T>(schema: z.ZodType<T>, raw: unknown, where: string): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = formatPath(issue.path);
  // Unknown keys of the entry itself read "source x: unknown key `slott`", not "the document".
  const subject = key !== '' ? `key \`${key}\`: ` : issue.code === 'unrecognized_keys' ? '' : 'the document: ';
  throw usageError('E_CONFIG_INVALID', `${where}: ${subject}${describeIssue(issue, raw)}`, fixFor(issue));
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

const SECRET_KEY = /password|secret|key|token|url/i;

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const value = valueAt(raw, issue.path);
  const last = issue.path[issue.path.length - 1];
  const shown = value === undefined || (typeof last === 'string' && SECRET_KEY.test(last)) ? '' : ` (got ${JSON.stringify(value)})`;
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')}`;
    case 'invalid_type':
      return value === undefined ? `is required (${issue.expected})` : `must be ${issue.expected}${shown}`;
    default:
      return `${issue.message}${shown}`;
  }
}

function fixFor(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return 'remove the key or correct its spelling (see the configuration reference in README.md)';
  if (issue.code === 'invalid_value' && 'values' in issue) return `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return 'correct the value (see the configuration reference in README.md)';
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = raw;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}
