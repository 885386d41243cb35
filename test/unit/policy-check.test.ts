import { describe, expect, it } from 'vitest';
import { checkPolicy } from '../../src/policy/index.js';

const subjects = {
  'clinic.patients': { patient_id: { column: 'id' } },
  'clinic.prescriptions': { patient_id: { lookup: { table: 'clinic.encounters', key: 'encounter_id', column: 'patient_id' } } },
};

describe('checkPolicy', () => {
  it('fails a lookup whose parent table is not audited, and a missing HMAC key', () => {
    const f = checkPolicy({ subjects }, ['clinic.patients', 'clinic.prescriptions']);
    expect(f.find((x) => x.id === 'policy.lookup.parent_unaudited')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/audit clinic\.encounters/) });
    expect(f.find((x) => x.id === 'policy.hmac_key')).toMatchObject({ status: 'fail' });
  });

  it('is ok for a complete policy with a usable key', () => {
    const f = checkPolicy({ subjects, redaction: { hmac_key: { env: 'K' } } }, ['clinic.patients', 'clinic.encounters', 'clinic.prescriptions'], { K: 'ab'.repeat(32) });
    expect(f.filter((x) => x.status !== 'ok')).toEqual([]);
  });

  it('warns about clear values and statements, and unaudited mapped tables', () => {
    const f = checkPolicy({ subjects: { 'x.t': { patient_id: { column: 'p' } } }, redaction: { default: 'keep', statement: 'keep' } }, ['y.u']);
    expect(f.map((x) => [x.id, x.status])).toEqual([
      ['policy.subjects.unaudited', 'warn'],
      ['policy.default_keep', 'warn'],
      ['policy.statement_keep', 'warn'],
    ]);
  });
});

describe('checkPolicy against the live schema', () => {
  const columns = new Map<string, readonly string[]>([
    ['clinic.patients', ['id', 'name', 'ssn', 'dob']],
    ['clinic.encounters', ['id', 'patient_id', 'note']],
    ['clinic.prescriptions', ['id', 'encounter_id', 'drug']],
  ]);
  const tables = [...columns.keys()];
  const key = { K: 'ab'.repeat(32) };
  const ids = (f: ReturnType<typeof checkPolicy>): string[][] => f.filter((x) => x.status !== 'ok').map((x) => [x.id, x.status, x.title]);

  it('is ok when every named column exists', () => {
    const f = checkPolicy(
      { subjects: { ...subjects, 'clinic.encounters': { patient_id: { column: 'patient_id' } } }, redaction: { hmac_key: { env: 'K' }, tables: { 'clinic.patients': { ssn: 'drop' } } } },
      tables,
      key,
      columns,
    );
    expect(ids(f)).toEqual([]);
  });

  it('fails a subject column the table lacks, naming the likely intent', () => {
    const f = checkPolicy({ subjects: { 'clinic.encounters': { patient_id: { column: 'patientid' } } }, redaction: { hmac_key: { env: 'K' } } }, tables, key, columns);
    expect(ids(f)).toEqual([['policy.subjects.column_missing', 'fail', 'clinic.encounters.patient_id reads column patientid, which clinic.encounters does not have']]);
    expect(f[0]!.fix).toMatch(/^did you mean patient_id\?/);
    expect(f[0]!.detail).toContain('clinic.encounters has: id, patient_id, note');
  });

  it('fails a lookup whose key, parent key or parent column is missing', () => {
    const f = checkPolicy(
      {
        subjects: {
          'clinic.prescriptions': { patient_id: { lookup: { table: 'clinic.encounters', key: 'Encounter_ID', column: 'patient', parent_key: 'ident' } } },
        },
        redaction: { hmac_key: { env: 'K' } },
      },
      tables,
      key,
      columns,
    );
    expect(f.filter((x) => x.id === 'policy.subjects.column_missing').map((x) => x.title)).toEqual([
      'clinic.prescriptions.patient_id looks up key Encounter_ID, which clinic.prescriptions does not have',
      'clinic.prescriptions.patient_id looks up parent_key ident, which clinic.encounters does not have',
      'clinic.prescriptions.patient_id looks up column patient, which clinic.encounters does not have',
    ]);
    expect(f[0]!.fix).toMatch(/^did you mean encounter_id\?/);
  });

  it("does not require a lookup's column when the parent maps the same subject itself", () => {
    const f = checkPolicy(
      {
        subjects: {
          'clinic.encounters': { patient_id: { column: 'patient_id' } },
          'clinic.prescriptions': { patient_id: { lookup: { table: 'clinic.encounters', key: 'encounter_id', column: 'unused' } } },
        },
        redaction: { hmac_key: { env: 'K' } },
      },
      tables,
      key,
      columns,
    );
    expect(ids(f)).toEqual([]);
  });

  it('fails a protective rule for a missing column when the table keeps in clear; warns otherwise', () => {
    const keepAll = checkPolicy({ subjects, redaction: { default: 'keep', statement: 'drop', tables: { 'clinic.patients': { snn: 'drop' } } } }, tables, key, columns);
    const missing = keepAll.find((x) => x.id === 'policy.redaction.column_missing')!;
    expect(missing).toMatchObject({ status: 'fail', title: 'Redaction rule for clinic.patients.snn, which clinic.patients does not have' });
    expect(missing.detail).toMatch(/kept in clear \(redaction.default is keep\)/);
    expect(missing.fix).toMatch(/^did you mean ssn\?/);

    const star = checkPolicy({ subjects, redaction: { hmac_key: { env: 'K' }, tables: { 'clinic.patients': { '*': 'keep', snn: 'drop' } } } }, tables, key, columns);
    expect(star.find((x) => x.id === 'policy.redaction.column_missing')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/the table's \* rule is keep/) });

    const hashed = checkPolicy({ subjects, redaction: { hmac_key: { env: 'K' }, tables: { 'clinic.patients': { snn: 'drop' } } } }, tables, key, columns);
    expect(hashed.find((x) => x.id === 'policy.redaction.column_missing')?.status).toBe('warn');
  });

  it('skips a table whose columns could not be seen', () => {
    const hidden = new Map(columns).set('clinic.encounters', []);
    const f = checkPolicy({ subjects: { 'clinic.encounters': { patient_id: { column: 'patient_id' } } }, redaction: { hmac_key: { env: 'K' } } }, tables, key, hidden);
    expect(ids(f)).toEqual([]);
  });

  it('reports redaction rules for a table no source audits, failing when the rest is kept in clear', () => {
    const f = checkPolicy({ subjects, redaction: { default: 'keep', statement: 'drop', tables: { 'clinic.patient': { ssn: 'drop' } } } }, tables, key, columns);
    expect(f.find((x) => x.id === 'policy.redaction.unaudited')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/^did you mean clinic\.patients\?/) });
    const kept = checkPolicy({ subjects, redaction: { hmac_key: { env: 'K' }, tables: { 'other.t': { x: 'keep' } } } }, tables, key, columns);
    expect(kept.find((x) => x.id === 'policy.redaction.unaudited')?.status).toBe('warn');
  });

  it("counts a schema's tables as audited, and does not check columns of tables it cannot see", () => {
    const f = checkPolicy(
      { subjects: { 'billing.invoices': { patient_id: { column: 'payer' } } }, redaction: { default: 'keep', statement: 'drop', tables: { 'billing.invoices': { card: 'drop' } } } },
      { tables, schemas: ['billing'] },
      key,
      columns,
    );
    expect(ids(f)).toEqual([['policy.default_keep', 'warn', 'Column values are stored in clear by default']]);
  });

  it('warns about a mapped table without patient_id, suggesting a misspelt name', () => {
    const f = checkPolicy({ subjects: { 'clinic.patients': { pateint_id: { column: 'id' } } }, redaction: { hmac_key: { env: 'K' } } }, tables, key, columns);
    expect(f.find((x) => x.id === 'policy.subjects.no_patient_id')).toMatchObject({ status: 'warn', fix: 'did you mean patient_id? rename subjects.clinic.patients.pateint_id' });
  });
});
