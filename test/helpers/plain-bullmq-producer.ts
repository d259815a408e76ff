// A producer as an existing BullMQ app would write it: it imports only `bullmq`, nothing from
// this package, to prove that a plain `queue.add(name, event)` is enough to publish.
import { Queue } from 'bullmq';

/** The event shape a plain producer sends; the job data IS the event input. */
export interface PlainEvent {
  id?: string;
  type: string;
  sourceType: string;
  sourceId: string;
  payload?: unknown;
  headers?: Record<string, string>;
  [extra: string]: unknown;
}

/** Add raw job data (valid events or garbage) to a queue with plain BullMQ, then close it. */
export async function plainEnqueue(
  queueName: string,
  jobs: Array<{ name?: string; data: unknown; jobId?: string }>,
  options: { redisUrl?: string; prefix?: string } = {},
): Promise<string[]> {
  const queue = new Queue(queueName, {
    connection: { url: options.redisUrl ?? 'redis://127.0.0.1:6379' },
    prefix: options.prefix ?? 'bull',
  });
  try {
    const added = await queue.addBulk(
      jobs.map((j) => ({
        name: j.name ?? 'event',
        data: j.data,
        ...(j.jobId ? { opts: { jobId: j.jobId } } : {}),
      })),
    );
    return added.map((j) => j.id!);
  } finally {
    await queue.close();
  }
}
