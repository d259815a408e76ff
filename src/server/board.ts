import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';
import { cooldownRemainingMs } from '../queue/cooldown-limiter.js';

/** Path Bull Board is mounted at. */
export const BOARD_PATH = '/admin/queues';

/** One queue shown on the board, with the text shown next to its name. */
export interface BoardQueue {
  queue: Queue;
  /** Shown under the queue name. */
  description?: string;
  /**
   * Its workers run with the publish worker's cool-down limiter: show "rate limited" only
   * during a Kafka cool-down, not after every job (see cooldown-limiter.ts).
   */
  cooldownLimiter?: boolean;
}

/** Reads the rate limit the way the publish worker's limiter decides it. */
class CooldownAwareAdapter extends BullMQAdapter {
  constructor(
    private readonly publishQueue: Queue,
    options: ConstructorParameters<typeof BullMQAdapter>[1],
  ) {
    super(publishQueue, options);
  }

  override async getActiveRateLimitTtl(): Promise<number> {
    return cooldownRemainingMs(this.publishQueue);
  }
}

interface JobJson {
  name?: string;
  data?: unknown;
}

/**
 * `sourceType/sourceId` of a publish job's data, which is the event itself (the worker adds its
 * receipt beside the event's fields); `undefined` for data of another shape (claim jobs, other
 * queues, an invalid event).
 */
export function sourceOf(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const { sourceType, sourceId } = data as Record<string, unknown>;
  if (typeof sourceType !== 'string' || typeof sourceId !== 'string') return undefined;
  return `${sourceType}/${sourceId}`;
}

/**
 * Build the Bull Board router for the given queues. Job names on the publish queue are the event
 * type; the board shows them as `type — sourceType/sourceId` so an operator can tell failed
 * publishes apart without opening each one.
 */
export function createBoardRouter(queues: BoardQueue[]): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  const adapters = queues.map(({ queue, description, cooldownLimiter }) => {
    const options = { description: description ?? '', allowRetries: true };
    const adapter = cooldownLimiter
      ? new CooldownAwareAdapter(queue, options)
      : new BullMQAdapter(queue, options);
    adapter.setFormatter('name', (job: JobJson) => {
      const source = sourceOf(job.data);
      const name = job.name ?? '';
      return source ? `${name} — ${source}` : name;
    });
    return adapter;
  });
  createBullBoard({
    queues: adapters,
    serverAdapter,
    options: { uiConfig: { boardTitle: 'dualstream' } },
  });
  // getRouter() is typed `any` by @bull-board/express; it is an express app (a Router that can
  // be mounted). Its own app would announce "X-Powered-By: Express" again.
  const router = serverAdapter.getRouter() as Router & { disable?: (setting: string) => void };
  router.disable?.('x-powered-by');
  return router;
}
