/** The shared conformance workload against PostgreSQL, through `dbwitness run`. */
import { conformanceSuite } from '../conformance/conformance-suite.js';
import { makePostgresTarget } from '../conformance/targets/postgres.js';

conformanceSuite('postgres', makePostgresTarget);
