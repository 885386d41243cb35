import { describe, expect, it } from 'vitest';
import { binlogDistance } from '../../adapters/mysql/binlog-lag.js';

const logs = [
  { name: 'binlog.000007', size: 1_000n },
  { name: 'binlog.000008', size: 5_000n },
  { name: 'binlog.000009', size: 300n },
];

describe('binlog distance', () => {
  it('sums the rest of the durable file and every later file', () => {
    expect(binlogDistance(logs, { file: 'binlog.000008', offset: 4_200 })).toEqual({ bytes: 800n + 300n, retained: 5_300n });
    expect(binlogDistance(logs, { file: 'binlog.000007', offset: 1_000 })).toEqual({ bytes: 5_300n, retained: 6_300n });
  });

  it('is 0 bytes at the end of the last file, and never negative', () => {
    expect(binlogDistance(logs, { file: 'binlog.000009', offset: 300 })).toEqual({ bytes: 0n, retained: 300n });
    expect(binlogDistance(logs, { file: 'binlog.000009', offset: 400 })).toEqual({ bytes: 0n, retained: 300n });
  });

  it('is unknown when the durable file is no longer listed', () => {
    expect(binlogDistance(logs, { file: 'binlog.000006', offset: 4 })).toBeNull();
  });
});
