/** `dbwitness setup nats` against a private JetStream server: plan, apply, idempotence. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { runCli, startNats, type NatsServer } from '../harness/index.js';

describe('dbwitness setup nats', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNats({ jetstream: true });
  });
  afterAll(async () => {
    await nats?.close();
  });

  it('prints a reviewable plan and creates nothing without --apply', async () => {
    const r = await runCli(['setup', 'nats', '--url', nats.url(), '--replicas', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('nats stream add');
    expect(r.stdout).toContain('DBWITNESS');
    const nc = await connect({ servers: nats.url() });
    const jsm = await nc.jetstreamManager();
    await expect(jsm.streams.info('DBWITNESS')).rejects.toThrow();
    await nc.close();
  });

  it('applies the plan idempotently', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['setup', 'nats', '--url', nats.url(), '--replicas', '1', '--apply']);
      expect(r.code, r.stderr).toBe(0);
    }
    const nc = await connect({ servers: nats.url() });
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info('DBWITNESS');
    expect(info.config.subjects).toContain('dbwitness.>');
    expect((await jsm.consumers.info('DBWITNESS', 'dbwitness-archiver')).config.durable_name).toBe('dbwitness-archiver');
    await nc.close();
  });

  it('rejects bad flags with a fix', async () => {
    const r = await runCli(['setup', 'nats', '--url', nats.url(), '--replicas', '7']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--replicas must be a whole number from 1 to 5/);
    const u = await runCli(['setup', 'nats', '--url', nats.url(), '--uninstall']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/archive everything first/);
  });
});
