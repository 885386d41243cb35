/**
 * Child process for the kill -9 test: appends one-transaction batches with
 * a checkpoint and prints the acknowledged seq after each append resolves.
 */
import { openStore } from '../../src/store/index.js';
import { SOURCE, draft } from './store-helpers.js';

const [dir, keyFile] = process.argv.slice(2) as [string, string];
const store = await openStore(dir, { signingKeyFile: keyFile, segmentMaxBytes: 200_000 });
const chain = await store.openChain(SOURCE);
for (let i = 0; ; i += 50) {
  const batch = Array.from({ length: 50 }, (_, k) => draft(i + k));
  await chain.append(batch, `cp-${i + 50}`);
  process.stdout.write(`${chain.head().seq}\n`);
}
