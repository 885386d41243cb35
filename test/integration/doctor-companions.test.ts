/**
 * `setup postgres --log-audit` and `doctor --log-audit`: the server-log
 * settings for reads, logins and failures are planned and checked together
 * with the WAL setup, on a real PostgreSQL 15 with and without pgaudit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli, startPostgres, type PgServer } from '../harness/index.js';

const TABLES = ['--tables', 'clinic.patients'];

describe('setup/doctor --log-audit (PostgreSQL)', () => {
  let plain: PgServer;
  let audited: PgServer;
  beforeAll(async () => {
    [plain, audited] = await Promise.all([
      startPostgres({ version: 15 }),
      startPostgres({
        version: 15,
        config: {
          shared_preload_libraries: 'pgaudit',
          logging_collector: 'on',
          log_destination: 'jsonlog',
          log_directory: 'log',
          log_connections: 'on',
          log_disconnections: 'on',
          'pgaudit.log': 'read, role, ddl',
          'pgaudit.log_relation': 'on',
        },
      }),
    ]);
    for (const s of [plain, audited]) await s.query('CREATE SCHEMA clinic; CREATE TABLE clinic.patients (id bigint primary key, name text)');
    await audited.query('CREATE EXTENSION pgaudit');
  });
  afterAll(async () => {
    await Promise.all([plain?.close(), audited?.close()]);
  });

  it('plans the WAL setup and the pgaudit/logging settings in one reviewable script', async () => {
    const r = await runCli(['setup', 'postgres', '--url', plain.url(), ...TABLES, '--log-audit', join(plain.dataDir, 'log')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('CREATE PUBLICATION');
    expect(r.stdout).toMatch(/shared_preload_libraries = 'pgaudit'/);
    expect(r.stdout).toMatch(/requires a restart/);
    expect(r.stdout).toMatch(/CREATE EXTENSION IF NOT EXISTS pgaudit/i);
  });

  it('doctor fails while pgaudit is not loaded and names the fix', async () => {
    const r = await runCli(['doctor', '--url', plain.url(), ...TABLES, '--log-audit', join(plain.dataDir, 'log'), '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { findings: Array<{ id: string; status: string; fix?: string }> };
    const loaded = report.findings.find((f) => f.id === 'pglog.pgaudit_loaded')!;
    expect(loaded.status).toBe('fail');
    expect(loaded.fix).toMatch(/shared_preload_libraries/);
    expect(report.findings.some((f) => f.id.startsWith('pg.'))).toBe(true);
  });

  it('doctor reports pgaudit ok where it is loaded', async () => {
    const r = await runCli(['doctor', '--url', audited.url(), ...TABLES, '--log-audit', join(audited.dataDir, 'log'), '--json']);
    const report = JSON.parse(r.stdout) as { findings: Array<{ id: string; status: string }> };
    expect(report.findings.find((f) => f.id === 'pglog.pgaudit_loaded')?.status).toBe('ok');
    expect(report.findings.find((f) => f.id === 'pglog.pgaudit_extension')?.status).toBe('ok');
  });
});

describe('doctor --config: patient mapping and redaction', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres({ version: 15 });
    await pg.query('CREATE SCHEMA clinic; CREATE TABLE clinic.patients (id bigint primary key, name text, ssn text)');
    await pg.query('CREATE TABLE clinic.encounters (id bigint primary key, patient_id bigint, note text)');
  });
  afterAll(async () => {
    await pg?.close();
  });

  it('checks the columns the policy names against the tables a schema resolves to', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { tempDir } = await import('../harness/index.js');
    const dir = await tempDir('dbw-doctor-columns-');
    const file = join(dir, 'dbwitness.yaml');
    // A second source (never connected to by this doctor run) audits billing: its rules are not "unaudited".
    const config = (encountersColumn: string, ssnRule: string): string => `sources:
  - id: clinic
    url: ${pg.url()}
    schemas: [clinic]
  - id: billing
    url: mysql://dbwitness@billing.invalid:3306/
    tables: [billing.invoices]
subjects:
  clinic.patients: { patient_id: { column: id } }
  clinic.encounters: { patient_id: { column: ${encountersColumn} } }
redaction:
  default: keep
  statement: drop
  tables:
    clinic.patients: { ${ssnRule}: drop }
    billing.invoices: { card: drop }
`;
    type Report = { findings: Array<{ id: string; status: string; title: string; fix?: string }> };
    await writeFile(file, config('patientid', 'snn'));
    const bad = await runCli(['doctor', '--config', file, '--source-id', 'clinic', '--json']);
    expect(bad.code).toBe(1);
    const policy = (JSON.parse(bad.stdout) as Report).findings.filter((f) => f.id.startsWith('policy.') && f.status !== 'ok' && f.id !== 'policy.default_keep');
    expect(policy.map((f) => [f.id, f.status, f.title])).toEqual([
      ['policy.subjects.column_missing', 'fail', 'clinic.encounters.patient_id reads column patientid, which clinic.encounters does not have'],
      ['policy.redaction.column_missing', 'fail', 'Redaction rule for clinic.patients.snn, which clinic.patients does not have'],
    ]);
    expect(policy[0]!.fix).toMatch(/did you mean patient_id\?/);
    expect(policy[1]!.fix).toMatch(/did you mean ssn\?/);

    await writeFile(file, config('patient_id', 'ssn'));
    const good = await runCli(['doctor', '--config', file, '--source-id', 'clinic', '--json']);
    const fixed = (JSON.parse(good.stdout) as Report).findings.filter((f) => f.id.startsWith('policy.') && f.status !== 'ok');
    // Only the deliberate keep-by-default remains; the schema's tables count as audited (no "not audited" warning).
    expect(fixed.map((f) => f.id)).toEqual(['policy.default_keep']);
  });

  it('doctors every source of a config file without --source-id, then the shared policy once', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { tempDir, freePort } = await import('../harness/index.js');
    await pg.query('CREATE DATABASE billing');
    await pg.query('CREATE SCHEMA billing; CREATE TABLE billing.invoices (id bigint primary key, patient_id bigint, card text)', [], { database: 'billing' });
    const dir = await tempDir('dbw-doctor-all-');
    const file = join(dir, 'dbwitness.yaml');
    const config = (thirdUrl: string | null): string => `sources:
  - id: clinic
    url: ${pg.url()}
    tables: [clinic.patients]
  - id: billing
    url: ${pg.url({ database: 'billing' })}
    tables: [billing.invoices]
${thirdUrl === null ? '' : `  - id: gone\n    url: ${thirdUrl}\n    tables: [gone.t]\n`}subjects:
  clinic.patients: { patient_id: { column: id } }
  billing.invoices: { patient_id: { column: patient } }
redaction:
  default: keep
  statement: drop
  tables:
    billing.invoices: { card: drop }
`;
    type Report = { ok: boolean; sources: Array<{ id: string; ok: boolean; findings: Array<{ id: string; status: string }> }>; policy: Array<{ id: string; status: string; title: string }> };
    await writeFile(file, config(null));
    const r = await runCli(['doctor', '--config', file, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.sources.map((x) => x.id)).toEqual(['clinic', 'billing']);
    // Neither database is set up: each source fails on its own findings.
    expect(report.sources.every((x) => x.findings.some((f) => f.id === 'pg.slot' && f.status === 'fail'))).toBe(true);
    // The policy is checked once, against the columns of both databases.
    expect(report.policy.filter((f) => f.status === 'fail').map((f) => f.title)).toEqual(['billing.invoices.patient_id reads column patient, which billing.invoices does not have']);

    const text = await runCli(['doctor', '--config', file]);
    expect(text.stdout).toContain(`dbwitness doctor: clinic (`);
    expect(text.stdout).toContain(`dbwitness doctor: billing (`);
    expect(text.stdout).toContain('dbwitness doctor: patient mapping and redaction');

    // A source that cannot be reached: the others are still checked, and the exit code says environment error.
    await writeFile(file, config(`postgres://nobody@127.0.0.1:${await freePort()}/x`));
    const gone = await runCli(['doctor', '--config', file, '--json']);
    expect(gone.code).toBe(2);
    const partial = JSON.parse(gone.stdout) as Report;
    expect(partial.sources.map((x) => [x.id, x.findings[0]?.id])).toEqual([
      ['clinic', expect.any(String)],
      ['billing', expect.any(String)],
      ['gone', 'source.unreachable'],
    ]);
    // A flag for one source still needs --source-id, as before.
    const oneFlag = await runCli(['doctor', '--config', file, '--tables', 'clinic.patients']);
    expect(oneFlag.code).toBe(2);
    expect(oneFlag.stderr).toMatch(/--source-id/);
    // Refused with --log-audit, which checks one source.
    const companion = await runCli(['doctor', '--config', file, '--log-audit', dir]);
    expect(companion.code).toBe(2);
    expect(companion.stderr).toMatch(/--source-id/);
  });

  it('reports a lookup mapping through a table no source audits as a failure', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { tempDir } = await import('../harness/index.js');
    const dir = await tempDir('dbw-doctor-policy-');
    const file = join(dir, 'dbwitness.yaml');
    await writeFile(
      file,
      `sources:
  - id: clinic
    url: ${pg.url()}
    tables: [clinic.patients, clinic.prescriptions]
subjects:
  clinic.patients: { patient_id: { column: id } }
  clinic.prescriptions: { patient_id: { lookup: { table: clinic.encounters, key: encounter_id, column: patient_id } } }
redaction:
  default: keep
`,
    );
    const r = await runCli(['doctor', '--config', file, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { findings: Array<{ id: string; status: string }> };
    const policy = report.findings.filter((f) => f.id.startsWith('policy.'));
    expect(policy.some((f) => f.status === 'fail')).toBe(true);
  });
});
