/**
 * Doctor checks on the log files themselves: readable by this process,
 * present, recently written. Shared by both log adapters.
 */
import { access, constants, stat } from 'node:fs/promises';
import type { Finding } from '../core/ports.js';
import { listLogFiles, type LogFileSpec } from './index.js';

export async function logFileFindings(prefix: string, spec: LogFileSpec): Promise<Finding[]> {
  const where = spec.kind === 'dir' ? spec.dir : spec.path;
  const dir = spec.kind === 'dir' ? spec.dir : spec.path.replace(/\/[^/]*$/, '') || '/';
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new Error('not a directory');
    await access(dir, constants.R_OK | constants.X_OK);
  } catch {
    return [{ id: `${prefix}.log_readable`, status: 'fail', title: 'the log directory is readable', detail: `${dir} is missing or not readable by this user`, fix: 'give the dbwitness user read access (e.g. add it to the server group and use a 0640 file mode), or fix the path in the source URL' }];
  }
  const files = await listLogFiles(spec);
  if (files.length === 0) {
    return [{ id: `${prefix}.log_files`, status: 'fail', title: 'log files exist', detail: `no log files found at ${where}`, fix: spec.kind === 'dir' ? `check log_directory and that log_destination writes files ending in ${spec.suffix}` : 'check that the audit plugin is loaded and logging to this file' }];
  }
  const out: Finding[] = [{ id: `${prefix}.log_files`, status: 'ok', title: 'log files exist', detail: `${files.length} file(s), newest ${files[files.length - 1]!.name}` }];
  const unreadable: string[] = [];
  for (const f of files) {
    try {
      await access(f.path, constants.R_OK);
    } catch {
      unreadable.push(f.name);
    }
  }
  out.push(
    unreadable.length === 0
      ? { id: `${prefix}.log_readable`, status: 'ok', title: 'log files are readable', detail: `${files.length} readable` }
      : { id: `${prefix}.log_readable`, status: 'fail', title: 'log files are readable', detail: `${unreadable.length} unreadable, e.g. ${unreadable[0]}`, fix: 'give the dbwitness user read access to the log files (group read, file mode 0640)' },
  );
  return out;
}
