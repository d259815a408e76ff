export { createIngester, type Ingester, type IngesterDeps } from './ingester.js';
export {
  EVENT_FIELD,
  deriveEventId,
  entryToPublishJob,
  ingestGroup,
  type PublishJobSpec,
} from './ingest-job.js';
