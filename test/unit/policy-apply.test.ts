import { createHmac } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { DraftEvent, Row } from '../../src/core/event.js';
import { AuditEvent, UNATTRIBUTED_ACTOR } from '../../src/core/event.js';
import { canonicalJson } from '../../src/core/canonical.js';
import { DbwitnessError } from '../../src/core/errors.js';
import { compilePolicy, PolicyConfig, type PolicyConfigInput } from '../../src/policy/index.js';

const KEY = Buffer.alloc(32, 7);
const hmacHex = (v: string | Buffer) => createHmac('sha256', KEY).update(v).digest('hex');

function draft(table: string, action: 'insert' | 'update' | 'delete', key: Row, before: Row | null, after: Row | null, statement: string | null = null): DraftEvent {
  const [schema, name] = table.split('.') as [string, string];
  const columns = Object.keys(after ?? before ?? {});
  return {
    v: 1,
    id: '0'.repeat(32),
    time: '2026-11-26T10:00:00.000001Z',
    source: { id: 'pg1', engine: 'postgres', server: 'db', database: 'clinic' },
    position: '0/1',
    tx: { id: '1', index: 0, count: 1 },
    actor: UNATTRIBUTED_ACTOR,
    action,
    outcome: 'success',
    object: { schema, table: name, key },
    subject: null,
    changes: { columns, before, after },
    statement,
    detail: null,
  };
}

const clinic: PolicyConfigInput = {
  subjects: {
    'clinic.patients': { patient_id: { column: 'id' } },
    'clinic.encounters': { patient_id: { column: 'patient_id' } },
    'clinic.prescriptions': { patient_id: { lookup: { table: 'clinic.encounters', key: 'encounter_id', column: 'patient_id' } } },
  },
  redaction: {
    tables: { 'clinic.patients': { name: 'redact', dob: 'drop', balance: 'keep' } },
  },
};

const SECRETS = ['Jane Q. Public', 'MRN-000123', '1970-02-03', 'severe migraine', 'oxycodone'];

describe('compilePolicy', () => {
  it('with every column kept, hands the draft through (rows shared, not copied), and still maps the subject', () => {
    const keepAll = compilePolicy({ redaction: { default: 'keep', statement: 'keep' } });
    const d = draft('clinic.notes', 'update', { id: '7' }, { id: '7', body: 'a' }, { id: '7', body: 'b' }, "UPDATE clinic.notes SET body = 'b'");
    const out = keepAll.apply(d);
    expect(out.changes).toBe(d.changes);
    expect(out.object).toBe(d.object);
    expect(canonicalJson(out)).toBe(canonicalJson(d));
    // An explicit non-keep rule for one column means copying and redacting that table's rows again.
    const oneRedacted = compilePolicy({ redaction: { default: 'keep', statement: 'keep', tables: { 'clinic.notes': { body: 'redact' } } } });
    expect(oneRedacted.apply(d).changes?.after).toEqual({ id: '7', body: { redacted: true } });
    expect(d.changes?.after).toEqual({ id: '7', body: 'b' });
    const mapped = compilePolicy({ redaction: { default: 'keep', statement: 'keep' }, subjects: { 'clinic.notes': { patient_id: { column: 'id' } } } });
    expect(mapped.apply(d).subject).toEqual({ patient_id: '7' });
  });

  it('parses the documented config example', () => {
    const parsed = PolicyConfig.parse(clinic);
    expect(parsed.redaction.default).toBe('hmac');
    expect(parsed.redaction.statement).toBe('redact_literals');
  });

  it('keeps keys and subject columns, hmacs by default, honours redact/drop/keep, lists every column', () => {
    const policy = compilePolicy(clinic, { hmacKey: KEY });
    const input = draft('clinic.patients', 'insert', { id: '42' }, null, { id: '42', mrn: 'MRN-000123', name: 'Jane Q. Public', dob: '1970-02-03', balance: '12.50' });
    const frozen = canonicalJson(input);
    const out = policy.apply(input);
    expect(canonicalJson(input)).toBe(frozen); // argument untouched
    expect(out.subject).toEqual({ patient_id: '42' });
    expect(out.object?.key).toEqual({ id: '42' });
    expect(out.changes?.after).toEqual({ id: '42', mrn: { hmac: hmacHex('MRN-000123') }, name: { redacted: true }, balance: '12.50' });
    expect(out.changes?.columns).toEqual(['id', 'mrn', 'name', 'dob', 'balance']);
    const text = canonicalJson(out);
    for (const s of SECRETS) expect(text).not.toContain(s);
    // The result is still a valid event v1 once the store adds its fields.
    expect(() => AuditEvent.parse({ ...out, seq: 1, recorded_at: out.time, prev: '0'.repeat(64), hash: '0'.repeat(64) })).not.toThrow();
  });

  it('keeps a column named __proto__ as an ordinary column (key, kept, redacted), never dropping it', () => {
    const own = (entries: Array<[string, string]>): Row => {
      const r: Row = {};
      for (const [k, v] of entries) Object.defineProperty(r, k, { value: v, enumerable: true, writable: true, configurable: true });
      return r;
    };
    const policy = compilePolicy({ redaction: { tables: { 'clinic.odd': { secret: 'redact' } } } }, { hmacKey: KEY });
    const out = policy.apply(draft('clinic.odd', 'insert', own([['__proto__', 'k1']]), null, own([['__proto__', 'k1'], ['secret', 's']])));
    expect(canonicalJson(out.object?.key)).toBe('{"__proto__":"k1"}');
    expect(canonicalJson(out.changes?.after)).toBe('{"__proto__":"k1","secret":{"redacted":true}}');
    const hashed = compilePolicy({ redaction: { default: 'hmac' } }, { hmacKey: KEY }).apply(draft('clinic.odd', 'insert', own([['id', '1']]), null, own([['id', '1'], ['__proto__', 'v']])));
    expect(Object.keys(hashed.changes?.after ?? {})).toEqual(['id', '__proto__']);
    expect(hashed.changes?.after?.['__proto__']).toEqual({ hmac: hmacHex('v') });
  });

  it('applies a configured rule for a column named __proto__ (YAML keeps the key, so must the config schema)', () => {
    const raw = parseYaml('redaction:\n  default: keep\n  tables:\n    clinic.odd:\n      __proto__: redact\n      note: keep\n') as PolicyConfigInput;
    const config = PolicyConfig.parse(raw);
    expect(Object.keys(config.redaction.tables['clinic.odd'] ?? {})).toEqual(['__proto__', 'note']);
    const row: Row = {};
    Object.defineProperty(row, '__proto__', { value: 'secret-value', enumerable: true, writable: true, configurable: true });
    row['note'] = 'n';
    const out = compilePolicy(raw, {}).apply(draft('clinic.odd', 'insert', { note: 'n' }, null, row));
    expect(canonicalJson(out.changes?.after)).toBe('{"__proto__":{"redacted":true},"note":"n"}');
    // A bad rule is still reported against its column, and a non-mapping as such.
    const bad = PolicyConfig.safeParse(parseYaml('redaction:\n  tables:\n    clinic.odd:\n      __proto__: hide\n'));
    expect(bad.error?.issues[0]?.path).toEqual(['redaction', 'tables', 'clinic.odd', '__proto__']);
    const notMap = PolicyConfig.safeParse({ redaction: { tables: { 'clinic.odd': 'keep' } } });
    expect(notMap.error?.issues[0]?.message).toMatch(/mapping of column name to rule/);
  });

  it('hmacs binary values over their bytes and leaves nulls and unsent TOAST alone', () => {
    const policy = compilePolicy({ redaction: { default: 'hmac' } }, { hmacKey: KEY });
    const out = policy.apply(draft('x.t', 'update', { id: '1' }, { id: '1', b: { base64: 'AAEC' }, n: null }, { id: '1', b: { unchanged_toast: true }, n: 'v' }));
    expect(out.changes?.before).toEqual({ id: '1', b: { hmac: hmacHex(Buffer.from([0, 1, 2])) }, n: null });
    expect(out.changes?.after).toEqual({ id: '1', b: { unchanged_toast: true }, n: { hmac: hmacHex('v') } });
  });

  it('an explicit rule beats the primary-key default, and a dropped key column is redacted, not removed', () => {
    const policy = compilePolicy({ redaction: { default: 'keep', tables: { 'x.t': { ssn: 'drop' } } } }, {});
    const out = policy.apply(draft('x.t', 'delete', { ssn: '123-45-6789' }, { ssn: '123-45-6789', v: 'a' }, null));
    expect(out.object?.key).toEqual({ ssn: { redacted: true } });
    expect(out.changes?.before).toEqual({ v: 'a' });
    expect(out.changes?.columns).toEqual(['ssn', 'v']);
    expect(canonicalJson(out)).not.toContain('123-45-6789');
  });

  it('a table "*" rule sets that table\'s default', () => {
    const policy = compilePolicy({ redaction: { default: 'keep', tables: { 'x.t': { '*': 'redact', ok: 'keep' } } } }, {});
    const out = policy.apply(draft('x.t', 'insert', { id: '1' }, null, { id: '1', ok: 'fine', secret: 'hidden' }));
    expect(out.changes?.after).toEqual({ id: '1', ok: 'fine', secret: { redacted: true } });
  });

  it('refuses a policy that needs an HMAC key without one, naming the fix', () => {
    let err: unknown;
    try {
      compilePolicy(clinic, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DbwitnessError);
    expect((err as DbwitnessError).code).toBe('E_HMAC_KEY_MISSING');
    expect((err as DbwitnessError).fix).toMatch(/hmac_key/);
    expect(() => compilePolicy({ redaction: { default: 'redact', statement: 'drop' } }, {})).not.toThrow();
  });

  it('maps subjects through a lookup to an earlier parent row, and says null when the parent is unknown', () => {
    const policy = compilePolicy(clinic, { hmacKey: KEY });
    policy.apply(draft('clinic.encounters', 'insert', { id: '900' }, null, { id: '900', patient_id: '42', note: 'severe migraine' }));
    const rx = policy.apply(draft('clinic.prescriptions', 'insert', { id: '5' }, null, { id: '5', encounter_id: '900', drug: 'oxycodone' }));
    expect(rx.subject).toEqual({ patient_id: '42' });
    expect(rx.changes?.after?.['encounter_id']).toBe('900'); // lookup key column kept
    expect(rx.changes?.after?.['drug']).toEqual({ hmac: hmacHex('oxycodone') });
    const orphan = policy.apply(draft('clinic.prescriptions', 'insert', { id: '6' }, null, { id: '6', encounter_id: '901', drug: 'x' }));
    expect(orphan.subject).toEqual({ patient_id: null });
    expect(policy.stats()).toMatchObject({ lookupHits: 1, unresolved: 1 });
    // A parent deleted before its children (cascade order) is still known.
    policy.apply(draft('clinic.encounters', 'delete', { id: '900' }, { id: '900', patient_id: '42', note: 'n' }, null));
    const cascaded = policy.apply(draft('clinic.prescriptions', 'delete', { id: '5' }, { id: '5', encounter_id: '900', drug: 'x' }, null));
    expect(cascaded.subject).toEqual({ patient_id: '42' });
  });

  it('uses the fallback for parents not in memory, and keeps memory bounded', () => {
    const asked: string[] = [];
    const policy = compilePolicy(clinic, {
      hmacKey: KEY,
      lookupCacheSize: 2,
      lookupFallback: (table, key) => {
        asked.push(`${table}:${key}`);
        return key === '77' ? '7' : undefined;
      },
    });
    for (const id of ['1', '2', '3']) policy.apply(draft('clinic.encounters', 'insert', { id }, null, { id, patient_id: `p${id}` }));
    // '1' was evicted (cache of 2), so it goes to the fallback, which does not know it.
    expect(policy.apply(draft('clinic.prescriptions', 'insert', { id: '1' }, null, { id: '1', encounter_id: '1' })).subject).toEqual({ patient_id: null });
    expect(policy.apply(draft('clinic.prescriptions', 'insert', { id: '2' }, null, { id: '2', encounter_id: '3' })).subject).toEqual({ patient_id: 'p3' });
    expect(policy.apply(draft('clinic.prescriptions', 'insert', { id: '3' }, null, { id: '3', encounter_id: '77' })).subject).toEqual({ patient_id: '7' });
    expect(asked).toEqual(['clinic.encounters:1', 'clinic.encounters:77']);
  });

  it('records both patients when an update moves a row to another patient', () => {
    const policy = compilePolicy(clinic, { hmacKey: KEY });
    const out = policy.apply(draft('clinic.encounters', 'update', { id: '9' }, { id: '9', patient_id: '1' }, { id: '9', patient_id: '2' }));
    expect(out.subject).toEqual({ patient_id: '2', patient_id_before: '1' });
  });

  it('redacts literals from statements by default, and can drop or hmac them', () => {
    const sql = "INSERT INTO clinic.patients (id, name, dob) VALUES (42, 'Jane Q. Public', '1970-02-03') -- MRN-000123";
    const out = compilePolicy(clinic, { hmacKey: KEY }).apply(draft('clinic.patients', 'insert', { id: '42' }, null, { id: '42' }, sql));
    expect(out.statement).toBe('INSERT INTO clinic.patients (id, name, dob) VALUES (?, ?, ?)');
    expect(compilePolicy({ redaction: { default: 'keep', statement: 'drop' } }).apply(draft('x.t', 'insert', { id: '1' }, null, {}, sql)).statement).toBeNull();
    expect(compilePolicy({ redaction: { default: 'keep', statement: 'hmac' } }, { hmacKey: KEY }).apply(draft('x.t', 'insert', { id: '1' }, null, {}, sql)).statement).toBe(`hmac-sha256:${hmacHex(sql)}`);
  });
});
