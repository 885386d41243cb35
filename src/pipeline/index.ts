export { runPipeline, type PipelineOptions, type PipelineStats } from './pipeline.js';
export { TxBuffer, type BufferedChange } from './tx-buffer.js';
export { actorFrom, changeDraft, alertDraft, unattributedAlert } from './event-builder.js';
