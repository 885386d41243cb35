/** The store's SHA-256 is core's one-shot helper (kept as a module so store files import it locally). */
export { sha256Hex } from '../core/canonical.js';
