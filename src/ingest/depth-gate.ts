import type { Queue } from 'bullmq';
import { sleep } from '../async.js';
import type { Logger } from '../logger.js';
import { queueFull } from '../queue/index.js';

/** How often the gate asks the publish queue for its depth while it is not full. */
const CHECK_EVERY_MS = 1000;

/**
 * Pauses ingestion while the publish queue is full (see `queueFull`: waiting + delayed +
 * prioritized jobs at or above `MAX_QUEUE_DEPTH`, the same meaning as for `enqueueEvent`). Asks
 * the queue at most once a second while it has room; a failed check lets reading go on.
 */
export class DepthGate {
  private checkedAt = 0;

  constructor(
    private readonly queue: Queue,
    private readonly maxDepth: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether reading must pause now; when it must, this has already waited a second. */
  async paused(): Promise<boolean> {
    if (this.now() - this.checkedAt < CHECK_EVERY_MS) return false;
    this.checkedAt = this.now();
    try {
      const { full, depth } = await queueFull(this.queue, this.maxDepth);
      if (!full) return false;
      this.logger.warn(
        { depth, maxQueueDepth: this.maxDepth },
        'publish queue full; ingestion paused',
      );
      // Full: look again on the next call, after this pause.
      this.checkedAt = 0;
      await sleep(CHECK_EVERY_MS);
      return true;
    } catch {
      return false;
    }
  }
}
