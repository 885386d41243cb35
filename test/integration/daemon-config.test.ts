/**
 * Operator mistakes in the daemon's config sections end `dbwitness run`
 * with exit 2 and a message naming the key and the fix, before any source
 * is read. No database is needed: the failures happen first.
 */
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../harness/index.js';

async function configFile(extra: Record<string, unknown>): Promise<string> {
  const dir = await tempDir('dbw-daemon-config-');
  const file = join(dir, 'dbwitness.yaml');
  await writeFile(file, stringify({ store: { dir: join(dir, 'store') }, sources: [{ id: 'a', url: 'postgres://u@127.0.0.1:1/db' }, { id: 'b', url: 'mysql://u@127.0.0.1:1/db' }], ...extra }));
  return file;
}

describe('daemon configuration errors', () => {
  it('names an unknown key in the alerts section', async () => {
    const r = await runCli(['run', '--config', await configFile({ alerts: { rulez: {} } }), '--unsigned', '--redaction', 'keep']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/alerts.*rulez/);
  });

  it('names a source key its engine does not know, instead of running on the default it was meant to replace', async () => {
    const dir = await tempDir('dbw-daemon-config-');
    const file = join(dir, 'dbwitness.yaml');
    await writeFile(file, stringify({ store: { dir: join(dir, 'store') }, sources: [{ id: 'a', url: 'postgres://u@127.0.0.1:1/db', tables: ['clinic.patients'], slott: 'audit' }] }));
    const typo = await runCli(['run', '--config', file, '--unsigned', '--redaction', 'keep']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown key `slott`/);
    // A PostgreSQL-only flag on a MySQL source.
    const flag = await runCli(['doctor', '--url', 'mysql://u@127.0.0.1:1/db', '--tables', 'clinic.patients', '--slot', 'audit']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/source mysql-127-0-0-1-1-db: unknown key `slot`/);
  });

  it('rejects an unknown time zone for after-hours', async () => {
    const r = await runCli(['run', '--config', await configFile({ alerts: { rules: { after_hours: { enabled: true, time_zone: 'Mars/Olympus' } } } }), '--unsigned', '--redaction', 'keep']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Mars\/Olympus.*not a known time zone/);
  });

  it('refuses a webhook secret variable that is not set', async () => {
    const r = await runCli(['run', '--config', await configFile({ alerts: { webhook: { url: 'http://127.0.0.1:9/x', secret_env: 'DBW_TEST_UNSET_SECRET' } } }), '--unsigned', '--redaction', 'keep']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DBW_TEST_UNSET_SECRET, which is not set/);
  });

  it('reports a health/metrics port already in use', async () => {
    const busy = createServer();
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', res));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runCli(['run', '--config', await configFile({ http: { listen: `127.0.0.1:${port}` } }), '--unsigned', '--redaction', 'keep']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+.*EADDRINUSE/);
    } finally {
      busy.close();
    }
  });
});
