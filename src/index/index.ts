/** The rebuildable SQLite query index over the store. */
export { INDEX_FILE, INDEX_SCHEMA_VERSION, openIndexDb, type Db } from './schema.js';
export { IndexWriter, keyText, readWatermarks, type IndexEntry, type Watermark, type ScanPosition } from './writer.js';
export { updateIndex, rebuildIndex, indexStatus, defaultIndexPath, type UpdateIndexOptions, type UpdateIndexResult, type IndexProgress, type IndexStatus } from './update.js';
export { IndexReader, openSubjectFallback, EVENT_COLUMNS, EVENT_FROM, type IndexedEvent, type IndexGap } from './reader.js';
export { readEventAt, scanChain, type ChainGap } from './store-scan.js';
export { ArchiveResolver, chainFiles, type ChainFile } from './archived-chain.js';
export { filterSql } from './query.js';
export { startIndexUpdater, type IndexUpdater } from './updater.js';
