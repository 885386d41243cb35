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
