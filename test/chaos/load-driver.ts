import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** The three ways an event enters the pipeline. */
export type Entry = 'bullmq' | 'http' | 'stream';

/** What happened to one valid event the suite offered. */
export interface OfferedEvent {
  entry: Entry;
  offeredAt: number;
  /**
   * `accepted`: the entry point confirmed it (job added, HTTP 202, XADD id); it must reach Kafka.
   * `refused`: the entry point said no (e.g. 503 backpressure); it must not be counted as lost.
   * `uncertain`: no answer (timeout, connection error); it may or may not reach Kafka.
   */
  status: 'pending' | 'accepted' | 'refused' | 'uncertain';
  detail?: string;
  /**
   * The event's place in its source's enqueue order, where the driver knows it exactly: each
   * source is fed by one entry point only — BullMQ adds in the order their replies arrive on the
   * one queue connection, HTTP sources in request order (a source is only in requests that are
   * ~1 000 requests apart, so never in two at once) and array position, stream sources in the
   * order of their entries in their one stream (from the entry id: a client's retry through a
   * Redis failover can add them in another order than they were sent).
   */
  orderIndex?: number;
}

/** Options of {@link LoadDriver}. */
export interface LoadDriverOptions {
  runId: string;
  /** Valid events offered per second, over all entry points. */
  ratePerSec: number;
  /** A plain BullMQ queue (no defaults of this package), as an existing app would use. */
  plainQueue: Queue;
  httpUrl: string;
  httpAuth: string;
  /** Redis client for XADD to the data streams. */
  redis: Redis;
  streams: string[];
  /** Distinct sources (`chaos`/`repo-<n>`) the events rotate over. */
  sources: number;
  /** Requests in flight per entry point at most; beyond that the tick skips (counted). */
  maxInFlight: number;
  /** Payload padding, bytes. @defaultValue 200 */
  padBytes?: number;
}

const TICK_MS = 50;

/**
 * Offers valid events at a steady rate through all three entry points at once: 40 % as plain
 * BullMQ jobs, 30 % as `POST /v1/events` (single events and arrays), 30 % as data-stream entries.
 * Every event's fate at the entry point is recorded; the verifier checks the accepted ones
 * against Kafka.
 */
export class LoadDriver {
  readonly events = new Map<string, OfferedEvent>();
  /** Stream events sent without an id: the ingester derives `<stream>-<entryId>`. */
  readonly derivedIds = new Map<string, string>();
  skipped = 0;
  private seq = 0;
  private bullmqAccepted = 0;
  private httpGroups = 0;
  private timer?: NodeJS.Timeout;
  private startedAt = 0;
  private readonly inFlight = new Map<Entry, number>([
    ['bullmq', 0],
    ['http', 0],
    ['stream', 0],
  ]);
  private readonly pending = new Set<Promise<unknown>>();
  private readonly pad: string;

  constructor(private readonly o: LoadDriverOptions) {
    this.pad = 'p'.repeat(o.padBytes ?? 200);
  }

  start(): void {
    this.startedAt = Date.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stop offering and wait for every in-flight request to settle. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  counts(): Record<Entry, Record<OfferedEvent['status'], number>> {
    const out = {} as Record<Entry, Record<OfferedEvent['status'], number>>;
    for (const e of ['bullmq', 'http', 'stream'] as Entry[]) {
      out[e] = { pending: 0, accepted: 0, refused: 0, uncertain: 0 };
    }
    for (const ev of this.events.values()) out[ev.entry][ev.status] += 1;
    return out;
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private tick(): void {
    const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.o.ratePerSec) - this.seq;
    const batch: Record<Entry, Array<{ id: string; event: Record<string, unknown> }>> = {
      bullmq: [],
      http: [],
      stream: [],
    };
    for (let i = 0; i < due; i++) {
      const n = this.seq++;
      const slot = n % 10;
      const entry: Entry = slot < 4 ? 'bullmq' : slot < 7 ? 'http' : 'stream';
      const id = `ev-${this.o.runId}-${entry[0]}${n}`;
      const event: Record<string, unknown> = {
        id,
        type: n % 3 === 0 ? 'issue.opened' : 'push',
        sourceType: 'chaos',
        // Completed per entry point below (each source is fed by one entry point only).
        sourceId: `repo-${n % this.o.sources}`,
        occurredAt: new Date().toISOString(),
        payload: { chaos: this.o.runId, seq: n, entry, pad: this.pad },
        headers: { 'x-chaos-seq': String(n) },
      };
      batch[entry].push({ id, event });
    }
    this.sendBullmq(batch.bullmq);
    this.sendHttp(batch.http);
    this.sendStream(batch.stream);
  }

  private admit(entry: Entry, n: number): boolean {
    if ((this.inFlight.get(entry) ?? 0) + n > this.o.maxInFlight) {
      this.skipped += n;
      return false;
    }
    this.inFlight.set(entry, (this.inFlight.get(entry) ?? 0) + n);
    return true;
  }

  private release(entry: Entry, n: number): void {
    this.inFlight.set(entry, (this.inFlight.get(entry) ?? 0) - n);
  }

  private offer(id: string, entry: Entry): OfferedEvent {
    const ev: OfferedEvent = { entry, offeredAt: Date.now(), status: 'pending' };
    this.events.set(id, ev);
    return ev;
  }

  private sendBullmq(items: Array<{ id: string; event: Record<string, unknown> }>): void {
    for (const { id, event } of items) {
      if (!this.admit('bullmq', 1)) continue;
      const ev = this.offer(id, 'bullmq');
      event.sourceId = `b-${event.sourceId as string}`;
      // Half as an existing app would write it (no options at all), half with the event id as
      // the jobId (the documented idempotent form).
      const opts = Number(id.slice(id.lastIndexOf('b') + 1)) % 2 === 0 ? { jobId: id } : undefined;
      this.track(
        this.o.plainQueue
          .add('event', event, opts)
          .then(
            () => {
              ev.status = 'accepted';
              // Replies on the queue's one connection arrive in the order Redis ran the adds.
              ev.orderIndex = this.bullmqAccepted++;
            },
            (err: unknown) => {
              ev.status = 'uncertain';
              ev.detail = String(err);
            },
          )
          .finally(() => this.release('bullmq', 1)),
      );
    }
  }

  private sendHttp(items: Array<{ id: string; event: Record<string, unknown> }>): void {
    if (items.length === 0) return;
    // Three or more due in one tick go as one array; fewer as single events.
    const groups = items.length >= 3 ? [items] : items.map((i) => [i]);
    for (const group of groups) {
      if (!this.admit('http', group.length)) continue;
      const g = this.httpGroups++;
      const evs = group.map((item, i) => {
        item.event.sourceId = `h-${g % 1000}`;
        const ev = this.offer(item.id, 'http');
        ev.orderIndex = g * 1000 + i;
        return ev;
      });
      const body = JSON.stringify(group.length === 1 ? group[0]!.event : group.map((g) => g.event));
      this.track(
        fetch(this.o.httpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: this.o.httpAuth },
          body,
          signal: AbortSignal.timeout(15_000),
        })
          .then(async (res) => {
            const text = await res.text();
            if (res.status === 202) {
              const accepted = new Set(
                ((JSON.parse(text) as { accepted?: Array<{ id: string }> }).accepted ?? []).map(
                  (a) => a.id,
                ),
              );
              group.forEach((g, i) => {
                evs[i]!.status = accepted.has(g.id) ? 'accepted' : 'uncertain';
                if (!accepted.has(g.id))
                  evs[i]!.detail = `202 without this id: ${text.slice(0, 200)}`;
              });
              return;
            }
            for (const ev of evs) {
              ev.status = 'refused';
              ev.detail = `HTTP ${res.status}: ${text.slice(0, 200)}`;
            }
          })
          .catch((err: unknown) => {
            for (const ev of evs) {
              ev.status = 'uncertain';
              ev.detail = String(err);
            }
          })
          .finally(() => this.release('http', group.length)),
      );
    }
  }

  private sendStream(items: Array<{ id: string; event: Record<string, unknown> }>): void {
    if (items.length === 0 || !this.admit('stream', items.length)) return;
    // One XADD each, not a pipeline: on a Redis Cluster the streams live in different slots. On
    // one connection (per node) they still run in the order they are sent.
    const sends = items.map(({ id, event }) => {
      const n = Number(id.slice(id.lastIndexOf('s') + 1));
      const streamIndex = n % this.o.streams.length;
      const stream = this.o.streams[streamIndex]!;
      event.sourceId = `s${streamIndex}-${event.sourceId as string}`;
      // Every fourth stream event has no id: the ingester derives `<stream>-<entryId>`.
      const noId = n % 4 === 1;
      const body = noId ? { ...event, id: undefined } : event;
      const ev = this.offer(id, 'stream');
      return this.o.redis.xadd(stream, '*', 'event', JSON.stringify(body)).then(
        (entryId) => {
          if (typeof entryId !== 'string') {
            ev.status = 'uncertain';
            ev.detail = `XADD answered ${String(entryId)}`;
            return;
          }
          ev.status = 'accepted';
          ev.orderIndex = entryIdOrder(entryId);
          if (noId) this.derivedIds.set(id, `${stream}-${entryId}`);
        },
        (err: unknown) => {
          ev.status = 'uncertain';
          ev.detail = String(err);
        },
      );
    });
    this.track(Promise.all(sends).finally(() => this.release('stream', items.length)));
  }
}

/**
 * A stream entry id (`<ms>-<n>`) as a number in the stream's order (exact while fewer than 1 000
 * entries share a millisecond, far beyond the suite's rates).
 */
export function entryIdOrder(entryId: string): number {
  const [ms, n] = entryId.split('-');
  return Number(ms) * 1000 + Number(n ?? 0);
}
