import { describe, expect, it } from 'vitest';
import { compilePolicy, namedColumns, PolicyConfig, type MissingPolicyColumns } from '../../src/policy/index.js';
import type { DraftEvent } from '../../src/core/event.js';

const config = PolicyConfig.parse({
  subjects: {
    'clinic.encounters': { patient_id: { column: 'patientid' } },
    'clinic.prescriptions': { patient_id: { lookup: { table: 'clinic.encounters', key: 'encounter_id', column: 'unused' } } },
  },
  redaction: { default: 'keep', tables: { 'clinic.patients': { snn: 'drop', '*': 'keep' } } },
});

function draft(table: string, action: DraftEvent['action'], after: Record<string, string> | null, before: Record<string, string> | null = null): DraftEvent {
  return {
    v: 1,
    id: `${table}-${action}`,
    time: '2026-11-27T00:00:00.000000Z',
    source: { id: 's', engine: 'postgres', server: 'h', database: 'd' },
    position: '0/1',
    tx: { id: '1', index: 1, count: 1 },
    actor: { db_user: 'u', role: 'u', app_user: null, client_addr: null, client_port: null, application: null, session_id: null, identity: 'verified' },
    action,
    outcome: 'success',
    object: { schema: table.split('.')[0]!, table: table.split('.')[1]!, key: { id: '1' } },
    subject: null,
    changes: { columns: Object.keys(after ?? before ?? {}), before, after },
    statement: null,
    detail: null,
  } as DraftEvent;
}

describe('the columns the policy names, checked against the rows run sees', () => {
  it('lists each named column with the setting that names it', () => {
    const named = namedColumns(config);
    expect([...named.get('clinic.encounters')!]).toEqual([['patientid', 'subjects.clinic.encounters.patient_id.column']]);
    // The lookup's column is not listed: encounters maps patient_id itself, and that mapping wins.
    expect(named.get('clinic.prescriptions')).toEqual(new Map([['encounter_id', 'subjects.clinic.prescriptions.patient_id.lookup.key']]));
    expect([...named.get('clinic.patients')!.keys()]).toEqual(['snn']);
  });

  it('reports once per table, at the first insert, and never for complete names', () => {
    const seen: MissingPolicyColumns[] = [];
    const policy = compilePolicy(config, { onMissingColumns: (m) => seen.push(m) });
    // An update's image may be partial: not compared.
    policy.apply(draft('clinic.patients', 'update', { name: 'x' }, { name: 'y' }));
    expect(seen).toEqual([]);
    policy.apply(draft('clinic.patients', 'insert', { id: '1', name: 'x', ssn: '123' }));
    policy.apply(draft('clinic.patients', 'insert', { id: '2', name: 'y', ssn: '456' }));
    policy.apply(draft('clinic.encounters', 'insert', { id: '1', patient_id: '1' }));
    policy.apply(draft('clinic.prescriptions', 'insert', { id: '1', encounter_id: '1' }));
    expect(seen).toEqual([
      { table: 'clinic.patients', columns: [{ column: 'snn', setting: 'redaction.tables.clinic.patients' }], present: ['id', 'name', 'ssn'] },
      { table: 'clinic.encounters', columns: [{ column: 'patientid', setting: 'subjects.clinic.encounters.patient_id.column' }], present: ['id', 'patient_id'] },
    ]);
  });
});
