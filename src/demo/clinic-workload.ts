/**
 * The demo's clinic: schema, staff accounts, and a short workload played
 * from several applications and client addresses, including a DBA's direct
 * edit that bypasses the application and an edit with the trigger silenced.
 */
import { Socket } from 'node:net';
import pg from 'pg';

export interface Scene {
  readonly who: string;
  readonly user: string;
  /** Client source address: every 127.0.0.x is a local address on Linux. */
  readonly from: string;
  readonly application: string;
  readonly appUser: string | null;
  readonly statements: readonly string[];
}

export const CLINIC_SETUP = [
  'CREATE SCHEMA clinic',
  'CREATE TABLE clinic.patients (id bigint PRIMARY KEY, mrn varchar(32) NOT NULL, name varchar(200) NOT NULL, dob date, balance numeric(12,2))',
  'CREATE TABLE clinic.encounters (id bigint PRIMARY KEY, patient_id bigint NOT NULL REFERENCES clinic.patients(id) ON DELETE CASCADE, note text, seen_at timestamp(6))',
  'CREATE TABLE clinic.prescriptions (id bigint PRIMARY KEY, encounter_id bigint NOT NULL REFERENCES clinic.encounters(id) ON DELETE CASCADE, drug varchar(100) NOT NULL, dose varchar(50))',
  "INSERT INTO clinic.patients VALUES (1000, 'MRN-1000', 'Ada Lovelace', '1985-12-10', 0.00)",
  'CREATE ROLE clinician NOLOGIN',
  'CREATE ROLE billing NOLOGIN',
  'CREATE ROLE ehr_app LOGIN IN ROLE clinician',
  'CREATE ROLE pharmacy_app LOGIN IN ROLE clinician',
  'CREATE ROLE billing_svc LOGIN IN ROLE billing',
  'CREATE ROLE dba_kim LOGIN SUPERUSER',
  'CREATE ROLE clinic_owner LOGIN',
  'GRANT USAGE ON SCHEMA clinic TO clinician, billing',
  'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA clinic TO clinician',
  'GRANT SELECT, UPDATE (balance) ON clinic.patients TO billing',
  'ALTER SCHEMA clinic OWNER TO clinic_owner',
  'ALTER TABLE clinic.patients OWNER TO clinic_owner',
  'ALTER TABLE clinic.encounters OWNER TO clinic_owner',
  'ALTER TABLE clinic.prescriptions OWNER TO clinic_owner',
];

export const SCENES: readonly Scene[] = [
  {
    who: 'Dr. Chen admits a patient in the EHR',
    user: 'ehr_app',
    from: '127.0.0.2',
    application: 'ehr-web',
    appUser: 'dr.chen',
    statements: [
      "INSERT INTO clinic.patients VALUES (1001, 'MRN-1001', 'Maria Garcia', '1979-03-14', 0.00)",
      "INSERT INTO clinic.encounters VALUES (5001, 1001, 'chest pain, ECG ordered', '2026-11-26 09:12:03.250001')",
    ],
  },
  {
    who: 'Nurse Patel updates the note from a tablet',
    user: 'ehr_app',
    from: '127.0.0.3',
    application: 'ehr-mobile',
    appUser: 'nurse.patel',
    statements: ["UPDATE clinic.encounters SET note = note || '; ECG normal' WHERE id = 5001"],
  },
  {
    who: 'Pharmacist Ortiz dispenses',
    user: 'pharmacy_app',
    from: '127.0.0.4',
    application: 'pharmacy',
    appUser: 'rx.ortiz',
    statements: ["INSERT INTO clinic.prescriptions VALUES (9001, 5001, 'aspirin', '81 mg daily')"],
  },
  {
    who: 'The billing batch job sets a balance (SET ROLE billing)',
    user: 'billing_svc',
    from: '127.0.0.5',
    application: 'billing-batch',
    appUser: null,
    statements: ['SET LOCAL ROLE billing', 'UPDATE clinic.patients SET balance = 240.00 WHERE id = 1001'],
  },
  {
    who: 'A DBA edits a record directly with psql, bypassing the EHR',
    user: 'dba_kim',
    from: '127.0.0.9',
    application: 'psql',
    appUser: null,
    statements: ["UPDATE clinic.patients SET dob = '1979-03-15' WHERE id = 1001"],
  },
  {
    who: 'The table owner silences the trigger and edits (evasion)',
    user: 'clinic_owner',
    from: '127.0.0.9',
    application: 'psql',
    appUser: null,
    statements: ['ALTER TABLE clinic.patients DISABLE TRIGGER dbwitness_identity'],
  },
  {
    who: '',
    user: 'clinic_owner',
    from: '127.0.0.9',
    application: 'psql',
    appUser: null,
    statements: ["UPDATE clinic.patients SET name = 'M. Garcia-Lopez' WHERE id = 1001"],
  },
  {
    who: '',
    user: 'clinic_owner',
    from: '127.0.0.9',
    application: 'psql',
    appUser: null,
    statements: ['ALTER TABLE clinic.patients ENABLE ALWAYS TRIGGER dbwitness_identity'],
  },
];

/**
 * node-postgres has no local-address option, but accepts a socket factory:
 * this one binds the client end to `from` so the server sees that address.
 */
function socketFrom(from: string): () => Socket {
  return () => {
    const socket = new Socket();
    const connect = socket.connect.bind(socket) as (opts: { port: number; host: string; localAddress: string }) => Socket;
    (socket as unknown as { connect: (port: number, host: string) => Socket }).connect = (port: number, host: string) => connect({ port, host, localAddress: from });
    return socket;
  };
}

export async function playScene(url: string, scene: Scene): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: scene.application, stream: socketFrom(scene.from) } as pg.ClientConfig);
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('BEGIN');
    if (scene.appUser !== null) await client.query("SELECT pg_catalog.set_config('dbwitness.app_user', $1, true)", [scene.appUser]);
    for (const s of scene.statements) await client.query(s);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}
