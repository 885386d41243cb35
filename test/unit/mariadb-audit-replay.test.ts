/**
 * A statement's TABLE lines precede its QUERY line, and other connections'
 * lines interleave. A checkpoint taken between them must make a restarted
 * source re-read the held TABLE lines (for context) without emitting any
 * event twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/logger.js';
import type { SourceMessage } from '../../src/core/ports.js';
import { MariadbAuditSourceConfig, openMariadbAuditSource } from '../../adapters/mariadb-audit/index.js';
import { decodeCursor } from '../../src/log-tail/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const LINES = [
  '20261126 10:07:38,vm,reader,127.0.0.1,13,0,CONNECT,clinic,,0',
  // The view is not audited; the table it reads is.
  '20261126 10:07:39,vm,reader,127.0.0.1,13,25,READ,clinic,patients,',
  '20261126 10:07:39,vm,admin,127.0.0.1,20,0,CONNECT,,,0',
  "20261126 10:07:39,vm,reader,127.0.0.1,13,25,QUERY,clinic,'select * from v_patients',0",
  '20261126 10:07:40,vm,admin,127.0.0.1,20,0,DISCONNECT,,,0',
].join('\n') + '\n';

async function collect(file: string, checkpoint: string | null, stopAfterCommits: number): Promise<SourceMessage[]> {
  const config = MariadbAuditSourceConfig.parse({ id: 'replay', url: `mariadb-audit://${file}`, tables: ['clinic.patients'], poll_ms: 10 });
  const source = await openMariadbAuditSource(config, { logger: silentLogger() });
  const controller = new AbortController();
  const out: SourceMessage[] = [];
  let commits = 0;
  for await (const m of source.messages(checkpoint, controller.signal)) {
    out.push(m);
    if (m.kind === 'commit' && ++commits === stopAfterCommits) controller.abort();
  }
  return out;
}

const summary = (ms: SourceMessage[]) => ms.flatMap((m) => (m.kind === 'change' ? [`${m.change.action} ${m.change.schema}.${m.change.table}`] : []));

describe('server_audit context replay across a restart', () => {
  it('restores held TABLE lines from the checkpoint and emits nothing twice', async () => {
    const d = mkdtempSync(join(tmpdir(), 'dbwitness-replay-'));
    dirs.push(d);
    const file = join(d, 'server_audit.log');
    writeFileSync(file, LINES);
    // Stop after the second login: the reader's TABLE line is held, its QUERY line not yet read.
    const first = await collect(file, null, 2);
    expect(summary(first)).toEqual(['login null.null', 'login null.null']);
    const lastCommit = first.filter((m): m is Extract<SourceMessage, { kind: 'commit' }> => m.kind === 'commit').at(-1)!;
    const cursor = decodeCursor(lastCommit.checkpoint);
    expect(cursor.replay).toBe(LINES.indexOf('20261126 10:07:39,vm,reader'));
    expect(cursor.offset).toBeGreaterThan(cursor.replay!);

    const second = await collect(file, lastCommit.checkpoint, 2);
    // The read names the table its TABLE line named (the statement names only the view).
    expect(summary(second)).toEqual(['read clinic.patients', 'logout null.null']);
    const read = second.find((m) => m.kind === 'commit')!;
    expect(read.kind === 'commit' && read.position).toBe(`server_audit.log:${LINES.indexOf("20261126 10:07:39,vm,reader,127.0.0.1,13,25,QUERY")}`);
  });

  it('without a held line the checkpoint has no replay offset', async () => {
    const d = mkdtempSync(join(tmpdir(), 'dbwitness-replay-'));
    dirs.push(d);
    const file = join(d, 'server_audit.log');
    writeFileSync(file, LINES);
    const all = await collect(file, null, 4);
    const commits = all.filter((m): m is Extract<SourceMessage, { kind: 'commit' }> => m.kind === 'commit');
    expect(summary(all)).toEqual(['login null.null', 'login null.null', 'read clinic.patients', 'logout null.null']);
    expect(decodeCursor(commits[0]!.checkpoint).replay).toBeUndefined();
    expect(decodeCursor(commits[3]!.checkpoint).replay).toBeUndefined();
  });
});
