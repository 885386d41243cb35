/** Steady mixed write load for the soak benchmark: one transaction every 1/rate s. */
import mysql from 'mysql2/promise';
import pg from 'pg';

export interface WriterStats {
  tx: number;
  /** Row changes committed (insert, update, delete). */
  changes: number;
}

/**
 * Each transaction inserts a patient, updates an earlier one and, every
 * fifth time, deletes one: 2-3 row changes. Counts only committed work.
 */
export async function mixedWriter(engine: 'pg' | 'mdb', url: string, rate: number, stop: { stopped: boolean }, stats: WriterStats): Promise<void> {
  const run = engine === 'pg' ? await pgRunner(url) : await mysqlRunner(url);
  const interval = 1000 / rate;
  let next = Date.now();
  let id = 1;
  try {
    while (!stop.stopped) {
      const n = id++;
      const statements: Array<[string, unknown[]]> = [[engine === 'pg' ? 'INSERT INTO clinic.patients (id, mrn, name, balance) VALUES ($1, $2, $3, $4)' : 'INSERT INTO clinic.patients (id, mrn, name, balance) VALUES (?, ?, ?, ?)', [n, `MRN${n}`, `Patient ${n}`, '10.50']]];
      let changes = 1;
      if (n > 10) {
        statements.push([engine === 'pg' ? 'UPDATE clinic.patients SET balance = balance + 1 WHERE id = $1' : 'UPDATE clinic.patients SET balance = balance + 1 WHERE id = ?', [n - 10]]);
        changes++;
      }
      if (n > 20 && n % 5 === 0) {
        statements.push([engine === 'pg' ? 'DELETE FROM clinic.patients WHERE id = $1' : 'DELETE FROM clinic.patients WHERE id = ?', [n - 20]]);
        changes++;
      }
      await run.tx(statements);
      stats.tx++;
      stats.changes += changes;
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else next = Date.now(); // behind schedule on a busy machine: do not burst to catch up
    }
  } finally {
    await run.close();
  }
}

interface Runner {
  tx(statements: ReadonlyArray<[string, unknown[]]>): Promise<void>;
  close(): Promise<void>;
}

async function pgRunner(url: string): Promise<Runner> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return {
    async tx(statements) {
      await c.query('BEGIN');
      for (const [sql, params] of statements) await c.query(sql, params);
      await c.query('COMMIT');
    },
    close: () => c.end(),
  };
}

async function mysqlRunner(url: string): Promise<Runner> {
  const c = await mysql.createConnection(url);
  return {
    async tx(statements) {
      await c.beginTransaction();
      for (const [sql, params] of statements) await c.query(sql, params);
      await c.commit();
    },
    close: () => c.end(),
  };
}
