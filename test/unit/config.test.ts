import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load-config.js';
import { durationMs } from '../../src/config/config-schema.js';

function errorOf(text: string): { message: string; fix: string; exitCode: number } {
  try {
    parseConfigText(text, 'dbwitness.yaml');
  } catch (e) {
    return e as { message: string; fix: string; exitCode: number };
  }
  throw new Error('expected a config error');
}

describe('config file', () => {
  it('parses a complete config', () => {
    const cfg = parseConfigText(
      `log_level: debug
store:
  dir: /var/lib/dbwitness
  signing_key: /etc/dbwitness/signing.key
  segment_max_age: 6h
sources:
  - id: clinic-pg
    url: postgres://dbwitness_daemon@db:5432/clinic
    password_env: PGPASS
    tables: [clinic.patients]
`,
      'x.yaml',
    );
    expect(cfg.store?.dir).toBe('/var/lib/dbwitness');
    expect(cfg.sources[0]).toMatchObject({ id: 'clinic-pg', tables: ['clinic.patients'] });
    expect(durationMs(cfg.store!.segment_max_age!)).toBe(6 * 3600_000);
  });

  it('names the key, the bad value and the fix', () => {
    const e = errorOf('log_level: loud\n');
    expect(e.message).toContain('key `log_level`');
    expect(e.message).toContain('"loud"');
    expect(e.fix).toContain('"debug"');
    expect(e.exitCode).toBe(2);
  });

  it('reports unknown keys with their path', () => {
    const e = errorOf('store:\n  dir: /x\n  sigining_key: /k\n');
    expect(e.message).toContain('key `store`');
    expect(e.message).toContain('`sigining_key`');
    expect(e.fix).toMatch(/spelling/);
  });

  it('reports bad source ids by index', () => {
    const e = errorOf('sources:\n  - id: "Bad Id"\n    url: postgres://h/db\n');
    expect(e.message).toContain('key `sources[0].id`');
  });

  it('does not echo values of secret-looking keys', () => {
    const e = errorOf('sources:\n  - id: ok\n    url: 42\n');
    expect(e.message).toContain('sources[0].url');
    expect(e.message).not.toContain('42');
  });

  it('reports YAML syntax errors with a line number', () => {
    const e = errorOf('store:\n  dir: [unclosed\n');
    expect(e.message).toMatch(/not valid YAML at line \d+/);
  });
});
