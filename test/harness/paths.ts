import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (test/harness/ is two levels below it). */
export const repoRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
