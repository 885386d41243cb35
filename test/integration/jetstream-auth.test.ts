/**
 * TLS and credentials: a private nats-server requiring TLS (self-signed
 * certificate) and a user/password. The edge publishes through it with the
 * CA file and the password from the environment; a wrong password or an
 * untrusted certificate fail with a clear error that never shows the secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { GENESIS_HASH, type DraftEvent } from '../../src/core/event.js';
import { silentLogger } from '../../src/core/logger.js';
import { JetStreamOutputConfig, NatsSetupConfig, applyNatsSetup, openJetStreamStore } from '../../src/jetstream/index.js';
import { freePort, tempDir } from '../harness/index.js';
import { register } from '../harness/registry.js';

const PASSWORD = 'correct-horse-battery';

describe('JetStream over TLS with a user and password', () => {
  let dir: string;
  let port: number;
  let server: ChildProcess;
  let unregister: () => void;

  beforeAll(async () => {
    dir = await tempDir('js-tls-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    port = await freePort();
    server = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'js'), '--user', 'edge', '--pass', PASSWORD, '--tls', '--tlscert', join(dir, 'cert.pem'), '--tlskey', join(dir, 'key.pem'), '-l', join(dir, 'nats.log')], { stdio: 'ignore' });
    unregister = register({ killSync: () => server.kill('SIGKILL'), dirs: [] });
    // applyNatsSetup retries a refused first connection while the server starts.
    await applyNatsSetup(config(), { logger: silentLogger(), env: { DBW_NATS_PASS: PASSWORD } });
  });
  afterAll(() => {
    server?.kill('SIGKILL');
    unregister?.();
  });

  function config(over: Record<string, unknown> = {}): NatsSetupConfig {
    return NatsSetupConfig.parse({ servers: `tls://127.0.0.1:${port}`, user: 'edge', password_env: 'DBW_NATS_PASS', tls: { ca_file: join(dir, 'cert.pem') }, replicas: 1, max_bytes: 64 * 1024 * 1024, ...over });
  }

  function output(over: Record<string, unknown> = {}): JetStreamOutputConfig {
    const { replicas: _r, max_bytes: _m, duplicate_window: _d, max_age: _a, consumer: _c, ack_wait: _w, max_ack_pending: _p, lease_bucket: _l, lease_ttl: _t, ...rest } = config(over);
    return JetStreamOutputConfig.parse({ ...rest, kind: 'jetstream' });
  }

  it('publishes with the CA file and the password from the environment', async () => {
    const store = await openJetStreamStore({ config: output(), env: { DBW_NATS_PASS: PASSWORD } });
    const chain = await store.openChain({ id: 'tls-edge', engine: 'postgres', server: 'db:5432', database: 'clinic' });
    const draft: DraftEvent = {
      v: 1,
      id: 'aa'.repeat(16),
      time: '2026-11-26T10:00:00.000001Z',
      source: chain.source,
      position: '0/1',
      tx: { id: '1', index: 0, count: 1 },
      actor: { db_user: 'alice', role: 'alice', app_user: null, client_addr: null, client_port: null, application: null, session_id: null, identity: 'verified' },
      action: 'insert',
      outcome: 'success',
      object: { schema: 'clinic', table: 'patients', key: { id: '1' } },
      subject: null,
      changes: { columns: ['id'], before: null, after: { id: '1' } },
      statement: null,
      detail: null,
    };
    const [receipt] = await chain.append([draft], 'cp-1');
    expect(receipt?.seq).toBe(1);
    expect(receipt?.prev).toBe(GENESIS_HASH);
    expect(chain.checkpoint()?.checkpoint).toBe('cp-1');
    await store.close();
  }, 30_000);

  it('names a missing password variable', async () => {
    await expect(openJetStreamStore({ config: output(), env: {} })).rejects.toMatchObject({ code: 'E_NATS_PASSWORD_ENV', message: expect.stringContaining('DBW_NATS_PASS') });
  });

  it('fails clearly on a wrong password, without printing it', async () => {
    const err = await openJetStreamStore({ config: output(), env: { DBW_NATS_PASS: 'wrong-password-here' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NATS_CONNECT', message: expect.stringMatching(/authorization/i) });
    expect(String((err as Error).message)).not.toContain('wrong-password-here');
  }, 30_000);

  it('refuses a server certificate it cannot verify', async () => {
    const err = await openJetStreamStore({ config: output({ tls: true }), env: { DBW_NATS_PASS: PASSWORD } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NATS_CONNECT' });
  }, 30_000);
});
