import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical.js';
import { GENESIS_HASH, type DraftEvent } from '../../src/core/event.js';
import { ArchiveConfig, JetStreamOutputConfig, NatsSetupConfig, decodeDraft, edgeReceipt, encodeDraft, formatNatsPlan, planNatsSetup, sourceIdOfSubject, streamConfig } from '../../src/jetstream/index.js';

const DRAFT: DraftEvent = {
  v: 1,
  id: '0123456789abcdef0123456789abcdef',
  time: '2026-11-26T10:00:00.123456Z',
  source: { id: 'clinic-pg', engine: 'postgres', server: 'db1:5432', database: 'clinic' },
  position: '0/16B3748',
  tx: { id: '771', index: 0, count: 1 },
  actor: { db_user: 'alice', role: 'alice', app_user: null, client_addr: '10.0.0.7', client_port: 50123, application: 'ehr', session_id: '6745a1b2.3f1', identity: 'verified' },
  action: 'update',
  outcome: 'success',
  object: { schema: 'clinic', table: 'patients', key: { id: '9007199254740993' } },
  subject: null,
  changes: { columns: ['balance'], before: { balance: '0.10' }, after: { balance: '12345678901234567890.000001' } },
  statement: null,
  detail: null,
};

describe('JetStream config schemas', () => {
  it('fills defaults and splits comma-separated servers', () => {
    const c = JetStreamOutputConfig.parse({ kind: 'jetstream', servers: 'nats://a:4222, nats://b:4222' });
    expect(c.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(c.subject_prefix).toBe('dbwitness');
    expect(c.stream).toBe('DBWITNESS');
    expect(c.checkpoint_bucket).toBe('dbwitness_checkpoints');
  });

  it('refuses names NATS cannot hold and half of a client certificate', () => {
    expect(JetStreamOutputConfig.safeParse({ kind: 'jetstream', servers: 'nats://a', stream: 'AUDIT.EVENTS' }).success).toBe(false);
    expect(JetStreamOutputConfig.safeParse({ kind: 'jetstream', servers: 'nats://a', subject_prefix: 'dbwitness.>' }).success).toBe(false);
    expect(JetStreamOutputConfig.safeParse({ kind: 'jetstream', servers: 'nats://a', tls: { cert_file: '/c.pem' } }).success).toBe(false);
    expect(JetStreamOutputConfig.safeParse({ kind: 'jetstream', servers: 'nats://a', tls: { ca_file: '/ca.pem', cert_file: '/c.pem', key_file: '/k.pem' } }).success).toBe(true);
    expect(ArchiveConfig.safeParse({ servers: 'nats://a', password: 'x' }).success).toBe(false); // secrets come from password_env
  });

  it('maps event subjects back to their source id', () => {
    expect(sourceIdOfSubject('dbwitness', 'dbwitness.events.clinic-pg')).toBe('clinic-pg');
    expect(sourceIdOfSubject('dbwitness', 'dbwitness.events.a.b')).toBeNull();
    expect(sourceIdOfSubject('dbwitness', 'other.events.a')).toBeNull();
  });
});

describe('setup nats plan', () => {
  const config = NatsSetupConfig.parse({ servers: 'nats://a:4222', replicas: 3, duplicate_window: '10m', max_age: '7d', lease_ttl: '15s' });

  it('creates a limits stream that refuses publishes when full instead of dropping events', () => {
    const s = streamConfig(config);
    expect(s.subjects).toEqual(['dbwitness.>']);
    expect(s.retention).toBe('limits');
    expect(s.discard).toBe('new');
    expect(s.num_replicas).toBe(3);
    expect(s.duplicate_window).toBe(600 * 1e9);
    expect(s.max_age).toBe(7 * 86400 * 1e9);
  });

  it('prints reviewable nats commands and JSON for every object', () => {
    const plan = planNatsSetup(config);
    expect(plan.engine).toBe('nats');
    const text = plan.steps.flatMap((s) => [s.title, ...(s.config ?? [])]).join('\n');
    expect(text).toContain("nats stream add DBWITNESS --subjects 'dbwitness.>' --storage file --retention limits --discard new --replicas 3 --dupe-window 600s");
    expect(text).toContain('nats kv add dbwitness_checkpoints --history 1 --replicas 3');
    expect(text).toContain('nats kv add dbwitness_archiver --history 1 --ttl 15s --replicas 3');
    expect(text).toContain("nats consumer add DBWITNESS dbwitness-archiver --pull --filter 'dbwitness.events.>' --ack explicit");
    const consumerJson = JSON.parse(plan.steps[3]!.config!.at(-1)!) as Record<string, unknown>;
    expect(consumerJson).toMatchObject({ durable_name: 'dbwitness-archiver', ack_policy: 'explicit', max_deliver: -1, filter_subject: 'dbwitness.events.>' });
    for (const step of plan.steps) expect(step.sql).toEqual([]);
  });

  it('formats the plan as a shell script that runs only nats commands and hides credentials in URLs', () => {
    const c = NatsSetupConfig.parse({ servers: 'nats://admin:hunter2@nats-1:4222', replicas: 3 });
    const script = formatNatsPlan(planNatsSetup(c), c.servers);
    expect(script).not.toContain('hunter2');
    const commands = script.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(commands[0]).toBe('set -e');
    expect(commands.slice(1).every((l) => l.startsWith('nats '))).toBe(true);
    expect(commands).toHaveLength(5);
  });
});

describe('events on the wire', () => {
  it('publishes the canonical draft and reads it back exactly', () => {
    const bytes = encodeDraft(DRAFT);
    expect(Buffer.from(bytes).toString('utf8')).toBe(canonicalJson(DRAFT));
    expect(decodeDraft(bytes, 'message 1', 'clinic-pg')).toEqual(DRAFT);
  });

  it('refuses a message that is not an event of the subject\'s source', () => {
    expect(() => decodeDraft(Buffer.from('{"v":1}'), 'message 7', 'clinic-pg')).toThrow(/message 7 is not a dbwitness v1 event/);
    expect(() => decodeDraft(Buffer.from('nope'), 'message 8', 'clinic-pg')).toThrow(/not JSON/);
    expect(() => decodeDraft(encodeDraft(DRAFT), 'message 9', 'other')).toThrow(/carries source clinic-pg on the subject of source other/);
  });

  it('returns receipts shaped like events: stream sequence, zero prev, hash of the published bytes', () => {
    const bytes = encodeDraft(DRAFT);
    const r = edgeReceipt(DRAFT, bytes, 42, '2026-11-26T10:00:01.000000Z');
    expect(r.seq).toBe(42);
    expect(r.prev).toBe(GENESIS_HASH);
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.hash).not.toBe(edgeReceipt({ ...DRAFT, position: '0/16B3749' }, encodeDraft({ ...DRAFT, position: '0/16B3749' }), 42, r.recorded_at).hash);
  });
});
