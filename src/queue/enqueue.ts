import type { Queue } from 'bullmq';
import { sleep } from '../async.js';
import { BackpressureError } from '../errors.js';
import { parseBatch, parseEvent, type DualEvent, type EventInput } from '../events/index.js';

/** Options of {@link enqueueEvent} and {@link enqueueEvents}. */
export interface EnqueueOptions {
  /** Above this many waiting/delayed/prioritized jobs, wait (then throw). @defaultValue no limit */
  maxQueueDepth?: number;
  /** How long to wait for the queue to drain below `maxQueueDepth`. @defaultValue 5000 ms */
  timeoutMs?: number;
  /** BullMQ job name. @defaultValue the event `type` (readable in Bull Board) */
  jobName?: string;
  /** @defaultValue 1 MiB */
  maxPayloadBytes?: number;
}

/** An enqueued event: its id (the jobId) and whether a job with that id already existed. */
export interface EnqueuedEvent {
  id: string;
  /**
   * A job with this id was already in the queue (retained), so this enqueue was a no-op.
   * Checked just before adding: two concurrent enqueues of one id may both say `false`, but
   * only one job (and one Kafka record) results.
   */
  duplicate: boolean;
}

// Any queue whose jobs carry event data: the package's publish queue or a user's own.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- result and name types are irrelevant here
type AnyQueue = Queue<any, any, string>;

/** Jobs waiting to run: waiting, delayed and prioritized. */
export async function queueDepth(queue: AnyQueue): Promise<number> {
  return queue.getJobCountByTypes('waiting', 'delayed', 'prioritized');
}

/**
 * The one meaning of a full publish queue, for `enqueueEvent(s)`, the HTTP API, `dualstream
 * enqueue` and the ingester: its {@link queueDepth} (waiting + delayed + prioritized) is at or
 * above `maxDepth` (`MAX_QUEUE_DEPTH`).
 */
export async function queueFull(
  queue: AnyQueue,
  maxDepth: number,
): Promise<{ full: boolean; depth: number }> {
  const depth = await queueDepth(queue);
  return { full: depth >= maxDepth, depth };
}

/**
 * Validate one event and add it as a job whose jobId is the event id (a second enqueue of the
 * same id is a no-op while the job is retained). Throws EventValidationError, or
 * BackpressureError when the queue stays above `maxQueueDepth` for `timeoutMs`.
 */
export async function enqueueEvent(
  queue: AnyQueue,
  input: EventInput,
  options: EnqueueOptions = {},
): Promise<EnqueuedEvent> {
  const event = parseEvent(
    input,
    options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes },
  );
  const [result] = await enqueueValidated(queue, [event], options);
  return result!;
}

/**
 * Validate every event first (one EventValidationError naming each bad index; nothing is added),
 * wait for room, then add them all with one `addBulk`.
 */
export async function enqueueEvents(
  queue: AnyQueue,
  inputs: EventInput[],
  options: EnqueueOptions = {},
): Promise<EnqueuedEvent[]> {
  const events = parseBatch(
    inputs,
    options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes },
  );
  if (events.length === 0) return [];
  return enqueueValidated(queue, events, options);
}

/**
 * Add events that the caller already validated with `parseEvent` / `safeParseEvent` (the HTTP
 * route and the CLI do, to report issues by index or line): wait for room, then one `addBulk`
 * with the event ids as jobIds. Nothing is validated again.
 */
export async function enqueueValidated(
  queue: AnyQueue,
  events: DualEvent[],
  options: EnqueueOptions = {},
): Promise<EnqueuedEvent[]> {
  if (events.length === 0) return [];
  if (options.maxQueueDepth !== undefined) {
    await waitForRoom(queue, options.maxQueueDepth, options.timeoutMs ?? 5000);
  }
  const client = await queue.backend.client;
  const existed = await Promise.all(
    events.map((e) => client.hexists(queue.toKey(e.id), 'timestamp')),
  );
  await queue.addBulk(
    events.map((e) => ({ name: options.jobName ?? e.type, data: e, opts: { jobId: e.id } })),
  );
  return events.map((e, i) => ({ id: e.id, duplicate: existed[i] === 1 }));
}

async function waitForRoom(queue: AnyQueue, maxDepth: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pollMs = Math.max(10, Math.min(250, Math.floor(timeoutMs / 10)));
  for (;;) {
    const { full, depth } = await queueFull(queue, maxDepth);
    if (!full) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new BackpressureError(depth, maxDepth, Math.max(1000, pollMs * 4));
    await sleep(Math.min(pollMs, left));
  }
}
