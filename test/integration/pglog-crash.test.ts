/**
 * `dbwitness run --source pglog://...` killed with SIGKILL mid-stream, then
 * started again while the log keeps growing: every record is stored exactly
 * once, in one contiguous chain (checkpoint stored with the events; replays
 * dropped by id).
 */
import { describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/core/event.js';
import { readEvents } from '../../src/store/index.js';
import { spawnCli, tempDir, waitFor } from '../harness/index.js';

// Current timestamps: the run command's alerting flags events stored long after their time.
const BASE = Date.now();
const stamp = (i: number): string => new Date(BASE + i).toISOString().replace('T', ' ').replace('Z', ' UTC');
const login = (i: number): string =>
  `{"timestamp":"${stamp(i)}","user":"u${i % 7}","dbname":"clinic","remote_host":"10.0.0.${i % 250}","remote_port":${10000 + (i % 50000)},"session_id":"6b0804d9.${i.toString(16)}","ps":"authentication","error_severity":"LOG","message":"connection authorized: user=u${i % 7} database=clinic"}\n`;

async function stored(store: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  try {
    for await (const ref of readEvents(store, { sources: ['crash'] })) out.push(ref.event);
  } catch {
    // The store may not exist yet.
  }
  return out;
}

describe('pglog run survives SIGKILL', () => {
  it('stores every record exactly once across a crash and a restart', async () => {
    const work = await tempDir('pglog-crash-');
    const logDir = join(work, 'log');
    const store = join(work, 'store');
    mkdirSync(logDir);
    const file = join(logDir, 'postgresql-1.json');
    const FIRST = 12_000;
    const MORE = 1_000;
    writeFileSync(file, Array.from({ length: FIRST }, (_, i) => login(i)).join(''));
    writeFileSync(join(work, 'dbwitness.yaml'), 'redaction:\n  hmac_key: { env: DBWITNESS_TEST_HMAC }\n');
    const env = { DBWITNESS_TEST_HMAC: 'a'.repeat(64) };
    const args = ['run', '--config', join(work, 'dbwitness.yaml'), '--source', `pglog://${logDir}`, '--id', 'crash', '--store', store, '--unsigned', '--log-level', 'warn'];

    const first = spawnCli(args, { env });
    const exited = once(first, 'exit');
    const atKill = await waitFor(async () => {
      const n = (await stored(store)).length;
      return n > 0 ? n : null;
    }, { what: 'first events stored', timeoutMs: 60_000, intervalMs: 20 });
    first.kill('SIGKILL');
    await exited;
    expect(atKill).toBeLessThan(FIRST);

    appendFileSync(file, Array.from({ length: MORE }, (_, i) => login(FIRST + i)).join(''));
    const second = spawnCli(args, { env });
    let stderr = '';
    second.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      await waitFor(async () => (await stored(store)).length >= FIRST + MORE, { what: `${FIRST + MORE} events (stderr: ${stderr.slice(-500)})`, timeoutMs: 120_000, intervalMs: 200 });
    } finally {
      second.kill('SIGTERM');
      await once(second, 'exit');
    }
    const events = await stored(store);
    const extra = events.filter((e) => e.action !== 'login').map((e) => `${e.action} ${JSON.stringify(e.detail)}`);
    const seen = new Set<string>();
    const dups = events.filter((e) => (seen.has(e.position) ? true : (seen.add(e.position), false))).map((e) => `${e.seq} ${e.position}`);
    expect({ extra, dups }).toEqual({ extra: [], dups: [] });
    expect(events).toHaveLength(FIRST + MORE);
    expect(new Set(events.map((e) => e.position)).size).toBe(FIRST + MORE);
    expect(new Set(events.map((e) => e.id)).size).toBe(FIRST + MORE);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)!.actor.session_id).toBe(`6b0804d9.${(FIRST + MORE - 1).toString(16)}`);
  }, 240_000);
});
