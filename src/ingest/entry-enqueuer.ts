import type { JobsOptions, Queue } from 'bullmq';
import { RateLimitedLog, type Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import type { StreamEntries, StreamLease } from '../ownership/index.js';
import { entryToPublishJob } from './ingest-job.js';

/** What an {@link EntryEnqueuer} needs. */
export interface EntryEnqueuerOptions {
  publishQueue: Queue;
  /** The ingest consumer group on the data streams. */
  group: string;
  /** Options of every publish job (the job id is set per entry). */
  jobOptions: JobsOptions;
  maxPayloadBytes: number;
  logger: Logger;
  metrics?: DualstreamMetrics;
}

/**
 * Turns a batch of data stream entries into publish jobs and acknowledges the entries only after
 * the enqueue is confirmed, through the lease's fenced ack.
 */
export class EntryEnqueuer {
  private readonly rejectedLog: RateLimitedLog;

  constructor(private readonly opts: EntryEnqueuerOptions) {
    this.rejectedLog = new RateLimitedLog(opts.logger);
  }

  /**
   * Enqueue and ack one stream's entries. Throws what fails (a `FencingError` when the stream was
   * lost); nothing is acknowledged then, so the entries are read again.
   */
  async enqueue(lease: StreamLease, entries: StreamEntries): Promise<void> {
    // Disowned while the read was in flight: drop the batch, the new owner re-reads it.
    if (lease.ended) return;
    const jobs = [];
    for (const [entryId, fields] of entries) {
      // A null entry was deleted from the stream after delivery: nothing to publish, just ack.
      if (fields === null) continue;
      const spec = entryToPublishJob(lease.stream, entryId, fields, {
        maxPayloadBytes: this.opts.maxPayloadBytes,
      });
      if (spec.invalid) {
        this.opts.metrics?.eventsRejected.inc({ entry: 'ingest' });
        this.rejectedLog.warn(
          'invalid',
          { stream: lease.stream, entryId, jobId: spec.jobId, reason: spec.invalid },
          'invalid event enqueued anyway: the publish worker fails it visibly in Bull Board',
        );
      }
      jobs.push({
        name: spec.name,
        data: spec.data,
        opts: { ...this.opts.jobOptions, jobId: spec.jobId },
      });
    }
    // Not atomic with the enqueue (BullMQ adds jobs in its own scripts), but job ids are stable,
    // so an enqueue by a just-replaced owner is deduplicated; the XACK below is atomic.
    await lease.assertOwner();
    if (jobs.length > 0) await this.opts.publishQueue.addBulk(jobs);
    await lease.ack(
      this.opts.group,
      entries.map(([entryId]) => entryId),
    );
    this.opts.metrics?.eventsAccepted.inc({ entry: 'ingest' }, jobs.length);
  }
}
