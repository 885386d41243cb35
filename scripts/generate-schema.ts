/**
 * Writes schema/audit-event.v1.json from the zod schema in src/core/event.ts.
 * Run `npm run schema` after changing the event; a unit test fails when the
 * committed file and the schema drift apart.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { auditEventJsonSchema } from '../src/core/event-json-schema.js';

const target = fileURLToPath(new URL('../schema/audit-event.v1.json', import.meta.url));
writeFileSync(target, JSON.stringify(auditEventJsonSchema(), null, 2) + '\n');
process.stdout.write(`wrote ${target}\n`);
