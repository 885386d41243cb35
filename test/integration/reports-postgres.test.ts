/** Reviewer tools (mapping, redaction, index, reports) on an audited PostgreSQL. */
import { makePostgresTarget } from '../conformance/targets/postgres.js';
import { reportsSuite } from './reports-suite.js';

reportsSuite('PostgreSQL', makePostgresTarget);
