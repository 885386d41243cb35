import { conformanceSuite } from '../conformance/conformance-suite.js';
import { makeMariaDbTarget } from '../conformance/targets/mariadb.js';

// The shared workload through `dbwitness run`, on MariaDB 10.11.
conformanceSuite('mariadb', makeMariaDbTarget);
