/**
 * Scale-out through NATS JetStream (see docs/jetstream.md):
 * - edge: `openJetStreamStore` is an `AuditStore` that publishes events;
 * - central: `runArchiver` (and `dbwitness archive`) writes the sealed store;
 * - setup: `planNatsSetup` / `applyNatsSetup` for `dbwitness setup nats`.
 */
export {
  ArchiveConfig,
  JetStreamOutputConfig,
  NatsConnectionConfig,
  NatsSetupConfig,
  NatsTlsConfig,
  eventSubject,
  eventsFilter,
  sourceIdOfSubject,
  type ArchiveInput,
  type JetStreamOutputInput,
  type NatsSetupInput,
} from './jetstream-config.js';
export { openJetStreamStore, JetStreamStore, type JetStreamStoreOptions } from './edge-store.js';
export { JetStreamChain, type EdgeCheckpointValue, type EdgeChainStats } from './edge-chain.js';
export { runArchiver, type ArchiverOptions, type ArchiverStats } from './archiver.js';
export { planNatsSetup, applyNatsSetup, formatNatsPlan, streamConfig, consumerConfig, type ApplyNatsOptions } from './nats-setup.js';
export { connectNats } from './nats-connect.js';
export { encodeDraft, decodeDraft, edgeReceipt, DraftEventSchema } from './wire-event.js';
