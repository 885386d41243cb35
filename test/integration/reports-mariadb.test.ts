/** Reviewer tools (mapping, redaction incl. statement literals, index, reports) on an audited MariaDB. */
import { makeMariaDbTarget } from '../conformance/targets/mariadb.js';
import { reportsSuite } from './reports-suite.js';

reportsSuite('MariaDB', makeMariaDbTarget);
