/**
 * Cost of the event policy (subject mapping + default HMAC redaction) per
 * event, against the store's own per-event work measured in the same run:
 * canonical serialization and SHA-256 of the event (what every append does).
 *
 *   npx tsx bench/reports/policy.ts [--events 100000] [--runs 7]
 */
import { parseArgs } from 'node:util';
import { canonicalJson, sha256Hex } from '../../src/core/canonical.js';
import { UNATTRIBUTED_ACTOR, type DraftEvent } from '../../src/core/event.js';
import { compilePolicy } from '../../src/policy/index.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' }, runs: { type: 'string', default: '7' } } });
const N = Number(values.events);
const tables = ['encounters', 'prescriptions'] as const;
const drafts: DraftEvent[] = [];
for (let i = 0; i < N; i++) {
  const table = tables[i % 2]!;
  const row =
    table === 'encounters'
      ? { id: String(i), patient_id: String(i % 5000), note: `visit note ${i} with some clinical text`, seen_at: '2026-11-26 10:00:00.123456' }
      : { id: String(i), encounter_id: String(i - 1), drug: `drug-${i % 300}`, dose: `${i % 50} mg` };
  drafts.push({
    v: 1, id: i.toString(16).padStart(32, '0'), time: '2026-11-26T10:00:00.000001Z',
    source: { id: 'pg', engine: 'postgres', server: 'db', database: 'clinic' }, position: `0/${i}`, tx: { id: String(i >> 1), index: i & 1, count: 2 },
    actor: { ...UNATTRIBUTED_ACTOR, db_user: 'alice', identity: 'verified' }, action: 'insert', outcome: 'success',
    object: { schema: 'clinic', table, key: { id: String(i) } }, subject: null,
    changes: { columns: Object.keys(row), before: null, after: row }, statement: null, detail: null,
  });
}
const config = {
  subjects: {
    'clinic.encounters': { patient_id: { column: 'patient_id' } },
    'clinic.prescriptions': { patient_id: { lookup: { table: 'clinic.encounters', key: 'encounter_id', column: 'patient_id' } } },
  },
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const policyTimes: number[] = [];
const hashTimes: number[] = [];
let sink = 0;
for (let r = 0; r < Number(values.runs); r++) {
  const policy = compilePolicy(config, { hmacKey: Buffer.alloc(32, 1) });
  let t0 = process.hrtime.bigint();
  for (const d of drafts) sink += policy.apply(d).changes!.columns.length;
  policyTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
  t0 = process.hrtime.bigint();
  for (const d of drafts) sink += sha256Hex(canonicalJson(d)).length;
  hashTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
const p = median(policyTimes);
const h = median(hashTimes);
process.stdout.write(
  JSON.stringify({ events: N, runs: policyTimes.length, policy_us_per_event: +((p / N) * 1e6).toFixed(2), policy_events_per_s: Math.round(N / p), baseline_canonical_sha256_us_per_event: +((h / N) * 1e6).toFixed(2), ratio_policy_to_baseline: +(p / h).toFixed(2), sink: sink > 0 }, null, 2) + '\n',
);
