export { availablePgVersions, startPostgres, type PgServer, type StartPostgresOptions } from './postgres.js';
export { waitFor } from './wait.js';
export { cliEntry, repoRoot, runCli, spawnCli, tempDir, type CliResult, type RunCliOptions } from './cli.js';
export { freePort } from './ports.js';
export { startMariaDB, type MariaDbServer, type StartMariaDbOptions } from './mariadb.js';
export { startNats, type NatsServer } from './nats.js';
