/** `dbwitness demo` end to end through the built CLI: trail, verify, cleanup. */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/index.js';

describe('dbwitness demo', () => {
  it('prints an attributed trail with the evasion alert, verifies, and removes its server', async () => {
    const r = await runCli(['demo'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/dba_kim\s+dba_kim\s+127\.0\.0\.9\s+psql\s+update/);
    expect(r.stdout).toMatch(/ehr_app\s+ehr_app\s+dr\.chen\s+127\.0\.0\.2\s+ehr-web\s+insert/);
    expect(r.stdout).toMatch(/billing_svc\s+billing\s+127\.0\.0\.5/);
    expect(r.stdout).toMatch(/ALERT unattributed_change/);
    expect(r.stdout).toMatch(/verify: OK/);
    const store = /store: (\S+)/.exec(r.stdout)?.[1];
    const key = /public key: (\S+)\)/.exec(r.stdout)?.[1];
    expect(store !== undefined && existsSync(store)).toBe(true);
    const verify = await runCli(['verify', store!, '--public-key', key!]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const server = /listening on 127\.0\.0\.1:(\d+)/.exec(r.stdout)?.[1];
    expect(server).toBeDefined();
    // The throwaway server is gone: its port refuses connections.
    const refused = await new Promise<boolean>((resolve) => {
      const sock = connect({ port: Number(server), host: '127.0.0.1' });
      sock.once('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    await rm(store!, { recursive: true, force: true });
    await rm(key!.replace(/\/store-key\.pub\.pem$/, ''), { recursive: true, force: true });
  }, 180_000);
});
